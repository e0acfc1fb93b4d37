import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor

/// Logits and greedy tokens against transformers on tiny random models (fixtures by
/// tools/make_gemma3_text_fixtures.py).
final class Gemma3TextParityTests: XCTestCase {
    func loadCase(_ name: String, mode: ComputeMode = .f32) throws -> (Gemma3TextModel, [String: Any]) {
        let dir = Fixtures.url("gemma3-text/\(name)")
        let (config, _) = try Gemma3TextConfig.load(configURL: dir.appendingPathComponent("config.json"))
        let ckpt = try SafeTensorsCheckpoint(directory: dir)
        let model = try Gemma3TextModel(config: config, source: SafeTensorsWeights(ckpt, name: dir.path), prefix: "model.",
                                        lmHeadName: "lm_head.weight", computeMode: mode)
        return (model, try Fixtures.json("gemma3-text/\(name)/expected.json"))
    }

    /// All-position logits of the prompt.
    func promptLogits(_ model: Gemma3TextModel, _ ids: [Int]) throws -> [Float] {
        let cache = try model.makeCache(tokens: ids.count)
        let h = try model.forward(embeddings: try model.embed(ids), cache: cache)
        return try model.logits(h).floats()
    }

    func checkF32Case(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (model, exp) = try loadCase(name)
        let prompt = ints(exp["prompt_ids"])
        let ref = try NPYFile.read(Fixtures.url("gemma3-text/\(name)/logits.npy")).floats()
        let ours = try promptLogits(model, prompt)
        let (d, s) = maxAbsDiff(ours, ref)
        XCTAssertLessThanOrEqual(d, 1e-3 * s, "\(name): max |Δlogit| \(d) vs max |logit| \(s)", file: file, line: line)
        // Incremental decoding must give the same distribution as the full pass.
        let greedy = try model.generateGreedy(promptIDs: prompt, maxNewTokens: 12, stopIDs: [])
        XCTAssertEqual(greedy.tokenIDs, ints(exp["greedy_ids"]), "\(name): greedy tokens", file: file, line: line)
        let lastRef = Array(ref[(prompt.count - 1) * model.config.vocabSize..<prompt.count * model.config.vocabSize])
        let (d1, s1) = maxAbsDiff(greedy.firstLogits, lastRef)
        XCTAssertLessThanOrEqual(d1, 1e-3 * s1, file: file, line: line)
        // The logits along the greedy path (cached decode steps).
        let gl = try NPYFile.read(Fixtures.url("gemma3-text/\(name)/greedy_logits.npy")).floats()
        let cache = try model.makeCache(tokens: prompt.count + 12)
        var h = try model.forward(embeddings: try model.embed(prompt), cache: cache)
        var steps: [Float] = try model.logits(try h.rows((prompt.count - 1)..<prompt.count)).floats()
        for id in ints(exp["greedy_ids"]).dropLast() {
            h = try model.forward(embeddings: try model.embed([id]), cache: cache)
            steps += try model.logits(h).floats()
        }
        let (d2, s2) = maxAbsDiff(steps, gl)
        XCTAssertLessThanOrEqual(d2, 1e-3 * s2, "\(name): decode-step logits", file: file, line: line)
    }

    func testSlidingWindowGQAParity() throws { try checkF32Case("sliding-gqa") }

    func testSoftcapMQAParity() throws { try checkF32Case("softcap-mqa") }

    func testSoftcappingIsActive() throws {
        // Guard that the fixture really exercises capping: every logit lies strictly inside ±cap.
        let (model, _) = try loadCase("softcap-mqa")
        let cap = try XCTUnwrap(model.config.finalLogitSoftcapping)
        XCTAssertNotNil(model.config.attnLogitSoftcapping)
        let ref = try NPYFile.read(Fixtures.url("gemma3-text/softcap-mqa/logits.npy")).floats()
        XCTAssertLessThan(ref.map(abs).max()!, cap)
        XCTAssertGreaterThan(ref.map(abs).max()!, 0.5 * cap)
    }

    func testBF16WeightsInFloat32MatchFloat32Reference() throws {
        for name in ["bf16", "bf16-softcap"] {
            let (model, _) = try loadCase(name, mode: .f32)
            let exp = try Fixtures.json("gemma3-text/\(name)/expected.json")
            let ref = try NPYFile.read(Fixtures.url("gemma3-text/\(name)/logits_f32ref.npy")).floats()
            let ours = try promptLogits(model, ints(exp["prompt_ids"]))
            let (d, s) = maxAbsDiff(ours, ref)
            XCTAssertLessThanOrEqual(d, 1e-3 * s, "\(name) f32 compute on bf16 weights")
        }
    }

    /// bf16 arithmetic against transformers in bf16. Both round differently (the reference rounds every
    /// intermediate to bf16, we keep float32 between products), so the bound is: within 6% of max |logit|
    /// of transformers-bf16, and no further from the float32 truth than transformers-bf16 itself is (+25%).
    func testBF16ComputeWithinDocumentedBound() throws {
        for name in ["bf16", "bf16-softcap"] {
            let (model, exp) = try loadCase(name, mode: .bf16)
            let refBF16 = try NPYFile.read(Fixtures.url("gemma3-text/\(name)/logits.npy")).floats()
            let refF32 = try NPYFile.read(Fixtures.url("gemma3-text/\(name)/logits_f32ref.npy")).floats()
            let ours = try promptLogits(model, ints(exp["prompt_ids"]))
            let (d, s) = maxAbsDiff(ours, refBF16)
            let (dTruth, _) = maxAbsDiff(ours, refF32)
            let (dRef, _) = maxAbsDiff(refBF16, refF32)
            XCTAssertLessThanOrEqual(d, 0.06 * s, "\(name) bf16 compute vs transformers bf16: max |Δ| \(d), max |logit| \(s)")
            XCTAssertLessThanOrEqual(dTruth, 1.25 * dRef, "\(name): ours-bf16 vs f32 \(dTruth); transformers-bf16 vs f32 \(dRef)")
            print("bf16 parity \(name): vs transformers-bf16 max |Δ| = \(d) (\(d / s) of max |logit|); vs f32: ours \(dTruth), transformers-bf16 \(dRef)")
        }
    }
}
