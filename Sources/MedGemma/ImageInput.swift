import Foundation
import Imaging
import Tensor

extension LoadedModel {
    /// The image processor settings of this model: its `preprocessor_config.json` (or the settings nested
    /// in `processor_config.json`), else Gemma 3's defaults at the vision tower's input size.
    public func imageProcessorConfig() throws -> ImageProcessorConfig {
        guard let vision else { throw ModelError.unsupportedFeature("\(path) has no vision tower, so it cannot take images") }
        let size = vision.settings.vision.imageSize
        var config: ImageProcessorConfig
        if let dir = directory, ["preprocessor_config.json", "processor_config.json"].contains(where: {
            FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path)
        }) {
            config = try ImageProcessorConfig(url: dir)
        } else {
            config = try ImageProcessorConfig(height: size, width: size)
        }
        guard config.height == size && config.width == size else {
            throw ModelError.invalidConfig(file: config.source,
                                           reason: "image size \(config.height)×\(config.width) does not match the vision tower's \(size)×\(size)")
        }
        return config
    }

    /// Decodes an image file (PNG or JPEG) and turns it into the pixel values the vision tower takes.
    public func pixelValues(imageFile url: URL, backend: ImagePreprocessor.Backend = .torchvision) throws -> [Float] {
        let preprocessor = ImagePreprocessor(config: try imageProcessorConfig(), backend: backend)
        return try preprocessor.pixelValues(try RGBImage(try ImageDecoder.decode(contentsOf: url)))
    }

    /// Pixel values of an RGB image already in memory.
    public func pixelValues(image: RGBImage, backend: ImagePreprocessor.Backend = .torchvision) throws -> [Float] {
        try ImagePreprocessor(config: try imageProcessorConfig(), backend: backend).pixelValues(image)
    }

    /// A chat prompt with `images` (their soft tokens computed with `adapter` selected) before `text`.
    public func imagePrompt(text: String, system: String?, images: [[Float]], adapter: String? = nil) throws -> PromptInput {
        guard let vision else { throw ModelError.unsupportedFeature("\(path) has no vision tower, so it cannot take images") }
        let ids = try chatPromptIDs(text: text, system: system, imageCount: images.count)
        let tokens = try images.map { try vision.imageTokens(pixelValues: $0, adapter: adapter) }
        return try model.promptInput(ids: ids, imageTokens: tokens, imageTokenID: vision.settings.imageTokenID)
    }
}
