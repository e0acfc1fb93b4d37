import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor

/// The real Gemma 3 270M, through its GGUF and through a safetensors export: prompt ids, greedy
/// continuations and last-position logits against transformers (tools/make_gemma3_270m_reference.py).
final class Gemma3RealModelTests: XCTestCase {
    struct Case {
        let name: String, mode: String, text: String
        let promptIDs: [Int], greedyIDs: [Int]
        let top5IDs: [Int], top5Logits: [Float]
    }

    static func cases() throws -> [Case] {
        let exp = try Fixtures.json("gemma3-270m/expected.json")
        let list = try XCTUnwrap(exp["cases"] as? [[String: Any]])
        return try list.map { c in
            let top = try XCTUnwrap(c["last_position_top5"] as? [String: Any])
            return Case(name: c["name"] as? String ?? "?", mode: c["mode"] as? String ?? "raw", text: c["text"] as? String ?? "",
                        promptIDs: ints(c["prompt_ids"]), greedyIDs: ints(c["greedy_ids"]),
                        top5IDs: ints(top["ids"]), top5Logits: (top["logits"] as? [NSNumber] ?? []).map(\.floatValue))
        }
    }

    func check(_ loaded: LoadedModel, label: String) throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for c in cases {
            let ids = c.mode == "raw" ? loaded.tokenizer.encode(c.text, addBOS: true) : try loaded.chatPromptIDs(text: c.text, system: nil)
            XCTAssertEqual(ids, c.promptIDs, "\(label) \(c.name): prompt ids")
            let stops = c.mode == "chat" ? loaded.chatStopIDs : loaded.stopIDs
            let r = try loaded.model.generateGreedy(promptIDs: c.promptIDs, maxNewTokens: c.greedyIDs.count, stopIDs: stops)
            XCTAssertEqual(r.tokenIDs, c.greedyIDs, "\(label) \(c.name): greedy continuation")
            let scale = c.top5Logits.map(abs).max() ?? 1
            for (id, v) in zip(c.top5IDs, c.top5Logits) {
                XCTAssertEqual(r.firstLogits[id], v, accuracy: 1e-3 * scale, "\(label) \(c.name): logit of token \(id)")
            }
        }
    }

    func testGGUFMatchesTransformers() throws {
        try check(try ModelLoader.load(path: try Fixtures.gemma270mGGUF().path, computeMode: .f32), label: "gguf")
    }

    func testSafetensorsExportMatchesTransformers() throws {
        try check(try ModelLoader.load(path: try Fixtures.gemma270mExport().path, computeMode: .f32), label: "export")
    }

    func testGGUFConfigurationAsTransformersDerivesIt() throws {
        let loaded = try ModelLoader.load(path: try Fixtures.gemma270mGGUF().path)
        let exp = try Fixtures.json("gemma3-270m/expected.json")
        let cfg = try XCTUnwrap(exp["config"] as? [String: Any])
        let c = loaded.model.config
        XCTAssertEqual(c.layerTypes.map(\.rawValue), cfg["layer_types"] as? [String])
        XCTAssertEqual(c.slidingWindow, (cfg["sliding_window"] as? NSNumber)?.intValue)
        XCTAssertEqual(c.queryPreAttnScalar, (cfg["query_pre_attn_scalar"] as? NSNumber)?.doubleValue)
        XCTAssertEqual(c.vocabSize, (cfg["vocab_size"] as? NSNumber)?.intValue)
        XCTAssertEqual(c.headDim, (cfg["head_dim"] as? NSNumber)?.intValue)
        XCTAssertNil(c.finalLogitSoftcapping)
        let rope = try XCTUnwrap(cfg["rope_parameters"] as? [String: [String: Any]])
        XCTAssertEqual(c.rope[.full]?.theta, (rope["full_attention"]?["rope_theta"] as? NSNumber)?.doubleValue)
        XCTAssertEqual(c.rope[.sliding]?.theta, (rope["sliding_attention"]?["rope_theta"] as? NSNumber)?.doubleValue)
    }
}
