import Foundation
import MedGemma
import Tensor

/// The engine timings of `dsa-triage bench --model`: load, the vision tower and an image-prompt prefill
/// (with and without an adapter applied unmerged), then text prefill and greedy decode.
public struct ModelBenchmark: Sendable {
    public struct Request: Sendable {
        public var model: String
        public var computeMode: ComputeMode?
        public var quantization: QuantizationScheme
        /// Also time the image path with this adapter attached (same loaded weights).
        public var adapter: String?
        public var promptTokens: Int
        public var decodeTokens: Int
        public var runs: Int
        /// Timed runs of the vision tower (models with one); 0 skips it.
        public var visionRuns: Int
        /// Skip the text prefill and decode timings.
        public var visionOnly: Bool

        public init(model: String, computeMode: ComputeMode? = nil, quantization: QuantizationScheme = .none, adapter: String? = nil,
                    promptTokens: Int, decodeTokens: Int, runs: Int, visionRuns: Int, visionOnly: Bool = false) {
            self.model = model
            self.computeMode = computeMode
            self.quantization = quantization
            self.adapter = adapter
            self.promptTokens = promptTokens
            self.decodeTokens = decodeTokens
            self.runs = runs
            self.visionRuns = visionRuns
            self.visionOnly = visionOnly
        }
    }

    /// The arithmetic the model loaded with.
    public var computeMode: ComputeMode
    public var loadSeconds: Double
    /// nil: no vision tower, or `visionRuns` 0.
    public var vision: VisionBenchmarkResult?
    /// With the adapter attached; nil without one (or without `vision`).
    public var adapterVision: VisionBenchmarkResult?
    /// nil with `visionOnly`.
    public var text: TextBenchmarkResult?

    public init(_ request: Request) throws {
        let start = Date()
        let loaded = try ModelLoader.load(path: request.model, computeMode: request.computeMode, quantization: request.quantization)
        loadSeconds = Date().timeIntervalSince(start)
        computeMode = loaded.model.computeMode
        if let tower = loaded.vision, request.visionRuns > 0 {
            vision = try VisionBenchmark.run(loaded: loaded, vision: tower, runs: request.visionRuns, textTokens: request.promptTokens)
            if let adapter = request.adapter {
                try loaded.attachAdapter(directory: URL(fileURLWithPath: adapter), name: "bench")
                adapterVision = try VisionBenchmark.run(loaded: loaded, vision: tower, runs: request.visionRuns,
                                                        textTokens: request.promptTokens, adapter: "bench")
            }
        }
        if !request.visionOnly {
            text = try TextBenchmark.run(model: loaded.model, promptTokens: request.promptTokens, decodeTokens: request.decodeTokens,
                                         runs: request.runs, loadSeconds: loadSeconds)
        }
    }
}
