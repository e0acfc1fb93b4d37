import Foundation
import Imaging
import MedGemma

/// What classification needs of a model: the model and the adapter to apply, its label scorer and the
/// chat prompt with one image block. Triage, evaluation and training validation each hold one.
public struct ClassificationModel: Sendable {
    public let loaded: LoadedModel
    public let vision: Gemma3VisionEncoder
    public let scorer: LabelScorer
    public let promptIDs: [Int]
    /// The adapter applied (nil: the bare model, or one whose weights are merged in).
    public let adapter: String?

    public init(loaded: LoadedModel, scorer: LabelScorer, promptIDs: [Int], adapter: String?) throws {
        guard let vision = loaded.vision else { throw TriageError.invalidArgument("\(loaded.path) has no vision tower") }
        self.loaded = loaded
        self.vision = vision
        self.scorer = scorer
        self.promptIDs = promptIDs
        self.adapter = adapter
    }
}

/// One image through the model: the prompt prefilled with its image tokens, and the labels' scores when asked.
public struct ImageClassification: Sendable {
    /// The prompt's KV cache, for generation after the scores.
    public let prefilled: PrefilledPrompt
    /// Nil when scoring was not asked for.
    public let scores: LabelScores?
}

extension TriagePipeline {
    /// The one vision → prompt → score path: the image tokens of `pixelValues`, the prompt with them prefilled
    /// once (with room for `extraTokens` generated ones), and, when `score`, every label scored after it.
    /// Triage, evaluation and training validation all classify through here.
    public static func classify(pixelValues: [Float], with model: ClassificationModel, score: Bool = true, extraTokens: Int = 0,
                                timings: inout TriageRecord.Timings) throws -> ImageClassification {
        let clock = ContinuousClock()
        let t0 = clock.now
        let tokens = try model.vision.imageTokens(pixelValues: pixelValues, adapter: model.adapter)
        let prompt = try model.loaded.model.promptInput(ids: model.promptIDs, imageTokens: [tokens], imageTokenID: model.vision.settings.imageTokenID)
        timings.vision += (clock.now - t0).seconds
        let prefilled = try model.scorer.prefill(prompt, adapter: model.adapter, extraTokens: extraTokens)
        timings.prefill += prefilled.prefillSeconds
        var scores: LabelScores?
        if score {
            let s = try model.scorer.score(prefilled)
            timings.scoring += s.stats.scoringSeconds
            scores = s
        }
        return ImageClassification(prefilled: prefilled, scores: scores)
    }

    /// Scores (and/or generates for) one model image and decides.
    public func classify(_ image: PreparedImage, timings: inout TriageRecord.Timings) throws -> TriageRecord.ImageResult {
        try classify(rgb: image.rgb, gray: image.gray, frames: image.frames, frameNumbers: image.frameNumbers,
                     instance: image.instance, source: image.sourceKind, timings: &timings)
    }

    /// Scores (and/or generates for) one model image and decides. `source` says how the image was made, for
    /// the input-domain check.
    public func classify(rgb: RGBImage, gray: [UInt8], frames: Int?, frameNumbers: [Int], instance: String?,
                         source: InputSourceKind, timings: inout TriageRecord.Timings) throws -> TriageRecord.ImageResult {
        let clock = ContinuousClock()
        let t0 = clock.now
        let pixels = try preprocessor.pixelValues(rgb)
        timings.vision += (clock.now - t0).seconds
        let generate = mode != .score
        let classified = try Self.classify(pixelValues: pixels, with: classification, score: mode != .generate,
                                           extraTokens: generate ? profile.generation.maxNewTokens : 0, timings: &timings)
        let scores = classified.scores
        var text: String?
        var parsed: ParsedAnswer?
        if generate {
            let t1 = clock.now
            let ids = try scorer.generate(classified.prefilled, maxNewTokens: profile.generation.maxNewTokens, stopIDs: loaded.chatStopIDs)
            text = loaded.tokenizer.decode(ids, skipSpecialTokens: true)
            parsed = parser.parse(text ?? "")
            timings.generation += (clock.now - t1).seconds
        }
        let q = quality.check(gray: gray, frames: frames)
        let p = scores.map { $0.probability(profile.positiveLabel) ?? .nan }
        var decision = policy.decide(DecisionInputs(scored: scores != nil, pBlocked: p, generated: parsed, qualityIssues: q.issues))
        let domain = inputDomain.flatMap { d in ModelImageStatistics(gray: gray, frames: frames, sourceKind: source).map(d.check) }
        if let reason = domain?.reason {
            // Outside the training domain the model's confidence means little: a patent call becomes a review
            // (a miss is the high-risk error); a blocked call stays blocked, as flagging costs only a look.
            if decision.label == .patent { decision.label = .manualReview; decision.reasons.insert(reason, at: 0) }
            else { decision.reasons.append(reason) }
        }
        var logprobs: [String: Double]?
        if let scores { logprobs = Dictionary(uniqueKeysWithValues: scores.labels.map { ($0.label, $0.logprob) }) }
        return TriageRecord.ImageResult(instance: instance, frames: frameNumbers, pBlocked: p.flatMap { $0.isFinite ? $0 : nil },
                                        labelProbabilities: scores?.probabilities, labelLogprobs: logprobs,
                                        generatedText: keepGeneratedText ? text : nil, parsedAnswer: parsed, quality: q,
                                        decision: decision.label, reasons: decision.reasons, domain: domain)
    }
}
