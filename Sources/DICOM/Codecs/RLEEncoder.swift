/// DICOM RLE Lossless encoding (PS3.5 Annex G): each frame is split into byte planes (most significant
/// byte of each sample first), each plane is PackBits-compressed row by row into its own segment, and a
/// 64-byte header lists the segment offsets.
public enum RLEEncoder {
    /// Encodes one frame of native little-endian samples (`bytesPerSample` 1, 2 or 4, interleaved when
    /// `samplesPerPixel` > 1, as in native Pixel Data with Planar Configuration 0).
    public static func encode(frame: [UInt8], rows: Int, columns: Int, bytesPerSample: Int,
                              samplesPerPixel: Int = 1) throws -> [UInt8] {
        guard rows > 0, columns > 0, [1, 2, 4].contains(bytesPerSample), [1, 3, 4].contains(samplesPerPixel) else {
            throw DICOMWriterError.pixelData(reason: "RLE: unsupported layout \(rows)×\(columns), \(bytesPerSample) bytes × \(samplesPerPixel) samples")
        }
        let segments = bytesPerSample * samplesPerPixel
        guard segments <= 15 else { throw DICOMWriterError.pixelData(reason: "RLE: \(segments) segments exceed 15") }
        let pixels = rows * columns
        guard frame.count == pixels * segments else {
            throw DICOMWriterError.pixelData(reason: "RLE: frame holds \(frame.count) bytes, expected \(pixels * segments)")
        }
        var out = [UInt8](repeating: 0, count: 64)
        out.reserveCapacity(64 + frame.count / 2)
        var offsets: [UInt32] = []
        var row = [UInt8](repeating: 0, count: columns)
        frame.withUnsafeBufferPointer { src in
            for s in 0..<samplesPerPixel {
                for b in stride(from: bytesPerSample - 1, through: 0, by: -1) {
                    offsets.append(UInt32(out.count))
                    let stride = segments
                    let first = s * bytesPerSample + b
                    for r in 0..<rows {
                        var p = r * columns * stride + first
                        for c in 0..<columns { row[c] = src[p]; p += stride }
                        packBits(row, into: &out)
                    }
                    if out.count % 2 == 1 { out.append(0) }
                }
            }
        }
        func putLE(_ v: UInt32, at i: Int) {
            out[i] = UInt8(v & 0xFF); out[i + 1] = UInt8(v >> 8 & 0xFF)
            out[i + 2] = UInt8(v >> 16 & 0xFF); out[i + 3] = UInt8(v >> 24)
        }
        putLE(UInt32(segments), at: 0)
        for (i, o) in offsets.enumerated() { putLE(o, at: 4 + 4 * i) }
        return out
    }

    /// Encodes frames of 16-bit unsigned samples.
    public static func encode(frame: [UInt16], rows: Int, columns: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: frame.count * 2)
        for i in 0..<frame.count { bytes[2 * i] = UInt8(frame[i] & 0xFF); bytes[2 * i + 1] = UInt8(frame[i] >> 8) }
        return try encode(frame: bytes, rows: rows, columns: columns, bytesPerSample: 2)
    }

    /// PackBits: a header n in 0…127 copies the next n+1 bytes; n in −127…−1 repeats the next byte 1−n times.
    static func packBits(_ row: [UInt8], into out: inout [UInt8]) {
        let n = row.count
        var i = 0
        while i < n {
            var run = 1
            while i + run < n && run < 128 && row[i + run] == row[i] { run += 1 }
            if run >= 2 {
                out.append(UInt8(bitPattern: Int8(1 - run)))
                out.append(row[i])
                i += run
                continue
            }
            // A literal stretch ends where a run of three or more begins (a run of two costs as much inline).
            let start = i
            while i < n && i - start < 128 {
                if i + 2 < n && row[i] == row[i + 1] && row[i] == row[i + 2] { break }
                i += 1
            }
            out.append(UInt8(i - start - 1))
            out.append(contentsOf: row[start..<i])
        }
    }
}
