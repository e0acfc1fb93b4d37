import Foundation
import MedGemma
import XCTest

/// config.json and generation_config.json through the `Decodable` configurations: transformers' defaults
/// for missing keys, `null` where transformers gives None a meaning, typed refusals naming file and key.
final class ConfigDecodingTests: XCTestCase {
    func write(_ json: String, name: String = "config.json") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(json.utf8).write(to: url)
        return url
    }

    func load(_ json: String) throws -> Gemma3Config { try Gemma3Config.load(configURL: try write(json)) }

    func refusal(_ json: String, mentions needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try write(json)
        XCTAssertThrowsError(try Gemma3Config.load(configURL: url), file: file, line: line) { error in
            let message = "\(error)"
            for n in needles + [url.path] { XCTAssertTrue(message.contains(n), "'\(n)' missing from: \(message)", file: file, line: line) }
        }
    }

    func testDefaultsAreTransformers() throws {
        let c = try load(#"{"model_type": "gemma3_text"}"#)
        let t = c.text
        XCTAssertEqual([t.vocabSize, t.hiddenSize, t.intermediateSize, t.numLayers, t.numHeads, t.numKVHeads, t.headDim],
                       [262_208, 2304, 9216, 26, 8, 4, 256])
        XCTAssertEqual(t.slidingWindow, 4096)
        XCTAssertEqual(t.layerTypes.filter { $0 == .full }.count, 4, "every sixth of 26 layers is global")
        XCTAssertEqual(t.rope[.full]?.theta, 1_000_000)
        XCTAssertEqual(t.rope[.full]?.linearFactor, 1)
        XCTAssertEqual(t.rope[.sliding]?.theta, 10_000)
        XCTAssertEqual(t.bosTokenID, 2)
        XCTAssertEqual(t.eosTokenIDs, [1])
        XCTAssertEqual(t.padTokenID, 0)
        XCTAssertNil(c.vision)
        XCTAssertTrue(t.appliesFinalLogitSoftcapping)
    }

    func testNullsWhereTransformersAcceptsThem() throws {
        let t = try load(#"""
            {"model_type": "gemma3_text", "num_hidden_layers": 2, "layer_types": ["full_attention", "full_attention"],
             "sliding_window": null, "bos_token_id": null, "pad_token_id": null, "eos_token_id": null,
             "final_logit_softcapping": null, "rms_norm_eps": null, "vocab_size": 10.0}
            """#).text
        XCTAssertNil(t.slidingWindow)
        XCTAssertNil(t.bosTokenID)
        XCTAssertNil(t.padTokenID)
        XCTAssertEqual(t.eosTokenIDs, [])
        XCTAssertNil(t.finalLogitSoftcapping)
        XCTAssertEqual(t.rmsNormEps, 1e-6, "null keeps the default")
        XCTAssertEqual(t.vocabSize, 10, "an integral float is an integer")
    }

    func testTypedRefusals() throws {
        // A boolean is not an integer (JSON keeps them apart; the old dictionary reader took true for 1).
        try refusal(#"{"model_type": "gemma3_text", "vocab_size": true}"#, mentions: ["'vocab_size' must be an integer, found true"])
        try refusal(#"{"model_type": "gemma3_text", "head_dim": 2.5}"#, mentions: ["'head_dim' must be an integer, found 2.5"])
        try refusal(#"{"model_type": "gemma3_text", "hidden_size": "big"}"#, mentions: ["'hidden_size' must be an integer"])
        try refusal(#"{"model_type": "gemma3_text", "hidden_size": 0}"#, mentions: ["'hidden_size' must be positive, found 0"])
        try refusal(#"{"model_type": "gemma3_text", "rms_norm_eps": "small"}"#, mentions: ["'rms_norm_eps' must be a number"])
        try refusal(#"{"model_type": "gemma3_text", "num_attention_heads": 6, "num_key_value_heads": 4}"#, mentions: ["not a multiple of num_key_value_heads"])
        try refusal(#"{"model_type": "gemma3_text", "rope_scaling": {"rope_type": "yarn", "factor": 2}}"#, mentions: ["rope type 'yarn'"])
        try refusal(#"{"model_type": "gemma3", "text_config": {"head_dim": 7}}"#, mentions: ["(text_config)", "head_dim 7 must be even"])
        try refusal(#"{"model_type": "llama"}"#, mentions: ["llama"])
        try refusal(#"{}"#, mentions: ["(no model_type)"])
        try refusal(#"[1, 2]"#, mentions: ["not a JSON object"])
    }

    func testGemma3RootCarriesTextVisionAndIds() throws {
        let c = try load(#"""
            {"model_type": "gemma3", "eos_token_id": [1, 106], "bos_token_id": 2,
             "text_config": {"num_hidden_layers": 6, "bos_token_id": 5, "final_logit_softcapping": 30.0,
                             "rope_scaling": {"rope_type": "linear", "factor": 8.0}},
             "vision_config": {"image_size": [896, 896], "patch_size": 14, "hidden_size": 1152, "num_attention_heads": 16},
             "mm_tokens_per_image": 256, "image_token_index": 262144}
            """#)
        XCTAssertEqual(c.text.eosTokenIDs, [1, 106], "the outer ids fill in what text_config leaves out")
        XCTAssertEqual(c.text.bosTokenID, 5, "text_config's own id wins")
        XCTAssertFalse(c.text.appliesFinalLogitSoftcapping, "Gemma3ForConditionalGeneration never applies it")
        XCTAssertEqual(c.text.rope[.full]?.theta, 1_000_000)
        XCTAssertEqual(c.text.rope[.full]?.linearFactor, 8)
        let v = try XCTUnwrap(c.vision)
        XCTAssertEqual(v.vision.imageSize, 896)
        XCTAssertEqual(v.vision.patchesPerSide, 64)
        XCTAssertEqual(v.mmTokensPerImage, 256)
        XCTAssertNoThrow(try v.validate(source: "config.json"))
        var bad = v
        bad.mmTokensPerImage = 255
        XCTAssertThrowsError(try bad.validate(source: "config.json")) { XCTAssertTrue("\($0)".contains("mm_tokens_per_image 255"), "\($0)") }
        try refusal(#"{"model_type": "gemma3", "vision_config": {"image_size": [896, 448]}}"#, mentions: ["(vision_config)", "must be square"])
    }

    func testGenerationConfig() throws {
        let dir = try write(#"{"eos_token_id": [1, 106], "do_sample": false}"#, name: "generation_config.json").deletingLastPathComponent()
        XCTAssertEqual(try Gemma3GenerationConfig.load(directory: dir)?.eosTokenIDs, [1, 106])
        let single = try write(#"{"eos_token_id": 1}"#, name: "generation_config.json").deletingLastPathComponent()
        XCTAssertEqual(try Gemma3GenerationConfig.load(directory: single)?.eosTokenIDs, [1])
        XCTAssertNil(try Gemma3GenerationConfig.load(directory: URL(fileURLWithPath: "/nonexistent")))
        let broken = try write("{", name: "generation_config.json").deletingLastPathComponent()
        XCTAssertThrowsError(try Gemma3GenerationConfig.load(directory: broken)) { XCTAssertTrue("\($0)".contains("not a JSON object"), "\($0)") }
    }
}
