import Foundation
import Tensor

/// The image side of Gemma 3: SigLIP encoder + projector, and the image-token bookkeeping of prompts.
public final class Gemma3VisionEncoder: @unchecked Sendable {
    public let settings: Gemma3VisionSettings
    public let tower: SiglipVisionModel
    public let projector: Gemma3MultimodalProjector

    /// Checkpoint prefixes of the vision tower in the wild: Google's release, newer transformers.
    static var towerPrefixes: [String] { Gemma3CheckpointLayout.visionTower }
    static var projectorPrefixes: [String] { Gemma3CheckpointLayout.projector }

    init(settings: Gemma3VisionSettings, textHidden: Int, source: WeightSource, computeMode: ComputeMode) throws {
        self.settings = settings
        guard let tp = Self.towerPrefixes.first(where: { source.contains($0 + "embeddings.patch_embedding.weight") }) else {
            throw ModelError.missingTensor(name: "vision tower (embeddings.patch_embedding.weight under \(Self.towerPrefixes.joined(separator: ", ")))",
                                           source: source.sourceName)
        }
        guard let pp = Self.projectorPrefixes.first(where: { source.contains($0 + "mm_input_projection_weight") }) else {
            throw ModelError.missingTensor(name: "multi_modal_projector.mm_input_projection_weight", source: source.sourceName)
        }
        tower = try SiglipVisionModel(config: settings.vision, source: source, prefix: tp, computeMode: computeMode)
        projector = try Gemma3MultimodalProjector(settings: settings, textHidden: textHidden, source: source, prefix: pp)
    }

    /// Projected soft tokens [mmTokensPerImage, textHidden] of one preprocessed image.
    public func imageTokens(pixelValues: [Float], adapter: String? = nil) throws -> Tensor {
        try projector.project(try tower.encode(pixelValues: pixelValues, adapter: adapter))
    }

    /// The text the reference processor puts in place of each `<start_of_image>` marker.
    public var imageBlockText: String {
        "\n\n<start_of_image>" + String(repeating: "<image_soft_token>", count: settings.mmTokensPerImage) + "<end_of_image>\n\n"
    }

    /// Replaces every `<start_of_image>` marker of a formatted prompt by the full image block.
    public func expandImageMarkers(_ prompt: String) -> String {
        prompt.replacingOccurrences(of: "<start_of_image>", with: imageBlockText)
    }
}

/// A prompt ready for the decoder: ids, their input embeddings (image positions already replaced),
/// and for each position the end of the key range it may see beyond itself (bidirectional image blocks).
public struct PromptInput: @unchecked Sendable {
    public var ids: [Int]
    public var embeddings: Tensor
    public var extraVisible: [Int]?
}

extension Gemma3TextModel {
    /// Text-only prompt.
    public func promptInput(ids: [Int]) throws -> PromptInput {
        PromptInput(ids: ids, embeddings: try embed(ids), extraVisible: nil)
    }

    /// Prompt with images: each run of `imageTokenID` receives the next image's soft tokens, and the tokens
    /// of one image see each other (causal OR same image; sliding layers keep their window).
    public func promptInput(ids: [Int], imageTokens: [Tensor], imageTokenID: Int) throws -> PromptInput {
        let x = try embed(ids)
        let d = config.hiddenSize
        var extra = [Int](repeating: 0, count: ids.count)
        var next = 0
        var i = 0
        while i < ids.count {
            guard ids[i] == imageTokenID else { i += 1; continue }
            var j = i
            while j < ids.count && ids[j] == imageTokenID { j += 1 }
            guard next < imageTokens.count else {
                throw ModelError.invalidInput("the prompt has more image blocks than the \(imageTokens.count) image(s) given")
            }
            let feats = imageTokens[next]
            guard feats.shape == [j - i, d] else {
                throw ModelError.invalidInput("image block of \(j - i) tokens at position \(i), image features are \(feats.shape)")
            }
            (x.f32 + i * d).update(from: feats.f32, count: (j - i) * d)
            for p in i..<j { extra[p] = j }
            next += 1
            i = j
        }
        guard next == imageTokens.count else {
            throw ModelError.invalidInput("\(imageTokens.count) image(s) given but the prompt has \(next) image block(s)")
        }
        return PromptInput(ids: ids, embeddings: x, extraVisible: extra)
    }
}
