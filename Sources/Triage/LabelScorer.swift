import Foundation
import MedGemma
import Tensor

/// One label's scored answer: the token ids after the prompt (ending with `<end_of_turn>`).
public struct LabelAnswer: Sendable, Equatable {
    public var label: String
    public var text: String
    public var ids: [Int]

    public init(label: String, text: String, ids: [Int]) {
        self.label = label
        self.text = text
        self.ids = ids
    }
}

/// Teacher-forced log-likelihood of one label's answer.
public struct ScoredLabel: Sendable, Codable, Equatable {
    public var label: String
    public var ids: [Int]
    /// log P(ids[j] | prompt, ids[..<j]) for each answer token, natural log.
    public var tokenLogprobs: [Double]
    /// Sum of `tokenLogprobs`: log P(whole answer | prompt).
    public var logprob: Double

    public init(label: String, ids: [Int], tokenLogprobs: [Double], logprob: Double) {
        self.label = label
        self.ids = ids
        self.tokenLogprobs = tokenLogprobs
        self.logprob = logprob
    }

    enum CodingKeys: String, CodingKey { case label, ids, tokenLogprobs = "token_logprobs", logprob }
}

/// What the scorer computed, for cost accounting.
public struct ScoringStats: Sendable, Codable, Equatable {
    /// Prompt positions run through the decoder once (no output layer for them except the last).
    public var promptTokens: Int
    /// Answer tokens over all labels.
    public var answerTokens: Int
    /// Positions for which the full-vocabulary output layer was evaluated: the last prompt position (shared
    /// by all labels) plus each label's answer positions that predict a further answer token, each
    /// distinct answer prefix once.
    public var fullVocabularyRows: Int
    public var prefillSeconds: Double
    public var scoringSeconds: Double

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", answerTokens = "answer_tokens", fullVocabularyRows = "full_vocabulary_rows"
        case prefillSeconds = "prefill_s", scoringSeconds = "scoring_s"
    }
}

/// The result of scoring every label after one prompt.
public struct LabelScores: Sendable {
    public var labels: [ScoredLabel]
    /// softmax over the labels' summed log-likelihoods; nil when any log-likelihood is not finite.
    public var probabilities: [String: Double]?
    public var stats: ScoringStats

    /// Probability of `label`, nil when the scores were not finite or the label is unknown.
    public func probability(_ label: String) -> Double? { probabilities?[label] }
}

/// A prompt run through the decoder once; its KV cache is shared by every label and by generation.
public final class PrefilledPrompt: @unchecked Sendable {
    public let promptLength: Int
    let cache: KVCache
    /// Final hidden state at the last prompt position [1, hidden]: it predicts the first answer token.
    let lastHidden: Tensor
    let adapter: String?
    public let prefillSeconds: Double
    /// Full-vocabulary logits at the last prompt position, once computed (by scoring or generation).
    var firstLogits: [Float]?

    init(promptLength: Int, cache: KVCache, lastHidden: Tensor, adapter: String?, prefillSeconds: Double) {
        self.promptLength = promptLength
        self.cache = cache
        self.lastHidden = lastHidden
        self.adapter = adapter
        self.prefillSeconds = prefillSeconds
    }
}

/// P(label) from teacher-forced log-likelihoods of each label's complete answer token sequence.
///
/// The prompt (with its image block) is prefilled once. For each label the cache is truncated back to the
/// prompt, the answer tokens but the last are run through the decoder, and the output layer is evaluated
/// only at the positions that predict an answer token: never at the prompt positions, and the last prompt
/// position (which predicts every label's first token) once for all labels, as is any answer prefix that
/// several labels share. A full-vocabulary row is needed at those positions because
/// log P(token) = logit(token) − logsumexp(all logits); all of them go through the output layer in one
/// product, so its weights (1.3 GB for MedGemma in bf16) are read once per image, not once per label.
public struct LabelScorer: Sendable {
    public let model: Gemma3TextModel
    public let answers: [LabelAnswer]

