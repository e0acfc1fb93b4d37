import Foundation
import LoRA
import MedGemma
import ModelFiles
import TestSupport
import Triage
import XCTest

/// Label scoring against transformers' (and peft's) float32 log-likelihoods on the tiny VLM
/// (Tests/Fixtures/triage/label_scoring.json, written by tools/make_triage_fixtures.py).
final class LabelScorerParityTests: XCTestCase {
    nonisolated(unsafe) static var shared: LoadedModel?

    /// The tiny VLM with the reference tokenizer and the fixture adapter attached as "adapter" (unmerged).
    static func model() throws -> LoadedModel {
        if let m = shared { return m }
        let dir = try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model"))
        let m = try ModelLoader.load(path: dir.path, computeMode: .f32)
        try m.attachAdapter(directory: TestPaths.fixture("triage/adapter"), name: "adapter")
        shared = m
        return m
    }

    func prompt(_ c: [String: Any], _ m: LoadedModel) throws -> (PromptInput, String?) {
        let adapter = (c["adapter"] as? String) == nil ? nil : "adapter"
        let image = TestPaths.fixture("triage").appendingPathComponent(try XCTUnwrap(c["image"] as? String))
        // The fixtures were made with transformers' PIL image processor (torchvision absent there); its
        // backend reproduces those pixel values exactly.
        let pixels = try m.pixelValues(imageFile: image, backend: .pil)
        let vision = try XCTUnwrap(m.vision)
        let tokens = try vision.imageTokens(pixelValues: pixels, adapter: adapter)
        let ids = try m.chatPromptIDs(text: try XCTUnwrap(c["prompt"] as? String), system: c["system"] as? String, imageCount: 1)
        XCTAssertEqual(ids, ints(c["prompt_ids"]), "\(c["name"] ?? "?"): our chat prompt ids differ from the processor's")
        return (try m.model.promptInput(ids: ids, imageTokens: [tokens], imageTokenID: vision.settings.imageTokenID), adapter)
    }

