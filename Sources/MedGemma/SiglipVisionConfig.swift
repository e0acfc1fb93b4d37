import Foundation
import Support

/// SigLIP vision encoder hyper-parameters (`vision_config` of a `gemma3` config.json). The defaults are
/// transformers' `SiglipVisionConfig` defaults (the base model: 224-pixel images, 16-pixel patches).
public struct SiglipVisionConfig: Sendable, Decodable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numLayers = 12
    public var numHeads = 12
    public var numChannels = 3
    public var imageSize = 224
    public var patchSize = 16
    public var layerNormEps: Float = 1e-6
    public var hiddenActivation = "gelu_pytorch_tanh"

    public var patchesPerSide: Int { imageSize / patchSize }
    public var numPatches: Int { patchesPerSide * patchesPerSide }
    public var headDim: Int { hiddenSize / numHeads }

    public enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numLayers = "num_hidden_layers"
        case numHeads = "num_attention_heads"
        case numChannels = "num_channels"
        case imageSize = "image_size"
        case patchSize = "patch_size"
        case layerNormEps = "layer_norm_eps"
        case hiddenActivation = "hidden_act"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func int(_ k: CodingKeys, _ current: Int) throws -> Int {
            guard let v = try c.json(k), !v.isNull else { return current }
            if case .array(let list) = v {
                // Square sizes may be written as [h, w].
                guard list.count == 2, let side = list[0].int, list[0] == list[1] else {
                    throw c.issue("vision_config '\(k.stringValue)' must be square, found \(v)")
                }
                return side
            }
            guard let n = v.int, n > 0 else {
                throw c.issue("vision_config '\(k.stringValue)' must be a positive integer, found \(v)")
            }
            return n
        }
        hiddenSize = try int(.hiddenSize, hiddenSize)
        intermediateSize = try int(.intermediateSize, intermediateSize)
        numLayers = try int(.numLayers, numLayers)
        numHeads = try int(.numHeads, numHeads)
        numChannels = try int(.numChannels, numChannels)
        imageSize = try int(.imageSize, imageSize)
        patchSize = try int(.patchSize, patchSize)
        if let e = c.lenient(Double.self, .layerNormEps) { layerNormEps = Float(e) }
        if let a = c.lenient(String.self, .hiddenActivation) { hiddenActivation = a }
    }

    /// What the encoder implements; `source` names the section in errors.
    public func validate(source: String) throws {
        guard hiddenActivation == "gelu_pytorch_tanh" || hiddenActivation == "gelu_tanh" else {
            throw ModelError.invalidConfig(file: source, reason: "vision hidden_act '\(hiddenActivation)' is not supported (expected gelu_pytorch_tanh)")
        }
        guard hiddenSize % numHeads == 0 else {
            throw ModelError.invalidConfig(file: source, reason: "vision hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numHeads)")
        }
        guard imageSize % patchSize == 0 else {
            throw ModelError.invalidConfig(file: source, reason: "vision image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
        guard numChannels == 3 else {
            throw ModelError.invalidConfig(file: source, reason: "vision num_channels \(numChannels) is not supported (expected 3)")
        }
    }
}

/// The multimodal part of a `gemma3` config: vision encoder plus the image-token bookkeeping. The defaults
/// are transformers' `Gemma3Config` defaults (256 tokens per image, Gemma 3's image/begin/end-of-image ids).
public struct Gemma3VisionSettings: Sendable, Decodable {
    public var vision = SiglipVisionConfig()
    public var mmTokensPerImage = 256
    public var imageTokenID = 262_144
    public var boiTokenID = 255_999
    public var eoiTokenID = 256_000

    /// Keys of the top level of a `gemma3` config.json; the ids have an older `_index` spelling.
    public enum CodingKeys: String, CodingKey {
        case visionConfig = "vision_config"
        case mmTokensPerImage = "mm_tokens_per_image"
        case imageTokenIndex = "image_token_index"
        case imageTokenID = "image_token_id"
        case boiTokenIndex = "boi_token_index"
        case boiTokenID = "boi_token_id"
        case eoiTokenIndex = "eoi_token_index"
        case eoiTokenID = "eoi_token_id"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let v = try c.decodeIfPresent(SiglipVisionConfig.self, forKey: .visionConfig) { vision = v }
        if let v = c.lenient(Int.self, .mmTokensPerImage) { mmTokensPerImage = v }
        if let v = c.lenient(Int.self, .imageTokenIndex) ?? c.lenient(Int.self, .imageTokenID) { imageTokenID = v }
        if let v = c.lenient(Int.self, .boiTokenIndex) ?? c.lenient(Int.self, .boiTokenID) { boiTokenID = v }
        if let v = c.lenient(Int.self, .eoiTokenIndex) ?? c.lenient(Int.self, .eoiTokenID) { eoiTokenID = v }
    }

    /// What the vision tower and the projector implement; `source` is the config.json path.
    public func validate(source: String) throws {
        try vision.validate(source: source + " (vision_config)")
        let side = Int(Double(mmTokensPerImage).squareRoot().rounded())
        guard side * side == mmTokensPerImage, side > 0, vision.patchesPerSide % side == 0 else {
            throw ModelError.invalidConfig(file: source, reason: "mm_tokens_per_image \(mmTokensPerImage) must be a square whose side divides the \(vision.patchesPerSide)×\(vision.patchesPerSide) patch grid")
        }
    }
}
