/// JPEG Lossless encoding, process 14 with selection value 1 (ITU T.81 Annex H): one component, first-order
/// prediction from the left neighbour (from above on the first column, 2^(P−1) for the first sample), and a
/// Huffman table optimised for each frame (T.81 Annex K.2).
public enum JPEGLosslessEncoder {
    /// Encodes one single-component frame of unsigned samples below 2^precision (precision 2…16).
    /// The result has even length (padded with a zero byte after EOI when needed).
    public static func encode(frame: [UInt16], rows: Int, columns: Int, precision: Int) throws -> [UInt8] {
        guard (2...16).contains(precision) else {
            throw DICOMWriterError.pixelData(reason: "JPEG Lossless: precision \(precision) outside 2…16")
        }
        guard rows > 0, columns > 0, rows <= 65535, columns <= 65535, frame.count == rows * columns else {
            throw DICOMWriterError.pixelData(reason: "JPEG Lossless: \(frame.count) samples for \(rows)×\(columns)")
        }
        let limit = 1 << precision
        // Differences modulo 2^16, mapped to −32767…32768 (T.81 H.1.2.1).
        var diffs = [Int32](repeating: 0, count: frame.count)
        var freq = [Int](repeating: 0, count: 17)
        var tooLarge: Int?
        frame.withUnsafeBufferPointer { x in
            diffs.withUnsafeMutableBufferPointer { d in
                for r in 0..<rows {
                    let base = r * columns
                    for c in 0..<columns {
                        let i = base + c
                        let v = Int(x[i])
                        if v >= limit, tooLarge == nil { tooLarge = v }
                        let pred: Int
                        if c > 0 { pred = Int(x[i - 1]) } else if r > 0 { pred = Int(x[i - columns]) } else { pred = 1 << (precision - 1) }
                        var diff = (v - pred) & 0xFFFF
                        if diff > 32768 { diff -= 65536 }
                        d[i] = Int32(diff)
                        freq[category(diff)] += 1
                    }
                }
            }
        }
        if let v = tooLarge {
            throw DICOMWriterError.pixelData(reason: "JPEG Lossless: sample \(v) does not fit precision \(precision)")
        }
        let table = HuffmanTable(frequencies: freq)
        var out: [UInt8] = []
        out.reserveCapacity(frame.count + 256)
        func u16(_ v: Int) { out.append(UInt8(v >> 8 & 0xFF)); out.append(UInt8(v & 0xFF)) }
        out += [0xFF, 0xD8]
        // SOF3: lossless, Huffman; one component with id 1, sampling 1×1, no quantisation table.
        out += [0xFF, 0xC3]; u16(11); out.append(UInt8(precision)); u16(rows); u16(columns)
        out += [1, 1, 0x11, 0]
        // DHT: DC class table 0.
        out += [0xFF, 0xC4]; u16(2 + 1 + 16 + table.values.count); out.append(0x00)
        out += table.bits.map(UInt8.init); out += table.values.map(UInt8.init)
        // SOS: component 1 with table 0, Ss = predictor 1, Se = 0, Ah = 0, Al = point transform 0.
        out += [0xFF, 0xDA]; u16(8); out += [1, 1, 0x00, 1, 0, 0x00]
        var writer = BitWriter(out: out)
        diffs.withUnsafeBufferPointer { d in
            for diff in d {
                let s = category(Int(diff))
                writer.write(table.codes[s], count: table.lengths[s])
                if s > 0 && s < 16 {
                    let extra = diff > 0 ? Int(diff) : Int(diff) - 1
                    writer.write(UInt32(extra & ((1 << s) - 1)), count: s)
                }
            }
        }
        writer.flush()
        out = writer.out
        out += [0xFF, 0xD9]
        if out.count % 2 == 1 { out.append(0) }
        return out
    }

    /// SSSS: the number of bits of |diff| (16 for 32768).
    @inline(__always) static func category(_ diff: Int) -> Int {
        let m = diff < 0 ? -diff : diff
        return m == 0 ? 0 : (Int.bitWidth - m.leadingZeroBitCount)
    }

    /// Code lengths from symbol frequencies (Huffman, limited to 16 bits, no all-ones code), then
    /// canonical codes in the order the DHT segment lists them.
    struct HuffmanTable {
        var bits = [Int](repeating: 0, count: 16)   // BITS[1…16]
        var values: [Int] = []                       // HUFFVAL
        var codes = [UInt32](repeating: 0, count: 17)
        var lengths = [Int](repeating: 0, count: 17)

        init(frequencies: [Int]) {
            // One reserved symbol with frequency 1 keeps any real symbol from getting the all-ones code.
            let n = frequencies.count + 1
            var freq = frequencies + [1]
            var size = [Int](repeating: 0, count: n)
            var next = [Int](repeating: -1, count: n)
            while true {
                var v1 = -1, v2 = -1
                for i in 0..<n where freq[i] > 0 {
                    if v1 < 0 || freq[i] <= freq[v1] { v1 = i }
                }
                for i in 0..<n where freq[i] > 0 && i != v1 {
                    if v2 < 0 || freq[i] <= freq[v2] { v2 = i }
                }
                if v2 < 0 { break }
                freq[v1] += freq[v2]
                freq[v2] = 0
                var a = v1
                size[a] += 1
                while next[a] >= 0 { a = next[a]; size[a] += 1 }
                next[a] = v2
                var b = v2
                size[b] += 1
                while next[b] >= 0 { b = next[b]; size[b] += 1 }
            }
            var count = [Int](repeating: 0, count: 64)
            for s in size where s > 0 { count[s] += 1 }
            // Limit lengths to 16 (T.81 K.2): move pairs of deep leaves up, splitting a shallower leaf.
            var i = 63
            while i > 16 {
                while count[i] > 0 {
                    var j = i - 2
                    while count[j] == 0 { j -= 1 }
                    count[i] -= 2
                    count[i - 1] += 1
                    count[j + 1] += 2
                    count[j] -= 1
                }
                i -= 1
            }
            // Drop the reserved symbol from the longest length.
            i = 16
            while count[i] == 0 { i -= 1 }
            count[i] -= 1
            for l in 1...16 { bits[l - 1] = count[l] }
            // Symbols by increasing original code length (then by value), reserved one excluded.
            let real = (0..<frequencies.count).filter { size[$0] > 0 }
            values = real.sorted { size[$0] != size[$1] ? size[$0] < size[$1] : $0 < $1 }
            var code: UInt32 = 0
            var k = 0
            for l in 1...16 {
                for _ in 0..<bits[l - 1] {
                    codes[values[k]] = code
                    lengths[values[k]] = l
                    code += 1
                    k += 1
                }
                code <<= 1
            }
        }
    }

    /// Appends bits most significant first, stuffing a zero byte after each 0xFF.
    struct BitWriter {
        var out: [UInt8]
        var acc: UInt64 = 0
        var used = 0

        @inline(__always) mutating func write(_ value: UInt32, count: Int) {
            guard count > 0 else { return }
            acc = acc << UInt64(count) | UInt64(value & UInt32((1 << count) - 1))
            used += count
            while used >= 8 {
                used -= 8
                let byte = UInt8(truncatingIfNeeded: acc >> UInt64(used))
                out.append(byte)
                if byte == 0xFF { out.append(0) }
            }
            acc &= (1 << UInt64(used)) - 1
        }

        /// Pads the last byte with one bits.
        mutating func flush() {
            if used > 0 { write(UInt32((1 << (8 - used)) - 1), count: 8 - used) }
        }
    }
}
