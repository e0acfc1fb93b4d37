import Tensor

/// Output of greedy decoding.
public struct GreedyResult: Sendable {
    /// Generated ids, including the stop id when one ended the run.
    public var tokenIDs: [Int]
    /// Float32 logits at the last prompt position (the first generated token's distribution).
    public var firstLogits: [Float]
    /// Seconds spent in the prompt pass and in the decode steps.
    public var prefillSeconds: Double
    public var decodeSeconds: Double
}

extension Gemma3TextModel {
    /// Greedy decoding with the KV cache: argmax at each step, stopping after a stop id or `maxNewTokens`.
    public func generateGreedy(promptIDs: [Int], maxNewTokens: Int, stopIDs: Set<Int>, adapter: String? = nil) throws -> GreedyResult {
        guard !promptIDs.isEmpty else { throw ModelError.invalidInput("the prompt is empty") }
        guard promptIDs.count <= config.maxPositions else {
            throw ModelError.contextOverflow(promptTokens: promptIDs.count, limit: config.maxPositions)
        }
        return try generateGreedy(prompt: try promptInput(ids: promptIDs), maxNewTokens: maxNewTokens, stopIDs: stopIDs, adapter: adapter)
    }

    /// Greedy decoding from a prepared prompt (text, or text with images).
    public func generateGreedy(prompt: PromptInput, maxNewTokens: Int, stopIDs: Set<Int>, adapter: String? = nil) throws -> GreedyResult {
        let promptIDs = prompt.ids
        guard !promptIDs.isEmpty else { throw ModelError.invalidInput("the prompt is empty") }
        guard promptIDs.count <= config.maxPositions else {
            throw ModelError.contextOverflow(promptTokens: promptIDs.count, limit: config.maxPositions)
        }
        let budget = min(maxNewTokens, config.maxPositions - promptIDs.count)
        let cache = try makeCache(tokens: promptIDs.count + max(budget, 1))
        let clock = ContinuousClock()
        let t0 = clock.now
        let hidden = try forward(embeddings: prompt.embeddings, cache: cache, extraVisible: prompt.extraVisible, adapter: adapter)
        let logits = try self.logits(try hidden.rows((promptIDs.count - 1)..<promptIDs.count))
        let first = logits.floats()
        let t1 = clock.now
        let out = try decodeGreedy(from: logits, cache: cache, maxNewTokens: budget, stopIDs: stopIDs, adapter: adapter)
        let t2 = clock.now
        return GreedyResult(tokenIDs: out, firstLogits: first,
                            prefillSeconds: (t1 - t0).seconds, decodeSeconds: (t2 - t1).seconds)
    }
}

extension Gemma3TextModel {
    /// The greedy decode loop, the only one: from `logits` [1, vocab] at the last prompt position (its cache
    /// filled up to there), the argmax token (the first of ties; NaN never wins) is taken and fed back
    /// through `cache`, until a stop id or `maxNewTokens` tokens (the stop id included in the result).
    public func decodeGreedy(from logits: Tensor, cache: KVCache, maxNewTokens: Int, stopIDs: Set<Int>, adapter: String? = nil) throws -> [Int] {
        var logits = logits
        var out: [Int] = []
        while out.count < maxNewTokens {
            let next = Ops.argmax(logits.f32, count: config.vocabSize)
            out.append(next)
            if stopIDs.contains(next) || out.count == maxNewTokens { break }
            let h = try forward(embeddings: try embed([next]), cache: cache, adapter: adapter)
            logits = try self.logits(h)
        }
        return out
    }
}

