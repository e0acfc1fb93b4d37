/// DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, then one PackBits segment
/// per byte plane, most significant byte of each sample first, sample planes in order.
enum RLEDecoder {
    /// Decodes one frame into raw sample values (bit patterns), one plane per sample (planar configuration 1,
    /// which is how RLE always stores samples whatever the dataset says). Built as Int32 bit patterns, what
    /// `CodecImage` takes, so no second frame-sized copy is made.
    static func decode(_ src: [UInt8], rows: Int, columns: Int, samplesPerPixel: Int, bitsAllocated: Int,
                       source: String) throws -> [Int32] {
        func fail(_ reason: String) -> DICOMError { .pixelData(file: source, reason: "RLE: " + reason) }
        guard bitsAllocated % 8 == 0, (1...4).contains(bitsAllocated / 8) else {
            throw fail("Bits Allocated \(bitsAllocated) is not 8, 16, 24 or 32")
        }
        let bytesPerSample = bitsAllocated / 8
        let pixels = rows * columns
        guard src.count >= 64 else { throw fail("frame of \(src.count) bytes is shorter than the 64-byte header") }
        func u32(_ i: Int) -> Int {
            Int(UInt32(src[i]) | UInt32(src[i + 1]) << 8 | UInt32(src[i + 2]) << 16 | UInt32(src[i + 3]) << 24)
        }
        let segmentCount = u32(0)
        let expected = samplesPerPixel * bytesPerSample
        guard segmentCount == expected else {
            throw fail("header declares \(segmentCount) segments but \(samplesPerPixel) samples × \(bytesPerSample) bytes need \(expected)")
        }
        var offsets = (0..<segmentCount).map { u32(4 + 4 * $0) }
        offsets.append(src.count)
        guard offsets[0] == 64 else { throw fail("first segment offset \(offsets[0]) is not 64") }
        for i in 0..<segmentCount where offsets[i] > offsets[i + 1] {
            throw fail("segment \(i) offset \(offsets[i]) is past the next segment's \(offsets[i + 1]) or the frame end")
        }

        // PackBits expands two input bytes to at most 128 output bytes: refuse segments that cannot fill a plane
        // before allocating anything the size of the frame.
        for s in 0..<segmentCount where (offsets[s + 1] - offsets[s]) * 64 < pixels {
            throw fail("segment \(s) of \(offsets[s + 1] - offsets[s]) bytes cannot decode to \(pixels) bytes")
        }
        var raw = [Int32](repeating: 0, count: pixels * samplesPerPixel)
        var plane = [UInt8](repeating: 0, count: pixels)
        for s in 0..<segmentCount {
            let produced = src.withUnsafeBufferPointer { input in
                plane.withUnsafeMutableBufferPointer { out in
                    packBits(input, from: offsets[s], to: offsets[s + 1], into: out)
                }
            }
            guard produced >= pixels else {
                throw fail("segment \(s) decodes to \(produced) bytes, \(pixels) expected")
            }
            let sample = s / bytesPerSample
            let shift = UInt32(8 * (bytesPerSample - 1 - s % bytesPerSample))
            raw.withUnsafeMutableBufferPointer { r in
                plane.withUnsafeBufferPointer { p in
                    let base = sample * pixels
                    for i in 0..<pixels { r[base + i] |= Int32(bitPattern: UInt32(p[i]) << shift) }
                }
            }
        }
        return raw
    }

    /// PackBits: a header byte n in 0…127 copies the next n+1 bytes, n in -127…-1 repeats the next byte 1-n
    /// times, -128 does nothing. Stops at the end of the input or when `out` is full; returns the number of
    /// bytes written, with extra output (non-conformant padding) dropped as pydicom does.
    static func packBits(_ input: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                         into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var i = start
        var o = 0
        let capacity = out.count
        while i < end && o < capacity {
            let n = Int(Int8(bitPattern: input[i]))
            i += 1
            if n >= 0 {
                let count = min(n + 1, end - i, capacity - o)
                for k in 0..<count { out[o + k] = input[i + k] }
                // A literal run cut short by the segment end still counts what it had.
                if n + 1 > end - i { return o + count }
                i += n + 1
                o += count
            } else if n != -128 {
                guard i < end else { break }
                let count = min(1 - n, capacity - o)
                let v = input[i]
                for k in 0..<count { out[o + k] = v }
                i += 1
                o += count
            }
        }
        return o
    }
}
