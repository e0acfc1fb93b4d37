/// One Huffman table from a DHT segment, checked: the code lengths must fit (no overflowing code space).
struct JPEGHuffmanTable: Sendable {
    /// Number of codes of each length 1…16.
    let counts: [UInt8]
    /// Symbols in code order.
    let values: [UInt8]

    init(counts: [UInt8], values: [UInt8]) throws {
        var code = 0
        for length in 1...16 {
            code += Int(counts[length - 1])
            guard code <= 1 << length else {
                throw JPEGError(description: "Huffman table overflows: \(code) codes of length ≤ \(length) do not fit in \(length) bits")
            }
            code <<= 1
        }
        self.counts = counts
        self.values = values
    }

    var maxValue: Int { Int(values.max() ?? 0) }
}

/// A Huffman table laid out for decoding, in one block of Int32 owned by this object:
/// [0, 512) a 9-bit lookahead table, entry = length << 8 | symbol (0: longer code, take the slow path);
/// [512, 529) the largest code of each length (-1 when none); [529, 546) the offset from code to symbol index;
/// [546, 802) the symbols.
final class JPEGHuffmanLookup {
    static let lookBits = 9
    static let maxcodeBase = 512, offsetBase = 529, valuesBase = 546, size = 802
    let table: UnsafeMutablePointer<Int32>

    init(_ t: JPEGHuffmanTable) {
        table = .allocate(capacity: Self.size)
        table.initialize(repeating: 0, count: Self.size)
        var code = 0, k = 0
        for length in 1...16 {
            let n = Int(t.counts[length - 1])
            table[Self.offsetBase + length] = Int32(k - code)
            if n > 0 {
                for _ in 0..<n {
                    if length <= Self.lookBits {
                        let shift = Self.lookBits - length
                        let entry = Int32(length << 8) | Int32(t.values[k])
                        for e in (code << shift)..<((code + 1) << shift) { table[e] = entry }
                    }
                    code += 1
                    k += 1
                }
                table[Self.maxcodeBase + length] = Int32(code - 1)
            } else {
                table[Self.maxcodeBase + length] = -1
            }
            code <<= 1
        }
        for i in 0..<t.values.count { table[Self.valuesBase + i] = Int32(t.values[i]) }
    }

    deinit { table.deallocate() }
}

/// Reads the entropy-coded segment MSB first from a 64-bit buffer. Stuffed zero bytes are removed; at a
/// marker (or the end of the data) zero bytes are fed instead and counted, so that a decoder can tell
/// whether it consumed bits that were not in the stream (`overran`).
struct JPEGBitReader {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos: Int
    /// Unconsumed bits, left-aligned.
    var acc: UInt64 = 0
    var n = 0
    /// Zero bytes fed past a marker or the end of the data.
    var fed = 0

    init(base: UnsafePointer<UInt8>, end: Int, pos: Int) {
        self.base = base
        self.end = end
        self.pos = pos
    }

    /// True when bits beyond the real data were consumed: the stream is truncated or corrupt.
    var overran: Bool { fed * 8 > n }

    @inline(__always)
    mutating func fill() {
        while n <= 56 {
            var b: UInt64 = 0
            if pos < end {
                let c = base[pos]
                if c == 0xFF {
                    let next: UInt8 = pos + 1 < end ? base[pos + 1] : 0xD9
                    if next == 0 {
                        pos += 2
                        b = 0xFF
                    } else if next == 0xFF {
                        pos += 1  // fill byte before a marker
                        continue
                    } else {
                        fed += 1  // a marker: stay in front of it
                    }
                } else {
                    pos += 1
                    b = UInt64(c)
                }
            } else {
                fed += 1
            }
            acc |= b &<< UInt64(56 - n)
            n += 8
        }
    }

    /// Decodes one Huffman symbol; the caller guarantees at least 16 buffered bits.
    @inline(__always)
    mutating func decode(_ t: UnsafePointer<Int32>) throws(JPEGError) -> Int {
        let e = t[Int(truncatingIfNeeded: acc &>> 55)]
        if e != 0 {
            let l = Int(e &>> 8)
            acc = acc &<< UInt64(l)
            n -= l
            return Int(e & 0xFF)
        }
        return try decodeSlow(t)
    }

    @inline(never)
    mutating func decodeSlow(_ t: UnsafePointer<Int32>) throws(JPEGError) -> Int {
        for l in (JPEGHuffmanLookup.lookBits + 1)...16 {
            let code = Int32(truncatingIfNeeded: acc &>> UInt64(64 - l))
            if code <= t[JPEGHuffmanLookup.maxcodeBase + l] {
                let index = Int(code + t[JPEGHuffmanLookup.offsetBase + l])
                guard index >= 0 && index < 256 else { break }
                acc = acc &<< UInt64(l)
                n -= l
                return Int(t[JPEGHuffmanLookup.valuesBase + index])
            }
        }
        throw JPEGError(description: "invalid Huffman code")
    }

    /// `s` raw bits (0…16); the caller guarantees they are buffered.
    @inline(__always)
    mutating func bits(_ s: Int) -> Int {
        let v = Int(truncatingIfNeeded: (acc &>> 1) &>> UInt64(63 - s))
        acc = acc &<< UInt64(s)
        n -= s
        return v
    }

    /// RECEIVE and EXTEND (T.81 F.2.2.1): `s` bits as a signed difference.
    @inline(__always)
    mutating func receiveExtend(_ s: Int) -> Int {
        let v = bits(s)
        return v < (1 &<< (s &- 1)) ? v &- (1 &<< s) &+ 1 : v
    }

    /// Drops the padding bits of the current byte and reads the RSTn marker that must follow.
    mutating func restart(expecting k: Int) throws(JPEGError) {
        acc = 0
        n = 0
        fed = 0
        // Skip to the marker (libjpeg resynchronises past garbage the same way).
        while pos < end && base[pos] != 0xFF { pos += 1 }
        while pos < end && base[pos] == 0xFF { pos += 1 }
        guard pos < end else { throw JPEGError(description: "data ends where restart marker RST\(k) was expected") }
        let m = base[pos]
        guard (0xD0...0xD7).contains(m) else {
            throw JPEGError(description: "marker FF\(hex(m)) where restart marker RST\(k) was expected")
        }
        pos += 1
    }
}
