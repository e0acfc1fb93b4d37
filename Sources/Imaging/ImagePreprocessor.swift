import Foundation

/// Gemma 3's image processor (transformers 5.24): resize to `size` with antialiased bilinear filtering on the
/// 8-bit RGB image, then rescale and normalise into a float32 `[3, H, W]` tensor.
///
/// transformers has two implementations and `AutoImageProcessor.from_pretrained` picks the torchvision one
/// (`Gemma3ImageProcessor`, formerly "Fast") whenever torchvision is installed, whatever
/// `image_processor_type` says; the PIL one (`Gemma3ImageProcessorPil`) only without torchvision or with
/// `backend="pil"` / `use_fast=False`. Their outputs differ by one level on some pixels (see
/// `AntialiasedBilinearResampler`) and by float rounding in the normalisation:
/// - torchvision: rescale and normalise are fused: `(Float(x) - m) / s` in float32 with
///   `m = Float(mean) * Float(1 / rescale_factor)`, `s = Float(std) * Float(1 / rescale_factor)` (127.5 and 127.5
///   for Gemma 3).
/// - PIL: `r = Float(Double(x) * rescale_factor)` (numpy float64, then float32), then `(r - Float(mean)) /
///   Float(std)` in float32.
/// An image already at the target size is not resampled by either.
public struct ImagePreprocessor: Sendable {
    public enum Backend: Sendable {
        /// `Gemma3ImageProcessor` (torchvision, uint8 resize kernel of PyTorch on x86 CPUs). transformers' default.
        case torchvision
        /// `Gemma3ImageProcessorPil` (Pillow `Image.resize(BILINEAR)`), as with `use_fast=False`.
        case pil
    }

    public let config: ImageProcessorConfig
    public let backend: Backend

    public init(config: ImageProcessorConfig, backend: Backend = .torchvision) {
        self.config = config
        self.backend = backend
    }

    /// `[3, height, width]`.
    public var outputShape: [Int] { [3, config.height, config.width] }

    /// The 8-bit image the model sees, resized to `size` (for writing `model_input.png`).
    public func resized(_ image: RGBImage) throws -> RGBImage {
        if image.width == config.width && image.height == config.height {
            return image
        }
        guard config.doResize else {
            throw ImagingError.unsupportedConfig(
                file: config.source, option: "do_resize", value: "false",
                reason: "the image is \(image.width)x\(image.height) but the model needs \(config.width)x\(config.height)")
        }
        let arithmetic: AntialiasedBilinearResampler.Arithmetic = backend == .torchvision ? .torchvision : .pil
        let pixels = AntialiasedBilinearResampler.resize(image.pixels, width: image.width, height: image.height, channels: 3,
                                                         toWidth: config.width, height: config.height, arithmetic: arithmetic)
        return try RGBImage(width: config.width, height: config.height, pixels: pixels)
    }

    /// The model's `pixel_values` for one image: float32, channels first, `[3, height, width]` flattened.
    public func pixelValues(_ image: RGBImage) throws -> [Float] {
        let input = try resized(image)
        return pixelValues(resized: input)
    }

    /// Rescales and normalises an image already at the target size.
    func pixelValues(resized input: RGBImage) -> [Float] {
        let plane = input.width * input.height
        let table = lookupTables()
        var out = [Float](repeating: 0, count: 3 * plane)
        out.withUnsafeMutableBufferPointer { o in
            input.pixels.withUnsafeBufferPointer { p in
                table.withUnsafeBufferPointer { t in
                    // The tables hold 3 × 256 entries; an empty image has nothing to convert.
                    guard let tBase = t.baseAddress, let oBase = o.baseAddress else { return }
                    for c in 0..<3 {
                        let lut = tBase + 256 * c
                        let dst = oBase + c * plane
                        for i in 0..<plane { dst[i] = lut[Int(p[3 * i + c])] }
                    }
                }
            }
        }
        return out
    }

    /// The float value of every 8-bit level, per channel (256 x 3), with the backend's exact float arithmetic.
    func lookupTables() -> [Float] {
        var table = [Float](repeating: 0, count: 3 * 256)
        let c = config
        for channel in 0..<3 {
            for x in 0..<256 {
                let v: Float
                switch backend {
                case .torchvision:
                    if c.doRescale && c.doNormalize {
                        let inverse = Float(1.0 / c.rescaleFactor)
                        let mean = Float(c.imageMean[channel]) * inverse
                        let std = Float(c.imageStd[channel]) * inverse
                        v = (Float(x) - mean) / std
                    } else if c.doNormalize {
                        v = (Float(x) - Float(c.imageMean[channel])) / Float(c.imageStd[channel])
                    } else if c.doRescale {
                        v = Float(x) * Float(c.rescaleFactor)
                    } else {
                        v = Float(x)
                    }
                case .pil:
                    let r = c.doRescale ? Float(Double(x) * c.rescaleFactor) : Float(x)
                    v = c.doNormalize ? (r - Float(c.imageMean[channel])) / Float(c.imageStd[channel]) : r
                }
                table[256 * channel + x] = v
            }
        }
        return table
    }
}
