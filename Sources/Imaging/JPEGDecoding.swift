import CImageCodecs
import Foundation

/// JPEG through the C shim with libjpeg's default decoding (islow IDCT, fancy upsampling), as Pillow uses it:
/// 1 component gives gray, 3 give RGB (YCbCr converted by libjpeg), 4 give CMYK (YCCK converted by libjpeg).
enum JPEGDecoding {
    static func decode(_ bytes: UnsafeRawBufferPointer, source: String) throws -> DecodedImage {
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var message = [CChar](repeating: 0, count: 512)
        var info = cic_jpeg_info()
        guard cic_jpeg_read_info(base, bytes.count, &info, &message, message.count) == CIC_OK else {
            throw classify(ImageDecoder.message(message), source: source)
        }
        let width = Int(info.width), height = Int(info.height)
        try ImageDecoder.checkSize(width: width, height: height, source: source)
        let colorModel: DecodedImage.ColorModel
        switch info.out_channels {
        case 1: colorModel = .gray
        case 3: colorModel = .rgb
        case 4: colorModel = .cmyk
        default:
            throw ImagingError.unsupported(source: source, format: "JPEG", feature: "\(info.components) colour components")
        }
        var values = [UInt8](repeating: 0, count: width * height * colorModel.channels)
        let status = values.withUnsafeMutableBytes { out in
            cic_jpeg_decode(base, bytes.count, out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count,
                            &info, &message, message.count)
        }
        guard status == CIC_OK else {
            throw classify(ImageDecoder.message(message), source: source)
        }
        if colorModel == .cmyk {
            // Pillow reads every CMYK JPEG as Adobe-inverted ("CMYK;I") and flips it to ink amounts.
            values.withUnsafeMutableBufferPointer { v in
                for i in v.indices { v[i] = 255 &- v[i] }
            }
        }
        return try DecodedImage(width: width, height: height, colorModel: colorModel, samples: .uint8(values),
                                format: .jpeg, sourceBitDepth: Int(info.data_precision),
                                isInterlaced: info.progressive != 0)
    }

    /// libjpeg's messages for what it cannot do are not corruption.
    private static func classify(_ message: String, source: String) -> ImagingError {
        let unsupportedHints = ["Unsupported JPEG data precision", "Unsupported JPEG process", "Bogus color conversion",
                                "Unsupported color conversion", "Maximum supported image dimension"]
        if unsupportedHints.contains(where: message.contains) {
            return .unsupported(source: source, format: "JPEG", feature: message)
        }
        if message.contains("Empty JPEG image") {
            return .emptyImage(source: source, width: 0, height: 0)
        }
        return .corrupt(source: source, format: "JPEG", reason: message)
    }
}
