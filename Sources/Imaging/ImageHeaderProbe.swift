import Foundation

/// The format and pixel size read from the first bytes of a file, so that empty and oversized images are refused
/// before a codec runs or any pixel memory is allocated.
struct ImageHeaderProbe {
    let format: DecodedImage.Format
    /// nil when the header ends before the size (the codec then reports the truncation).
    let width: Int?
    let height: Int?

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Sniffs by magic bytes, never by file name.
    static func probe(_ bytes: UnsafeRawBufferPointer, source: String) throws -> ImageHeaderProbe {
        let format = format(of: bytes)
        if format == .png { return probePNG(bytes) }
        if format == .jpeg { return probeJPEG(bytes) }
        throw ImagingError.notAnImage(source: source, detail: describeUnknown(bytes))
    }

    /// PNG or JPEG by their signatures (8 and 3 bytes), nil for anything else.
    static func format(of bytes: UnsafeRawBufferPointer) -> DecodedImage.Format? {
        if bytes.count >= 8, zip(bytes.prefix(8), pngSignature).allSatisfy({ $0 == $1 }) { return .png }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        return nil
    }

    /// PNG: the IHDR chunk must come first; width and height are its first two big-endian words.
    private static func probePNG(_ b: UnsafeRawBufferPointer) -> ImageHeaderProbe {
        guard b.count >= 24, b[12] == 0x49, b[13] == 0x48, b[14] == 0x44, b[15] == 0x52 else {
            return ImageHeaderProbe(format: .png, width: nil, height: nil)
        }
        return ImageHeaderProbe(format: .png, width: Int(bigEndian32(b, 16)), height: Int(bigEndian32(b, 20)))
    }

    /// JPEG: walks the marker segments up to the first start-of-frame (SOF0...SOF15 other than DHT, JPG, DAC).
    private static func probeJPEG(_ b: UnsafeRawBufferPointer) -> ImageHeaderProbe {
        var i = 2
        while i + 1 < b.count {
            guard b[i] == 0xFF else { break }
            var marker = b[i + 1]
            i += 2
            while marker == 0xFF, i < b.count {  // fill bytes
                marker = b[i]
                i += 1
            }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { continue }  // no length
            if marker == 0xD9 || marker == 0xDA { break }  // EOI or SOS before any frame header
            guard i + 1 < b.count else { break }
            let length = Int(b[i]) << 8 | Int(b[i + 1])
            if (0xC0...0xCF).contains(marker), marker != 0xC4, marker != 0xC8, marker != 0xCC {
                guard i + 6 < b.count else { break }
                let height = Int(b[i + 3]) << 8 | Int(b[i + 4])
                let width = Int(b[i + 5]) << 8 | Int(b[i + 6])
                return ImageHeaderProbe(format: .jpeg, width: width, height: height)
            }
            guard length >= 2 else { break }
            i += length
        }
        return ImageHeaderProbe(format: .jpeg, width: nil, height: nil)
    }

    private static func bigEndian32(_ b: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(b[offset]) << 24 | UInt32(b[offset + 1]) << 16 | UInt32(b[offset + 2]) << 8 | UInt32(b[offset + 3])
    }

    /// Names a few formats people hand to an image tool by mistake; otherwise shows the first bytes.
    private static func describeUnknown(_ b: UnsafeRawBufferPointer) -> String {
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + prefix.count && zip(b[offset..<(offset + prefix.count)], prefix).allSatisfy { $0 == $1 }
        }
        if b.isEmpty { return "the data is empty" }
        if starts(Array("DICM".utf8), at: 128) { return "a DICOM file" }
        if starts(Array("GIF8".utf8)) { return "a GIF file" }
        if starts([0x42, 0x4D]) { return "a BMP file" }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return "a TIFF file" }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return "a WebP file" }
        let head = b.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        return "first bytes \(head)"
    }
}
