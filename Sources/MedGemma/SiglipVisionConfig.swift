import Foundation

/// SigLIP vision encoder hyper-parameters (`vision_config`), with transformers' defaults for absent fields.
public struct SiglipVisionConfig: Sendable {
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

    public init() {}

    public init(dictionary d: [String: Any], source: String) throws {
        func int(_ k: String, _ current: Int) throws -> Int {
            guard let v = d[k], !(v is NSNull) else { return current }
            if let list = v as? [NSNumber] {
                // Square sizes may be written as [h, w].
                guard list.count == 2, list[0] == list[1] else {
                    throw ModelError.invalidConfig(file: source, reason: "vision_config '\(k)' must be square, found \(list)")
                }
                return list[0].intValue
            }
            guard let n = v as? NSNumber, n.intValue > 0 else {
                throw ModelError.invalidConfig(file: source, reason: "vision_config '\(k)' must be a positive integer, found \(v)")
            }
            return n.intValue
        }
        hiddenSize = try int("hidden_size", hiddenSize)
        intermediateSize = try int("intermediate_size", intermediateSize)
        numLayers = try int("num_hidden_layers", numLayers)
        numHeads = try int("num_attention_heads", numHeads)
        numChannels = try int("num_channels", numChannels)
        imageSize = try int("image_size", imageSize)
        patchSize = try int("patch_size", patchSize)
        if let e = d["layer_norm_eps"] as? NSNumber { layerNormEps = e.floatValue }
        if let a = d["hidden_act"] as? String { hiddenActivation = a }
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

/// The multimodal part of a `gemma3` config: vision encoder plus the image-token bookkeeping.
public struct Gemma3VisionSettings: Sendable {
    public var vision: SiglipVisionConfig
    public var mmTokensPerImage = 256
    public var imageTokenID = 262_144
    public var boiTokenID = 255_999
    public var eoiTokenID = 256_000

    /// Reads the multimodal fields of a `gemma3` config.json; nil when it has no vision part.
    public init?(root: [String: Any], source: String) throws {
        guard (root["model_type"] as? String) == "gemma3" else { return nil }
        vision = try SiglipVisionConfig(dictionary: root["vision_config"] as? [String: Any] ?? [:], source: source + " (vision_config)")
        if let v = root["mm_tokens_per_image"] as? NSNumber { mmTokensPerImage = v.intValue }
        for (key, alt) in [("image_token_index", "image_token_id"), ("boi_token_index", "boi_token_id"), ("eoi_token_index", "eoi_token_id")] {
            guard let v = (root[key] ?? root[alt]) as? NSNumber else { continue }
            switch key {
            case "image_token_index": imageTokenID = v.intValue
            case "boi_token_index": boiTokenID = v.intValue
            default: eoiTokenID = v.intValue
            }
        }
        let side = Int(Double(mmTokensPerImage).squareRoot().rounded())
        guard side * side == mmTokensPerImage, side > 0, vision.patchesPerSide % side == 0 else {
            throw ModelError.invalidConfig(file: source, reason: "mm_tokens_per_image \(mmTokensPerImage) must be a square whose side divides the \(vision.patchesPerSide)×\(vision.patchesPerSide) patch grid")
        }
    }
}
