import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles

/// `final_logit_softcapping` follows the reference class: Gemma3ForConditionalGeneration (a `gemma3` config)
/// never applies it, Gemma3ForCausalLM (`gemma3_text`) does (tools/make_gemma3_vlm_softcap_fixture.py).
final class LogitSoftcapModelClassTests: XCTestCase {
    static let fixtures = Fixtures.url("gemma3-vlm")

    /// The fixture VLM whose config.json sets the cap (softcap/config.json), with the reference tokenizer.
    static func cappedModelDirectory() throws -> URL {
        let dir = try TestPaths.modelWithTokenizer(fixtures.appendingPathComponent("model"))
        let config = dir.appendingPathComponent("config.json")
        try FileManager.default.removeItem(at: config)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("softcap/config.json"), to: config)
        return dir
    }

    func testMultimodalConfigRecordsTheCapButDoesNotApplyIt() throws {
        let (text, _) = try Gemma3TextConfig.load(configURL: Self.fixtures.appendingPathComponent("softcap/config.json"))
        XCTAssertEqual(text.finalLogitSoftcapping, 10)
        XCTAssertNil(text.outputLogitSoftcap)
    }

    func testTextOnlyConfigKeepsCapping() throws {
        let (text, _) = try Gemma3TextConfig.load(configURL: Fixtures.url("gemma3-text/softcap-mqa/config.json"))
        XCTAssertEqual(text.outputLogitSoftcap, 3)
    }

    func testCappedMultimodalConfigGivesTheReferenceLogits() throws {
        let exp = try Fixtures.json("gemma3-vlm/softcap/expected.json")
        let refLast = try NPYFile.read(Self.fixtures.appendingPathComponent("softcap/logits_last.npy")).floats()
        // The fixture's cap bites: capping the reference would move it far beyond the tolerance below.
        let effect = try XCTUnwrap(exp["max_abs_change_if_capped"] as? Double)
        let scale = refLast.map { abs($0) }.max() ?? 0
        XCTAssertGreaterThan(Float(effect), 0.1 * scale)

        let m = try ModelLoader.load(path: try Self.cappedModelDirectory().path, computeMode: .f32)
        let vision = try XCTUnwrap(m.vision)
        let c = try Fixtures.json("gemma3-vlm/at-size/expected.json")
        let ids = ints(c["input_ids"])
        let feats = try vision.imageTokens(pixelValues: try NPYFile.read(Self.fixtures.appendingPathComponent("at-size/pixel_values.npy")).floats())
        let prompt = try m.model.promptInput(ids: ids, imageTokens: [feats], imageTokenID: vision.settings.imageTokenID)
        // Generation's first logits go through the same output head as scoring.
        let g = try m.model.generateGreedy(prompt: prompt, maxNewTokens: 2, stopIDs: [])
        let (d, s) = maxAbsDiff(g.firstLogits, refLast)
        XCTAssertLessThanOrEqual(d, 1e-3 * s, "max |Δlogit| \(d) (the cap would move logits by up to \(effect))")
        XCTAssertEqual(g.tokenIDs, Array(ints(c["greedy_ids"]).prefix(2)))
        // The probe path (selected vocabulary rows) follows the same rule.
        let cache = try m.model.makeCache(tokens: ids.count)
        let hidden = try m.model.forward(embeddings: prompt.embeddings, cache: cache, extraVisible: prompt.extraVisible)
        let probe = ints(c["probe_ids"])
        let rows = try m.model.logits(try hidden.rows((ids.count - 1)..<ids.count), forTokens: probe).floats()
        let (dp, _) = maxAbsDiff(rows, probe.map { refLast[$0] })
        XCTAssertLessThanOrEqual(dp, 1e-3 * s, "probe logits max |Δ| \(dp)")
    }
}
