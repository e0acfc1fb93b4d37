import Foundation

/// An 8-bit RGB image, interleaved, rows top to bottom: what the image processor resizes.
public struct RGBImage: Sendable, Equatable {
    /// What to do with transparency (an alpha channel, palette alpha, or a PNG tRNS colour key).
    public enum AlphaHandling: Sendable {
        /// transformers' `convert_to_rgb` (what Gemma 3's processor applies to a PIL image): composite onto white
        /// with Pillow's integer `alpha_composite`. The default.
        case compositeOnWhite
        /// Pillow's plain `Image.convert("RGB")`: drop the alpha, ignore the colour key.
        case discard
    }

    public let width: Int
    public let height: Int
    /// Interleaved R, G, B; `width * height * 3` bytes.
    public var pixels: [UInt8]

    /// Converts as transformers 5.24 does for a PIL image opened from the same file (Pillow 13): see
    /// `PILColorConversion` for each rule. Transparency is composited onto white.
    public init(_ decoded: DecodedImage) throws {
        try self.init(decoded, alpha: .compositeOnWhite)
    }

    /// Converts with Pillow's rules, choosing how transparency is treated.
    public init(_ decoded: DecodedImage, alpha: AlphaHandling) throws {
        self.width = decoded.width
        self.height = decoded.height
        self.pixels = try PILColorConversion.rgb(from: decoded, alpha: alpha)
    }

    /// A gray image as RGB with R = G = B (Pillow's "L" to "RGB"). `gray.count` must be `width * height`.
    public init(gray: [UInt8], width: Int, height: Int) throws {
        guard width > 0 && height > 0 && gray.count == width * height else {
            throw ImagingError.invalidArgument("RGBImage(gray:): \(gray.count) values for \(width)x\(height)")
        }
        self.width = width
        self.height = height
        var out = [UInt8](repeating: 0, count: gray.count * 3)
        out.withUnsafeMutableBufferPointer { o in
            gray.withUnsafeBufferPointer { g in
                for i in 0..<g.count {
                    let v = g[i]
                    o[3 * i] = v
                    o[3 * i + 1] = v
                    o[3 * i + 2] = v
                }
            }
        }
        self.pixels = out
    }

    /// Interleaved RGB pixels; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw ImagingError.invalidArgument("RGBImage: \(pixels.count) bytes for \(width)x\(height) RGB")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}
