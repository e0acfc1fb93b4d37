import Foundation
import XCTest
import TestSupport
import LoRA
import MedGemma

/// Broken adapters (tools/make_lora_fixtures.py, Tests/Fixtures/lora/bad): each refused with a message
/// that names the file, the tensor or feature, and what was expected.
final class LoRABadInputTests: XCTestCase {
    static let model: Result<LoadedModel, Error> = Result { try ModelLoader.load(path: try LoRAFixtures.baseModelDirectory().path, computeMode: .f32) }

    func expectRefusal(_ name: String, mentioning needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try Self.model.get()
        XCTAssertThrowsError(try model.attachAdapter(directory: LoRAFixtures.url("lora/bad/\(name)"), name: name), file: file, line: line) { error in
            let message = "\(error)"
            for n in needles { XCTAssertTrue(message.contains(n), "'\(n)' missing from: \(message)", file: file, line: line) }
        }
        // Nothing of a refused adapter stays attached.
        XCTAssertTrue(model.linearLayers.values.allSatisfy { $0.adapters[name] == nil }, file: file, line: line)
    }

    func testShapeMismatch() throws {
        try expectRefusal("shape-mismatch", mentioning: ["layers.0.self_attn.q_proj.lora_A.weight", "[4, 16]", "[4, 8]", "adapter_model.safetensors"])
    }
    func testMissingB() throws { try expectRefusal("missing-lora-b", mentioning: ["v_proj", "lora_B"]) }
    func testRankContradictsConfig() throws { try expectRefusal("rank-mismatch", mentioning: ["rank 4", "r = 8"]) }
    func testDoRA() throws { try expectRefusal("dora", mentioning: ["DoRA", "adapter_config.json"]) }
    func testModulesToSave() throws { try expectRefusal("modules-to-save", mentioning: ["modules_to_save"]) }
    func testPickledAdapter() throws { try expectRefusal("bin-only", mentioning: ["adapter_model.bin", "safetensors"]) }
    func testKeyMatchingNoModule() throws { try expectRefusal("unknown-key", mentioning: ["layers.7.self_attn.q_proj", "matches no linear layer"]) }

    func testMissingDirectory() throws {
        let model = try Self.model.get()
        XCTAssertThrowsError(try model.attachAdapter(directory: URL(fileURLWithPath: "/nonexistent/adapter"), name: "x")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/adapter/adapter_config.json"), "\(e)")
        }
    }

    func testConfigTargetingOtherModulesContradictsTensors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lora-contra-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = LoRAFixtures.url("lora/qv-rslora")
        try FileManager.default.copyItem(at: src.appendingPathComponent("adapter_model.safetensors"), to: dir.appendingPathComponent("adapter_model.safetensors"))
        var cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        cfg["target_modules"] = ["k_proj"]
        try JSONSerialization.data(withJSONObject: cfg).write(to: dir.appendingPathComponent("adapter_config.json"))
        let model = try Self.model.get()
        XCTAssertThrowsError(try model.attachAdapter(directory: dir, name: "c")) { e in
            XCTAssertTrue("\(e)".contains("not among target_modules"), "\(e)")
        }
    }
}