    public init(model: Gemma3TextModel, answers: [LabelAnswer]) throws {
        guard answers.count >= 2 else { throw TriageError.scoring("needs at least two label answers, got \(answers.count)") }
        for a in answers {
            guard !a.ids.isEmpty else { throw TriageError.scoring("label \(a.label) has an empty answer") }
            guard a.ids.allSatisfy({ $0 >= 0 && $0 < model.config.vocabSize }) else {
                throw TriageError.scoring("label \(a.label) has token ids outside the vocabulary")
            }
        }
        guard Set(answers.map(\.ids)).count == answers.count else { throw TriageError.scoring("two labels have the same answer tokens") }
        self.model = model
        self.answers = answers
    }

    /// The answers of a profile's labels: each answer text tokenized without `<bos>`, then `<end_of_turn>`.
    public static func answers(profile: TaskProfile, loaded: LoadedModel) throws -> [LabelAnswer] {
        guard let eot = loaded.tokenizer.tokenID("<end_of_turn>") else {
            throw TriageError.scoring("the tokenizer of \(loaded.path) has no <end_of_turn> token")
        }
        return profile.labels.map { LabelAnswer(label: $0.name, text: $0.answer, ids: loaded.tokenizer.encode($0.answer, addBOS: false) + [eot]) }
    }

    /// Longest answer, in tokens.
    public var longestAnswer: Int { answers.map(\.ids.count).max() ?? 0 }

    /// Runs the prompt through the decoder with room for the longest answer and `extraTokens` more (generation).
    public func prefill(_ prompt: PromptInput, adapter: String?, extraTokens: Int = 0) throws -> PrefilledPrompt {
        let n = prompt.ids.count
        guard n > 0 else { throw TriageError.scoring("the prompt is empty") }
        let clock = ContinuousClock()
        let t0 = clock.now
        let cache = try model.makeCache(tokens: n + max(longestAnswer, extraTokens))
        let hidden = try model.forward(embeddings: prompt.embeddings, cache: cache, extraVisible: prompt.extraVisible, adapter: adapter)
        return PrefilledPrompt(promptLength: n, cache: cache, lastHidden: try hidden.rows((n - 1)..<n), adapter: adapter,
                               prefillSeconds: (clock.now - t0).seconds)
    }

    /// Prefills `prompt` and scores every label.
    public func score(prompt: PromptInput, adapter: String?) throws -> LabelScores {
        try score(try prefill(prompt, adapter: adapter))
    }

    /// Scores every label after a prefilled prompt (the cache is truncated back to the prompt afterwards).
    public func score(_ p: PrefilledPrompt) throws -> LabelScores {
        let clock = ContinuousClock()
        let t0 = clock.now
        let d = model.config.hiddenSize, v = model.config.vocabSize
        // Hidden states of every distinct answer prefix ([] = the last prompt position), gathered first so
        // that one output-layer product serves them all.
        var rowOfPrefix: [[Int]: Int] = [:]
        var gathered: [Float] = []
        var cached: [[Int]: [Float]] = [:]
        if let first = p.firstLogits { cached[[]] = first } else {
            rowOfPrefix[[]] = 0
            gathered += p.lastHidden.floats()
        }
        for a in answers {
            let prefixes = (1..<max(a.ids.count, 1)).map { Array(a.ids[..<$0]) }
            let missing = prefixes.filter { rowOfPrefix[$0] == nil && cached[$0] == nil }
            guard !missing.isEmpty else { continue }
            try p.cache.truncate(to: p.promptLength)
            // Inputs are the answer tokens but the last; output row j−1 predicts token j.
            let hidden = try model.forward(embeddings: try model.embed(Array(a.ids.dropLast())), cache: p.cache, adapter: p.adapter)
            for prefix in missing {
                rowOfPrefix[prefix] = gathered.count / d
                gathered += Array(UnsafeBufferPointer(start: hidden.f32 + (prefix.count - 1) * d, count: d))
            }
        }
        try p.cache.truncate(to: p.promptLength)
        let rows = gathered.count / d
        var logits: Tensor?
        if rows > 0 { logits = try model.logits(try Tensor(gathered, shape: [rows, d])) }
        if let l = logits, let r = rowOfPrefix[[]] { p.firstLogits = Array(UnsafeBufferPointer(start: l.f32 + r * v, count: v)) }

        // One logsumexp per row, shared by the labels that read it.
        var logZ: [[Int]: Double] = [:]
        func logProb(_ prefix: [Int], _ id: Int) throws -> Double {
            let row: UnsafeBufferPointer<Float>
            if let c = cached[prefix] {
                return Self.logSoftmax(c, at: id)
            } else if let l = logits, let r = rowOfPrefix[prefix] {
                row = UnsafeBufferPointer(start: l.f32 + r * v, count: v)
            } else {
                throw TriageError.scoring("internal: no output row for an answer prefix")
            }
            guard id >= 0 && id < v else { return -.infinity }
            let z = logZ[prefix] ?? Self.logSumExp(row)
            logZ[prefix] = z
            return Double(row[id]) - z
        }
        var scored: [ScoredLabel] = []
        for a in answers {
            let lps = try a.ids.indices.map { try logProb(Array(a.ids[..<$0]), a.ids[$0]) }
            scored.append(ScoredLabel(label: a.label, ids: a.ids, tokenLogprobs: lps, logprob: lps.reduce(0, +)))
        }
        let stats = ScoringStats(promptTokens: p.promptLength, answerTokens: answers.reduce(0) { $0 + $1.ids.count },
                                 fullVocabularyRows: rows + cached.count, prefillSeconds: p.prefillSeconds,
                                 scoringSeconds: (clock.now - t0).seconds)
        return LabelScores(labels: scored, probabilities: Self.normalise(scored), stats: stats)
    }

