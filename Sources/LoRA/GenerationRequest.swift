import Foundation
import MedGemma
import Tensor

/// One greedy generation as `dsa-triage generate` asks for it (and a worker could): the model, an adapter,
/// the prompt in chat or raw form with optional images, and how many tokens to produce.
public struct GenerationRequest: Sendable {
    public var model: String
    public var adapter: String?
    /// nil: bf16 for bf16 models, else f32.
    public var computeMode: ComputeMode?
    public var quantization: QuantizationScheme
    public var text: String
    /// System text before the prompt in the user turn (chat format only).
    public var system: String?
    /// Tokenize `text` as-is with <bos> prepended (base models) instead of the chat format.
    public var raw: Bool
    /// PNG or JPEG files placed before the prompt in the user turn (chat format only).
    public var images: [URL]
    public var maxNewTokens: Int

    public init(model: String, adapter: String? = nil, computeMode: ComputeMode? = nil, quantization: QuantizationScheme = .none,
                text: String, system: String? = nil, raw: Bool = false, images: [URL] = [], maxNewTokens: Int) {
        self.model = model
        self.adapter = adapter
        self.computeMode = computeMode
        self.quantization = quantization
        self.text = text
        self.system = system
        self.raw = raw
        self.images = images
        self.maxNewTokens = maxNewTokens
    }

    /// What a generation gave: the prompt's ids, the greedy result and its text (special tokens skipped).
    public struct Output: Sendable {
        public var promptIDs: [Int]
        public var result: GreedyResult
        public var text: String
    }

    /// Loads the model (and adapter), builds the prompt and generates greedily until a stop token or
    /// `maxNewTokens`.
    public func run() throws -> Output {
        let loaded = try ModelLoader.load(path: model, computeMode: computeMode, quantization: quantization)
        var adapterName: String?
        if let adapter {
            try loaded.attachAdapter(directory: URL(fileURLWithPath: adapter), name: "adapter")
            adapterName = "adapter"
        }
        let prompt: PromptInput
        if raw {
            prompt = try loaded.model.promptInput(ids: loaded.tokenizer.encode(text, addBOS: true))
        } else if images.isEmpty {
            prompt = try loaded.model.promptInput(ids: try loaded.chatPromptIDs(text: text, system: system))
        } else {
            let pixels = try images.map { try loaded.pixelValues(imageFile: $0) }
            prompt = try loaded.imagePrompt(text: text, system: system, images: pixels, adapter: adapterName)
        }
        let result = try loaded.model.generateGreedy(prompt: prompt, maxNewTokens: maxNewTokens,
                                                    stopIDs: raw ? loaded.stopIDs : loaded.chatStopIDs, adapter: adapterName)
        return Output(promptIDs: prompt.ids, result: result,
                      text: loaded.tokenizer.decode(result.tokenIDs, skipSpecialTokens: true))
    }
}