    func testLogLikelihoodsMatchTransformersWithAndWithoutAdapter() throws {
        let m = try Self.model()
        let fixture = try TestPaths.json("triage/label_scoring.json")
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 8)
        var worst = 0.0
        var adapterCases = 0
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let (p, adapter) = try prompt(c, m)
            if adapter != nil { adapterCases += 1 }
            let expected = try XCTUnwrap(c["answers"] as? [[String: Any]])
            let answers = expected.map { LabelAnswer(label: $0["label"] as! String, text: $0["text"] as! String, ids: ints($0["ids"])) }
            // The tokenizer turns each answer text into the same ids as transformers (+ <end_of_turn>).
            for a in answers {
                XCTAssertEqual(m.tokenizer.encode(a.text, addBOS: false) + [106], a.ids, "\(name) \(a.label)")
            }
            let scorer = try LabelScorer(model: m.model, answers: answers)
            let scores = try scorer.score(prompt: p, adapter: adapter)
            for (got, want) in zip(scores.labels, expected) {
                let ref = (want["token_logprobs"] as! [NSNumber]).map(\.doubleValue)
                XCTAssertEqual(got.tokenLogprobs.count, ref.count, name)
                for (g, r) in zip(got.tokenLogprobs, ref) {
                    XCTAssertEqual(g, r, accuracy: 1e-3, "\(name) \(got.label)")
                    worst = max(worst, abs(g - r))
                }
                XCTAssertEqual(got.logprob, (want["logprob"] as! NSNumber).doubleValue, accuracy: 1e-3 * Double(ref.count), name)
            }
            let pLabels = try XCTUnwrap(c["p_labels"] as? [String: NSNumber])
            for (label, pr) in pLabels {
                XCTAssertEqual(try XCTUnwrap(scores.probability(label)), pr.doubleValue, accuracy: 1e-3, "\(name) P(\(label))")
            }
            // Output-layer rows: the last prompt position once for all labels, then one per distinct answer
            // prefix that predicts a further token; never a prompt position.
            let distinctPrefixes = Set(answers.flatMap { a in (1..<a.ids.count).map { Array(a.ids[..<$0]) } }).count
            XCTAssertEqual(scores.stats.fullVocabularyRows, 1 + distinctPrefixes, name)
            XCTAssertEqual(scores.stats.promptTokens, ints(c["prompt_ids"]).count, name)
        }
        XCTAssertEqual(adapterCases, 4)
        print("label scoring parity: worst |Δ log p| per token = \(worst)")
    }

    /// Word labels: 3 output rows instead of 4; sentence labels sharing three tokens: 8 instead of 12.
    func testOutputLayerRowsAreShared() throws {
        let m = try Self.model()
        let fixture = try TestPaths.json("triage/label_scoring.json")
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        for name in ["gray64-word", "gray64-sentence"] {
            let c = try XCTUnwrap(cases.first { $0["name"] as? String == name })
            let (p, adapter) = try prompt(c, m)
            let answers = (c["answers"] as! [[String: Any]]).map { LabelAnswer(label: $0["label"] as! String, text: $0["text"] as! String, ids: ints($0["ids"])) }
            let s = try LabelScorer(model: m.model, answers: answers).score(prompt: p, adapter: adapter)
            XCTAssertEqual(s.stats.fullVocabularyRows, name == "gray64-word" ? 3 : 8, name)
            XCTAssertEqual(s.stats.answerTokens, name == "gray64-word" ? 4 : 12, name)
        }
    }

    /// Generation from the shared prefill equals transformers' greedy ids (with and without the adapter).
    func testGreedyContinuationMatchesTransformers() throws {
        let m = try Self.model()
        let fixture = try TestPaths.json("triage/label_scoring.json")
        let cases = try XCTUnwrap(fixture["generate"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 2)
        for c in cases {
            let (p, adapter) = try prompt(c, m)
            let scorer = try LabelScorer(model: m.model, answers: [LabelAnswer(label: "patent", text: "patent", ids: [187576, 106]),
                                                                   LabelAnswer(label: "blocked", text: "blocked", ids: [98542, 106])])
            let n = (c["max_new_tokens"] as! NSNumber).intValue
            let pre = try scorer.prefill(p, adapter: adapter, extraTokens: n)
            // Scoring first, then generation, on the same cache: the truncation must leave the prompt intact.
            _ = try scorer.score(pre)
            XCTAssertEqual(try scorer.generate(pre, maxNewTokens: n, stopIDs: [1, 106]), ints(c["ids"]), c["name"] as? String ?? "?")
            // And the reference path through MedGemma's own greedy decoder agrees.
            XCTAssertEqual(try m.model.generateGreedy(prompt: p, maxNewTokens: n, stopIDs: [1, 106], adapter: adapter).tokenIDs, ints(c["ids"]))
        }
    }

    /// A multimodal config that sets final_logit_softcapping scores as transformers' Gemma3ForConditionalGeneration
    /// does: uncapped (Tests/Fixtures/gemma3-vlm/softcap, tools/make_gemma3_vlm_softcap_fixture.py).
    func testScoringIgnoresTheSoftcapOfAMultimodalConfig() throws {
        let dir = try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model"))
        let config = dir.appendingPathComponent("config.json")
        try FileManager.default.removeItem(at: config)
        try FileManager.default.copyItem(at: TestPaths.fixture("gemma3-vlm/softcap/config.json"), to: config)
        let m = try ModelLoader.load(path: dir.path, computeMode: .f32)
        XCTAssertEqual(m.model.config.finalLogitSoftcapping, 10)
        let fixture = try TestPaths.json("gemma3-vlm/softcap/expected.json")
        let c = try TestPaths.json("gemma3-vlm/at-size/expected.json")
        let vision = try XCTUnwrap(m.vision)
        let pixels = try NPYFile.read(TestPaths.fixture("gemma3-vlm/at-size/pixel_values.npy")).floats()
        let p = try m.model.promptInput(ids: ints(c["input_ids"]), imageTokens: [try vision.imageTokens(pixelValues: pixels)],
                                        imageTokenID: vision.settings.imageTokenID)
        let expected = try XCTUnwrap(fixture["answers"] as? [[String: Any]])
        let answers = expected.map { LabelAnswer(label: $0["label"] as! String, text: $0["label"] as! String, ids: ints($0["ids"])) }
        let scores = try LabelScorer(model: m.model, answers: answers).score(prompt: p, adapter: nil)
        for (got, want) in zip(scores.labels, expected) {
            let ref = (want["token_logprobs"] as! [NSNumber]).map(\.doubleValue)
            XCTAssertEqual(got.tokenLogprobs.count, ref.count)
            for (g, r) in zip(got.tokenLogprobs, ref) { XCTAssertEqual(g, r, accuracy: 1e-3, got.label) }
        }
    }

    func testScorerRejectsBadAnswers() throws {
        let m = try Self.model()
        XCTAssertThrowsError(try LabelScorer(model: m.model, answers: [LabelAnswer(label: "patent", text: "p", ids: [5])]))
        XCTAssertThrowsError(try LabelScorer(model: m.model, answers: [LabelAnswer(label: "patent", text: "", ids: []),
                                                                       LabelAnswer(label: "blocked", text: "b", ids: [5])]))
        XCTAssertThrowsError(try LabelScorer(model: m.model, answers: [LabelAnswer(label: "patent", text: "p", ids: [5]),
                                                                       LabelAnswer(label: "blocked", text: "b", ids: [999_999_999])]))
        XCTAssertThrowsError(try LabelScorer(model: m.model, answers: [LabelAnswer(label: "patent", text: "p", ids: [5]),
                                                                       LabelAnswer(label: "blocked", text: "b", ids: [5])]))
    }

    /// NaN and infinity guards of the normalisation, and log-softmax on hand-computed rows.
    func testNormalisationGuards() {
        func s(_ l: String, _ lp: Double) -> ScoredLabel { ScoredLabel(label: l, ids: [1], tokenLogprobs: [lp], logprob: lp) }
        let p = LabelScorer.normalise([s("patent", log(0.2)), s("blocked", log(0.6))])!
        XCTAssertEqual(p["blocked"]!, 0.75, accuracy: 1e-12)
        XCTAssertEqual(p["patent"]!, 0.25, accuracy: 1e-12)
        // Very negative sums (the tiny model's −100s) still normalise.
        let q = LabelScorer.normalise([s("patent", -1000), s("blocked", -1000 + log(3.0))])!
        XCTAssertEqual(q["blocked"]!, 0.75, accuracy: 1e-12)
        XCTAssertNil(LabelScorer.normalise([s("patent", .nan), s("blocked", -1)]))
        XCTAssertNil(LabelScorer.normalise([s("patent", -.infinity), s("blocked", -1)]))
        XCTAssertNil(LabelScorer.normalise([]))
        // log softmax([0, ln 3]) = [ln 1/4, ln 3/4].
        XCTAssertEqual(LabelScorer.logSoftmax([0, Float(log(3.0))], at: 1), log(0.75), accuracy: 1e-6)
        XCTAssertEqual(LabelScorer.logSoftmax([0, Float(log(3.0))], at: 0), log(0.25), accuracy: 1e-6)
        XCTAssertTrue(LabelScorer.logSoftmax([0, .nan, 1], at: 0).isNaN)
        XCTAssertTrue(LabelScorer.logSoftmax([.infinity, 1], at: 1).isNaN)
        XCTAssertEqual(LabelScorer.logSoftmax([1, 2], at: 5), -.infinity)
    }
}