    /// Greedy continuation of a prefilled prompt (the cache is truncated back to the prompt afterwards).
    public func generate(_ p: PrefilledPrompt, maxNewTokens: Int, stopIDs: Set<Int>) throws -> [Int] {
        guard maxNewTokens > 0 else { return [] }
        guard p.promptLength + maxNewTokens - 1 <= p.cache.capacity else {
            throw TriageError.scoring("the prompt cache has room for \(p.cache.capacity - p.promptLength) new tokens, \(maxNewTokens) asked")
        }
        try p.cache.truncate(to: p.promptLength)
        let first: Tensor
        if let row = p.firstLogits {
            first = try Tensor(row, shape: [1, row.count])
        } else {
            first = try model.logits(p.lastHidden)
            p.firstLogits = first.floats()
        }
        let out = try model.decodeGreedy(from: first, cache: p.cache, maxNewTokens: maxNewTokens, stopIDs: stopIDs, adapter: p.adapter)
        try p.cache.truncate(to: p.promptLength)
        return out
    }

    /// log softmax(row)[index] in double precision; −inf or NaN propagate (the caller guards).
    public static func logSoftmax(_ row: [Float], at index: Int) -> Double {
        row.withUnsafeBufferPointer { r in
            guard index >= 0 && index < r.count else { return -.infinity }
            return Double(r[index]) - logSumExp(r)
        }
    }

    /// log Σ exp(row) in double precision: NaN when the row holds a NaN or +inf, −inf when all are −inf.
    static func logSumExp(_ r: UnsafeBufferPointer<Float>) -> Double {
        var m = -Float.infinity
        var nan = false
        for x in r {
            if x > m { m = x } else if x.isNaN { nan = true }
        }
        if nan || m == .infinity { return .nan }
        if m == -.infinity { return -.infinity }
        var s = 0.0
        let md = Double(m)
        for x in r { s += Foundation.exp(Double(x) - md) }
        return md + Foundation.log(s)
    }

    /// softmax over summed log-likelihoods, nil when any is not finite (the policy then routes to review).
    public static func normalise(_ scored: [ScoredLabel]) -> [String: Double]? {
        guard let m = scored.map(\.logprob).max(), scored.allSatisfy({ $0.logprob.isFinite }) else { return nil }
        let e = scored.map { Foundation.exp($0.logprob - m) }
        let z = e.reduce(0, +)
        guard z.isFinite, z > 0 else { return nil }
        var out: [String: Double] = [:]
        for (s, x) in zip(scored, e) { out[s.label] = x / z }
        return out
    }
}
