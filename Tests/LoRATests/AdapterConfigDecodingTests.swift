import Foundation
import LoRA
import XCTest

/// adapter_config.json through the `Decodable` `AdapterConfig`: peft's defaults, nulls as peft reads them,
/// refusals naming the file.
final class AdapterConfigDecodingTests: XCTestCase {
    func config(_ json: String) throws -> AdapterConfig {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("adapter_config.json")
        try Data(json.utf8).write(to: url)
        return try AdapterConfig(url: url)
    }

    func refusal(_ json: String, mentions needles: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try config(json), file: file, line: line) { error in
            let message = "\(error)"
            for n in needles + ["adapter_config.json"] { XCTAssertTrue(message.contains(n), "'\(n)' missing from: \(message)", file: file, line: line) }
        }
    }

    func testDefaultsAndNulls() throws {
        let c = try config(#"""
            {"r": 4, "target_modules": ["q_proj", "v_proj"], "exclude_modules": null, "lora_alpha": null,
             "layers_to_transform": null, "rank_pattern": {}, "modules_to_save": null, "bias": "none"}
            """#)
        XCTAssertEqual(c.rank, 4)
        XCTAssertEqual(c.alpha, 8, "peft's default lora_alpha")
        XCTAssertFalse(c.useRSLoRA)
        XCTAssertEqual(c.targets, .names(["q_proj", "v_proj"]))
        XCTAssertNil(c.excluded)
        XCTAssertNil(c.layersToTransform)
        XCTAssertTrue(c.source.hasSuffix("adapter_config.json"))
        XCTAssertEqual(c.rankAndScale(module: "model.layers.0.self_attn.q_proj").scale, 2)

        let regex = try config(#"{"r": 8, "lora_alpha": 16, "use_rslora": true, "target_modules": ".*\\.(q|v)_proj", "layers_to_transform": 3, "layers_pattern": "layers"}"#)
        XCTAssertEqual(regex.targets, .regex(#".*\.(q|v)_proj"#))
        XCTAssertEqual(regex.layersToTransform, [3])
        XCTAssertEqual(regex.layersPattern, ["layers"])
        XCTAssertEqual(try config(#"{"r": 2, "target_modules": "all-linear"}"#).targets, .allLinear)
    }

    func testRefusals() {
        refusal(#"{"target_modules": ["q_proj"]}"#, mentions: ["'r' must be a positive integer"])
        refusal(#"{"r": 0, "target_modules": ["q_proj"]}"#, mentions: ["'r' must be a positive integer"])
        refusal(#"{"r": 4}"#, mentions: ["'target_modules' is missing"])
        refusal(#"{"r": 4, "target_modules": 7}"#, mentions: ["'target_modules' must be a list of names"])
        refusal(#"{"r": 4, "target_modules": ["q_proj"], "rank_pattern": {"q_proj": "x"}}"#, mentions: ["rank_pattern['q_proj']"])
        refusal(#"{"r": 4, "target_modules": ["q_proj"], "peft_type": "IA3"}"#, mentions: ["peft_type 'IA3'", "is not supported"])
        refusal(#"{"r": 4, "target_modules": ["q_proj"], "modules_to_save": ["lm_head"]}"#, mentions: ["modules_to_save (lm_head) is not supported"])
        refusal(#"{"r": 4, "target_modules": ["q_proj"], "bias": "all"}"#, mentions: ["bias training"])
        refusal("[]", mentions: ["not a JSON object"])
    }
}
