import CImageCodecs
import Foundation

/// PNG through the C shim: header first (size checked), then the samples into a buffer of exactly that size.
enum PNGDecoding {
    static func decode(_ bytes: UnsafeRawBufferPointer, source: String) throws -> DecodedImage {
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var message = [CChar](repeating: 0, count: 512)
        var info = cic_png_info()
        guard cic_png_read_info(base, bytes.count, &info, &message, message.count) == CIC_OK else {
            throw ImagingError.corrupt(source: source, format: "PNG", reason: ImageDecoder.message(message))
        }
        let width = Int(info.width), height = Int(info.height)
        try ImageDecoder.checkSize(width: width, height: height, source: source)
        let colorModel: DecodedImage.ColorModel
        switch info.color_type {
        case 0: colorModel = .gray
        case 2: colorModel = .rgb
        case 3: colorModel = info.has_trns != 0 ? .rgba : .rgb
        case 4: colorModel = .grayAlpha
        case 6: colorModel = .rgba
        default:
            throw ImagingError.unsupported(source: source, format: "PNG", feature: "colour type \(info.color_type)")
        }
        guard Int(info.channels) == colorModel.channels else {
            throw ImagingError.corrupt(source: source, format: "PNG", reason: "inconsistent channel count")
        }
        let count = width * height * colorModel.channels

        func run(_ out: UnsafeMutableRawBufferPointer) -> Int32 {
            cic_png_decode(base, bytes.count, out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count,
                           &info, &message, message.count)
        }
        let samples: DecodedImage.Samples
        if info.out_bit_depth == 16 {
            var values = [UInt16](repeating: 0, count: count)
            let status = values.withUnsafeMutableBytes(run)
            guard status == CIC_OK else {
                throw ImagingError.corrupt(source: source, format: "PNG", reason: ImageDecoder.message(message))
            }
            samples = .uint16(values)
        } else {
            var values = [UInt8](repeating: 0, count: count)
            let status = values.withUnsafeMutableBytes(run)
            guard status == CIC_OK else {
                throw ImagingError.corrupt(source: source, format: "PNG", reason: ImageDecoder.message(message))
            }
            samples = .uint8(values)
        }
        var key: [UInt16]?
        if info.has_trns != 0 {
            if info.color_type == 0 {
                key = [info.trns_color.0]
            } else if info.color_type == 2 {
                key = [info.trns_color.0, info.trns_color.1, info.trns_color.2]
            }
        }
        return try DecodedImage(width: width, height: height, colorModel: colorModel, samples: samples, format: .png,
                                sourceBitDepth: Int(info.bit_depth), isPalette: info.color_type == 3,
                                transparentColor: key, isInterlaced: info.interlaced != 0)
    }
}
