import Foundation
import XCTest
import TestSupport
import LoRA
import MedGemma
import ModelFiles
import Tensor

/// Adapters made with peft on the tiny Gemma 3 VLM (tools/make_lora_fixtures.py): logits, image features
/// and greedy tokens within 1e-3 relative of peft in float32; several adapters and the bare base on one
/// loaded model.
final class LoRAParityTests: XCTestCase {
    static let adapters = ["all-linear", "qv-rslora", "regex-layers", "regex-target"]

    func testEveryAdapterAndTheBareBaseOnOneLoadedModel() throws {
        let model = try ModelLoader.load(path: try LoRAFixtures.baseModelDirectory().path, computeMode: .f32)
        for a in Self.adapters {
            try model.attachAdapter(directory: LoRAFixtures.url("lora/\(a)"), name: a)
        }
        for name in ["at-size", "resize-large-rgb"] {
            // Bare base on the same weights: the base fixture's values.
            let base = try CaseRun(model, case: name, adapter: nil)
            let baseExp = try LoRAFixtures.json("gemma3-vlm/\(name)/expected.json")
            XCTAssertEqual(base.greedy, ints(baseExp["greedy_ids"]), "\(name): bare base greedy")
            let baseProbe = try LoRAFixtures.npy("gemma3-vlm/\(name)/logits_probe.npy")
            let (db, sb) = maxAbsDiff(base.probeLogits, baseProbe)
            XCTAssertLessThanOrEqual(db, 1e-3 * sb, "\(name): bare base probe logits")

            for a in Self.adapters {
                let exp = try LoRAFixtures.json("lora/\(a)/expected.json")
                let c = try XCTUnwrap((exp["cases"] as? [String: Any])?[name] as? [String: Any])
                let run = try CaseRun(model, case: name, adapter: a)
                XCTAssertEqual(run.greedy, ints(c["greedy_ids"]), "\(a) \(name): greedy")
                let probe = try LoRAFixtures.npy("lora/\(a)/\(c["logits_probe_file"] as? String ?? "")")
                let (d, s) = maxAbsDiff(run.probeLogits, probe)
                XCTAssertLessThanOrEqual(d, 1e-3 * s, "\(a) \(name): probe logits at every position (max |Δ| \(d), max \(s))")
                if let f = c["logits_last_file"] as? String {
                    let (dl, sl) = maxAbsDiff(run.lastLogits, try LoRAFixtures.npy("lora/\(a)/\(f)"))
                    XCTAssertLessThanOrEqual(dl, 1e-3 * sl, "\(a) \(name): last logits")
                }
                if let f = c["image_features_file"] as? String {
                    let (di, si) = maxAbsDiff(run.imageFeatures, try LoRAFixtures.npy("lora/\(a)/\(f)"))
                    XCTAssertLessThanOrEqual(di, 1e-3 * max(si, 1), "\(a) \(name): image features (vision LoRA)")
                }
                // The adapter really changes the output (guards against a silently ignored adapter).
                XCTAssertGreaterThan(maxAbsDiff(run.probeLogits, base.probeLogits).diff, 1e-2, "\(a) \(name): adapter has no effect")
            }
        }
    }

    func testOlderTransformersKeyLayouts() throws {
        let model = try ModelLoader.load(path: try LoRAFixtures.baseModelDirectory().path, computeMode: .f32)
        let exp = try LoRAFixtures.json("lora/all-linear/expected.json")
        let c = try XCTUnwrap((exp["cases"] as? [String: Any])?["at-size"] as? [String: Any])
        let probe = try LoRAFixtures.npy("lora/all-linear/logits_probe_at-size.npy")
        for layout in ["transformers-4.50", "transformers-4.52"] {
            let adapter = try model.attachAdapter(directory: LoRAFixtures.url("lora/layouts/\(layout)"), name: layout)
            XCTAssertEqual(adapter.deltas.count, 40, layout)
            let run = try CaseRun(model, case: "at-size", adapter: layout)
            XCTAssertEqual(run.greedy, ints(c["greedy_ids"]), layout)
            let (d, s) = maxAbsDiff(run.probeLogits, probe)
            XCTAssertLessThanOrEqual(d, 1e-3 * s, layout)
        }
    }

    func testAllLinearCoversTheVisionTower() throws {
        let model = try ModelLoader.load(path: try LoRAFixtures.baseModelDirectory().path, computeMode: .f32)
        let adapter = try model.attachAdapter(directory: LoRAFixtures.url("lora/all-linear"), name: "a")
        let exp = try LoRAFixtures.json("lora/all-linear/expected.json")
        XCTAssertEqual(adapter.deltas.count, (exp["num_wrapped_modules"] as? NSNumber)?.intValue)
        XCTAssertTrue(adapter.deltas.keys.contains { $0.hasPrefix("vision_tower.") })
        XCTAssertTrue(adapter.deltas.keys.contains { $0.hasPrefix("language_model.") })
        XCTAssertEqual(adapter.deltas["language_model.layers.0.self_attn.q_proj"]?.scale, 2)
    }

    func testRSLoRAAndPatterns() throws {
        let model = try ModelLoader.load(path: try LoRAFixtures.baseModelDirectory().path, computeMode: .f32)
        let adapter = try model.attachAdapter(directory: LoRAFixtures.url("lora/qv-rslora"), name: "q")
        let exp = try LoRAFixtures.json("lora/qv-rslora/expected.json")
        let modules = try XCTUnwrap(exp["modules"] as? [String: [String: Any]])
        XCTAssertEqual(adapter.deltas.count, modules.count)
        for (peftName, info) in modules {
            var canonical = peftName
            for (from, to) in [("model.vision_tower.", "vision_tower."), ("model.language_model.", "language_model.")] where canonical.hasPrefix(from) {
                canonical = to + canonical.dropFirst(from.count)
            }
            let delta = try XCTUnwrap(adapter.deltas[canonical], peftName)
            XCTAssertEqual(delta.rank, (info["r"] as? NSNumber)?.intValue, peftName)
            XCTAssertEqual(Double(delta.scale), (info["scaling"] as? NSNumber)?.doubleValue ?? .nan, accuracy: 1e-6, peftName)
        }
    }
}
