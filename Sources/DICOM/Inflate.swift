import CDICOMCodecs

/// A raw DEFLATE (RFC 1951) decompressor, for the deflated explicit VR little endian transfer syntax.
/// Every read is bounds-checked and the output is capped, so a hostile stream cannot crash or exhaust memory.
public enum Inflate {
    public enum Failure: Error, Equatable, CustomStringConvertible, Sendable {
        case truncated
        case invalidBlockType
        case storedLengthMismatch
        case invalidCode(String)
        case distanceTooFar
        case outputTooLarge(limit: Int)
        case invalidStream(String)

        public var description: String {
            switch self {
            case .truncated: return "stream ends early"
            case .invalidBlockType: return "invalid block type 3"
            case .storedLengthMismatch: return "stored block length does not match its complement"
            case let .invalidCode(s): return "invalid Huffman code: \(s)"
            case .distanceTooFar: return "back-reference before start of output"
            case let .outputTooLarge(l): return "output exceeds \(l) bytes"
            case let .invalidStream(s): return s
            }
        }
    }

    /// Inflates a raw DEFLATE stream through zlib (no zlib or gzip header). Trailing bytes after the final
    /// block are ignored; more than `maxOutput` bytes of output is an error.
    public static func inflateZlib(_ input: [UInt8], maxOutput: Int) throws(Failure) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var count = 0
        var message = [CChar](repeating: 0, count: 256)
        let rc = input.withUnsafeBufferPointer { inp in
            cdc_inflate_raw(inp.baseAddress, inp.count, max(0, maxOutput), &out, &count, &message, message.count)
        }
        switch rc {
        case CDC_OK:
            guard let out else { return [] }
            defer { cdc_inflate_free(out) }
            return Array(UnsafeBufferPointer(start: out, count: count))
        case CDC_INFLATE_TRUNCATED: throw .truncated
        case CDC_INFLATE_TOO_LARGE: throw .outputTooLarge(limit: maxOutput)
        default: throw .invalidStream(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// Inflates a raw DEFLATE stream (no zlib or gzip header). Trailing bytes after the final block are ignored.
    public static func inflate(_ input: [UInt8], maxOutput: Int) throws(Failure) -> [UInt8] {
        var s = State(input: input, maxOutput: maxOutput)
        try s.run()
        return s.out
    }

    /// Canonical Huffman decoding table: counts per length and symbols sorted by code.
    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []

        init(lengths: [Int]) throws(Failure) {
            for l in lengths { counts[l] += 1 }
            counts[0] = 0
            var left = 1
            for len in 1..<16 {
                left <<= 1
                left -= counts[len]
                if left < 0 { throw .invalidCode("over-subscribed code lengths") }
            }
            var offs = [Int](repeating: 0, count: 16)
            for len in 1..<15 { offs[len + 1] = offs[len] + counts[len] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (sym, l) in lengths.enumerated() where l != 0 {
                symbols[offs[l]] = sym
                offs[l] += 1
            }
        }
    }

    struct State {
        let input: [UInt8]
        let maxOutput: Int
        var pos = 0
        var bitBuf: UInt32 = 0
        var bitCount = 0
        var out: [UInt8] = []

        init(input: [UInt8], maxOutput: Int) {
            self.input = input
            self.maxOutput = maxOutput
        }

        mutating func bits(_ n: Int) throws(Failure) -> Int {
            while bitCount < n {
                guard pos < input.count else { throw .truncated }
                bitBuf |= UInt32(input[pos]) << UInt32(bitCount)
                pos += 1
                bitCount += 8
            }
            let v = Int(bitBuf & ((1 << UInt32(n)) - 1))
            bitBuf >>= UInt32(n)
            bitCount -= n
            return v
        }

        mutating func decode(_ h: Huffman) throws(Failure) -> Int {
            var code = 0, first = 0, index = 0
            for len in 1..<16 {
                code |= try bits(1)
                let count = h.counts[len]
                if code - count < first { return h.symbols[index + (code - first)] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw .invalidCode("no symbol for code")
        }

        mutating func emit(_ b: UInt8) throws(Failure) {
            guard out.count < maxOutput else { throw .outputTooLarge(limit: maxOutput) }
            out.append(b)
        }

        mutating func run() throws(Failure) {
            var last = 0
            repeat {
                last = try bits(1)
                let type = try bits(2)
                switch type {
                case 0: try stored()
                case 1: try codes(State.fixedLit, State.fixedDist)
                case 2:
                    let (lit, dist) = try dynamicTables()
                    try codes(lit, dist)
                default: throw .invalidBlockType
                }
            } while last == 0
        }

        mutating func stored() throws(Failure) {
            bitBuf = 0
            bitCount = 0
            guard input.count - pos >= 4 else { throw .truncated }
            let len = Int(input[pos]) | Int(input[pos + 1]) << 8
            let nlen = Int(input[pos + 2]) | Int(input[pos + 3]) << 8
            pos += 4
            guard len == (~nlen & 0xFFFF) else { throw .storedLengthMismatch }
            guard input.count - pos >= len else { throw .truncated }
            guard maxOutput - out.count >= len else { throw .outputTooLarge(limit: maxOutput) }
            out.append(contentsOf: input[pos..<pos + len])
            pos += len
        }

        static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        static let distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                               4097, 6145, 8193, 12289, 16385, 24577]
        static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

        static let fixedLit: Huffman = {
            var l = [Int](repeating: 8, count: 288)
            for i in 144..<256 { l[i] = 9 }
            for i in 256..<280 { l[i] = 7 }
            // Cannot fire: RFC 1951's fixed code lengths form a complete code (every inflate test uses them).
            return try! Huffman(lengths: l)
        }()
        // Cannot fire: 30 codes of 5 bits are a valid (incomplete, as RFC 1951 allows for distances) code.
        static let fixedDist: Huffman = try! Huffman(lengths: [Int](repeating: 5, count: 30))

        mutating func codes(_ lit: Huffman, _ dist: Huffman) throws(Failure) {
            while true {
                let sym = try decode(lit)
                if sym < 256 {
                    try emit(UInt8(sym))
                } else if sym == 256 {
                    return
                } else {
                    let li = sym - 257
                    guard li < 29 else { throw .invalidCode("length symbol \(sym)") }
                    let len = State.lengthBase[li] + (try bits(State.lengthExtra[li]))
                    let ds = try decode(dist)
                    guard ds < 30 else { throw .invalidCode("distance symbol \(ds)") }
                    let d = State.distBase[ds] + (try bits(State.distExtra[ds]))
                    guard d <= out.count else { throw .distanceTooFar }
                    guard maxOutput - out.count >= len else { throw .outputTooLarge(limit: maxOutput) }
                    let from = out.count - d
                    for k in 0..<len { out.append(out[from + k]) }
                }
            }
        }

        mutating func dynamicTables() throws(Failure) -> (Huffman, Huffman) {
            let nlen = try bits(5) + 257
            let ndist = try bits(5) + 1
            let ncode = try bits(4) + 4
            guard nlen <= 286, ndist <= 30 else { throw .invalidCode("too many length or distance codes") }
            let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
            var cl = [Int](repeating: 0, count: 19)
            for i in 0..<ncode { cl[order[i]] = try bits(3) }
            let clh = try Huffman(lengths: cl)
            var lengths: [Int] = []
            lengths.reserveCapacity(nlen + ndist)
            while lengths.count < nlen + ndist {
                let sym = try decode(clh)
                if sym < 16 {
                    lengths.append(sym)
                } else {
                    var rep = 0, val = 0
                    if sym == 16 {
                        guard let prev = lengths.last else { throw .invalidCode("repeat with no previous length") }
                        val = prev
                        rep = 3 + (try bits(2))
                    } else if sym == 17 {
                        rep = 3 + (try bits(3))
                    } else {
                        rep = 11 + (try bits(7))
                    }
                    guard lengths.count + rep <= nlen + ndist else { throw .invalidCode("too many code lengths") }
                    lengths.append(contentsOf: repeatElement(val, count: rep))
                }
            }
            guard lengths[256] != 0 else { throw .invalidCode("no end-of-block code") }
            let lit = try Huffman(lengths: Array(lengths[0..<nlen]))
            let dist = try Huffman(lengths: Array(lengths[nlen...]))
            return (lit, dist)
        }
    }
}
