import CKernels
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
