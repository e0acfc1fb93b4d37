import Foundation
import Tensor

/// Timings of the language model alone: prompt prefill and cached greedy decode.
public struct TextBenchmarkResult: Sendable {
    public var promptTokens: Int
    public var decodeTokens: Int
    /// Tokens per second of each run.
    public var prefillRates: [Double]
    public var decodeRates: [Double]
    public var loadSeconds: Double

    public static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

public enum TextBenchmark {
    /// A deterministic prompt of `count` ids: `<bos>` then ordinary vocabulary entries. The reference
    /// benchmark (tools/bench_torch_gemma3_270m.py) builds the same ids.
    public static func promptIDs(count: Int, vocabulary: Int) -> [Int] {
        guard count > 0 else { return [] }
        return [2] + (1..<count).map { i in 1000 + (i * 7919) % max(1, min(vocabulary, 200_000) - 1000) }
    }

    /// Runs `runs` timed repetitions after one warm-up: a prefill of `promptTokens` and `decodeTokens` greedy steps.
    public static func run(model: Gemma3TextModel, promptTokens: Int, decodeTokens: Int, runs: Int, loadSeconds: Double) throws -> TextBenchmarkResult {
        let ids = promptIDs(count: promptTokens, vocabulary: model.config.vocabSize)
        var result = TextBenchmarkResult(promptTokens: promptTokens, decodeTokens: decodeTokens, prefillRates: [], decodeRates: [], loadSeconds: loadSeconds)
        for r in 0...runs {
            let g = try model.generateGreedy(promptIDs: ids, maxNewTokens: decodeTokens + 1, stopIDs: [])
            if r == 0 { continue }
            result.prefillRates.append(Double(promptTokens) / g.prefillSeconds)
            result.decodeRates.append(Double(g.tokenIDs.count - 1) / g.decodeSeconds)
        }
        return result
    }
}

/// Timings of the image path: vision tower + projector for one image, and the prefill of a chat prompt
/// holding that image.
public struct VisionBenchmarkResult: Sendable {
    public var visionSeconds: [Double] = []
    public var prefillSeconds: [Double] = []
    public var promptTokens = 0
}

public enum VisionBenchmark {
    public static func run(loaded: LoadedModel, vision: Gemma3VisionEncoder, runs: Int, textTokens: Int, adapter: String? = nil) throws -> VisionBenchmarkResult {
        let size = vision.settings.vision.imageSize
        var rng = SplitMix64(seed: 7)
        let pixels = (0..<(3 * size * size)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let words = String(repeating: "vessel ", count: max(1, textTokens - 20))
        let ids = try loaded.chatPromptIDs(text: words, system: nil, imageCount: 1)
        var r = VisionBenchmarkResult()
        r.promptTokens = ids.count
        let clock = ContinuousClock()
        for i in 0...runs {
            let t0 = clock.now
            let tokens = try vision.imageTokens(pixelValues: pixels, adapter: adapter)
            let t1 = clock.now
            let prompt = try loaded.model.promptInput(ids: ids, imageTokens: [tokens], imageTokenID: vision.settings.imageTokenID)
            let cache = try loaded.model.makeCache(tokens: ids.count)
            let h = try loaded.model.forward(embeddings: prompt.embeddings, cache: cache, extraVisible: prompt.extraVisible, adapter: adapter)
            _ = try loaded.model.logits(try h.rows((ids.count - 1)..<ids.count))
            let t2 = clock.now
            if i == 0 { continue }
            r.visionSeconds.append((t1 - t0).seconds)
            r.prefillSeconds.append((t2 - t1).seconds)
        }
        return r
    }
}
