import Foundation

/// Pixels as stored in an image file, before any colour conversion: 16-bit data stays 16-bit.
///
/// Samples are interleaved, rows top to bottom. What each colour model holds:
/// - `gray`, `grayAlpha`, `rgb`, `rgba`: the file's samples. 1/2/4-bit gray is scaled to 0...255 (x255, x85,
///   x17) as libpng and Pillow do; palette images are expanded to `rgb`, or `rgba` when a tRNS chunk gives the
///   entries alpha (`isPalette` says so). An index past the palette reads as black, as in Pillow.
/// - `cmyk` (JPEG): ink amounts as Pillow presents them, 255 = full ink. Pillow assumes Adobe's inverted storage
///   for every CMYK JPEG and flips it back; so do we.
public struct DecodedImage: Sendable, Equatable {
    public enum Format: String, Sendable {
        case png = "PNG"
        case jpeg = "JPEG"
        /// Built in memory rather than decoded from a file.
        case raw
    }

    public enum ColorModel: String, Sendable {
        case gray, grayAlpha, rgb, rgba, cmyk

        public var channels: Int {
            switch self {
            case .gray: return 1
            case .grayAlpha: return 2
            case .rgb: return 3
            case .rgba, .cmyk: return 4
            }
        }
    }

    public enum Samples: Sendable, Equatable {
        case uint8([UInt8])
        case uint16([UInt16])

        public var count: Int {
            switch self {
            case .uint8(let a): return a.count
            case .uint16(let a): return a.count
            }
        }
    }

    public let width: Int
    public let height: Int
    /// Samples per pixel, 1...4 (see `colorModel`).
    public let channels: Int
    /// Bits per sample in `samples`: 8 or 16.
    public let bitDepth: Int
    public let colorModel: ColorModel
    public let samples: Samples
    public let format: Format
    /// Bits per sample (per index for palette images) in the file: 1, 2, 4, 8 or 16.
    public let sourceBitDepth: Int
    public let isPalette: Bool
    /// The PNG tRNS colour key of a gray (one value) or RGB (three values) image, in file units (not scaled).
    public let transparentColor: [UInt16]?
    /// Interlaced PNG or progressive JPEG.
    public let isInterlaced: Bool

    /// An image from samples in memory; `samples.count` must be `width * height * colorModel.channels`.
    public init(width: Int, height: Int, colorModel: ColorModel, samples: Samples, format: Format = .raw,
                sourceBitDepth: Int? = nil, isPalette: Bool = false, transparentColor: [UInt16]? = nil,
                isInterlaced: Bool = false) throws {
        guard width > 0, height > 0 else {
            throw ImagingError.invalidArgument("DecodedImage: width and height must be positive, got \(width)x\(height)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= ImageDecoder.maxPixels else {
            throw ImagingError.invalidArgument("DecodedImage: \(width)x\(height) exceeds ImageDecoder.maxPixels")
        }
        guard samples.count == pixels * colorModel.channels else {
            throw ImagingError.invalidArgument(
                "DecodedImage: \(samples.count) samples for \(width)x\(height) \(colorModel.rawValue), expected \(pixels * colorModel.channels)")
        }
        if let key = transparentColor {
            guard (colorModel == .gray && key.count == 1) || (colorModel == .rgb && key.count == 3) else {
                throw ImagingError.invalidArgument("DecodedImage: a transparent colour needs a gray (1 value) or RGB (3 values) image")
            }
        }
        self.width = width
        self.height = height
        self.channels = colorModel.channels
        self.colorModel = colorModel
        self.samples = samples
        switch samples {
        case .uint8: self.bitDepth = 8
        case .uint16: self.bitDepth = 16
        }
        self.format = format
        self.sourceBitDepth = sourceBitDepth ?? bitDepth
        self.isPalette = isPalette
        self.transparentColor = transparentColor
        self.isInterlaced = isInterlaced
    }
}
