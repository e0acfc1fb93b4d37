import Foundation
import LoRA
import MedGemma
import ModelFiles
import Tensor
import TestSupport
import XCTest
@testable import Training

/// The PEFT adapter writer against adapters saved by peft 0.21.2 itself (tools/make_optimizer_fixtures.py:
/// training-optim/peft-vlm on the tiny Gemma3ForConditionalGeneration, all-linear r 2; training-optim/peft-text
/// on the tiny Gemma3ForCausalLM, q/v r 4): given peft's A/B values under our parameter names, our files hold
/// the same tensor names, dtypes, shapes and bytes and a config with the same fields and values, and our own
/// loader reads them back to the same deltas.
final class AdapterWriterTests: XCTestCase {
    struct Setup {
        var fixture: String
        var writer: PEFTAdapterWriter
        var baseModel: String
        var peftPrefix: String     // what peft puts before the canonical path after "base_model.model."
        var canonicalPrefix: String
        var modules: Int
    }

    static let vlm = Setup(fixture: "training-optim/peft-vlm",
                           writer: PEFTAdapterWriter(architecture: .conditionalGeneration, rank: 2, alpha: 4, dropout: 0.1,
                                                     targets: .allLinear, baseModelNameOrPath: "Tests/Fixtures/gemma3-vlm/model"),
                           baseModel: "gemma3-vlm/model", peftPrefix: "model.", canonicalPrefix: "", modules: 40)
    static let text = Setup(fixture: "training-optim/peft-text",
                            writer: PEFTAdapterWriter(architecture: .causalLM, rank: 4, alpha: 8, dropout: 0.05,
                                                      targets: .names(["q_proj", "v_proj"]), baseModelNameOrPath: "Tests/Fixtures/gemma3-text/sliding-gqa"),
                            baseModel: "gemma3-text/sliding-gqa", peftPrefix: "model.", canonicalPrefix: "language_model.", modules: 8)

    /// peft's tensors as our parameters: "base_model.model.<peftPrefix><rest>" → "<canonicalPrefix><rest>".
    func parameters(_ s: Setup) throws -> [Parameter] {
        let file = try SafeTensorsFile(url: TestPaths.fixture(s.fixture).appendingPathComponent("adapter_model.safetensors"))
        return try file.names.sorted().map { key in
            let head = "base_model.model." + s.peftPrefix
            XCTAssertTrue(key.hasPrefix(head), key)
            return Parameter(name: s.canonicalPrefix + key.dropFirst(head.count), value: try file.tensor(key))
        }
    }

    func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("adapter-writer-\(UUID().uuidString)")
    }

    func check(_ s: Setup) throws {
        let params = try parameters(s)
        XCTAssertEqual(params.count, 2 * s.modules)
        let out = tempDir()
        defer { try? FileManager.default.removeItem(at: out) }
        try s.writer.write(parameters: params, to: out)

        // Tensors: same names, dtypes, shapes, bytes; metadata as peft's.
        let ref = try SafeTensorsFile(url: TestPaths.fixture(s.fixture).appendingPathComponent("adapter_model.safetensors"))
        let ours = try SafeTensorsFile(url: out.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertEqual(Set(ours.names), Set(ref.names))
        XCTAssertEqual(ours.metadata, ref.metadata)
        for name in ref.names {
            let a = try ref.info(name), b = try ours.info(name)
            XCTAssertEqual(b.dtype, a.dtype, name)
            XCTAssertEqual(b.dtype.rawValue, "F32", name)
            XCTAssertEqual(b.shape, a.shape, name)
            XCTAssertEqual(try ours.tensor(name).floats().map(\.bitPattern), try ref.tensor(name).floats().map(\.bitPattern), name)
        }
        // The wrapped-module list recorded by the generator matches what we write.
        let recorded = try XCTUnwrap(try TestPaths.json(s.fixture + "/modules.json")["wrapped_modules"] as? [String])
        XCTAssertEqual(try s.writer.modules(of: params).map { "base_model.model." + (try s.writer.peftModule($0)) }, recorded.sorted())

        // Config: every field peft writes, the same values (target_modules as a set: peft writes set order).
        let refConfig = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.fixture(s.fixture).appendingPathComponent("adapter_config.json"))) as? [String: Any])
        let ourConfig = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(Set(ourConfig.keys), Set(refConfig.keys))
        for (k, v) in refConfig {
            if k == "target_modules" {
                XCTAssertEqual(Set(try XCTUnwrap(ourConfig[k] as? [String])), Set(try XCTUnwrap(v as? [String])), k)
            } else {
                XCTAssertEqual(ourConfig[k] as? NSObject, v as? NSObject, k)
            }
        }
        // Our loader reads our output back: same deltas, scale alpha / r.
        let model = try ModelLoader.load(path: try TestPaths.modelWithTokenizer(TestPaths.fixture(s.baseModel)).path, computeMode: .f32)
        let adapter = try LoRAAdapter(directory: out, name: "ours", layers: model.linearLayers)
        XCTAssertEqual(adapter.deltas.count, s.modules)
        let byName = Dictionary(uniqueKeysWithValues: params.map { ($0.name, $0) })
        for (module, delta) in adapter.deltas {
            XCTAssertEqual(delta.scale, Float(s.writer.alpha / Double(s.writer.rank)), module)
            XCTAssertEqual(delta.a.floats(), byName[module + ".lora_A.weight"]?.value.floats(), module)
            XCTAssertEqual(delta.b.floats(), byName[module + ".lora_B.weight"]?.value.floats(), module)
        }
        // And read(into:) restores the parameters from the files.
        let blank = params.map { Parameter(name: $0.name, value: Tensor(zeros: $0.shape)) }
        try s.writer.read(into: blank, from: out)
        for (p, q) in zip(blank, params) { XCTAssertEqual(p.value.floats().map(\.bitPattern), q.value.floats().map(\.bitPattern), p.name) }
    }

    func testVisionLanguageModelAllLinearLikePeft() throws { try check(Self.vlm) }

    func testTextOnlyModelLikePeft() throws { try check(Self.text) }

    /// Writes an adapter for the by-hand peft check (tools/check_adapter_with_peft.py) into
    /// $DSA_KEEP_ADAPTER_DIR when set, with our float32 logits for the at-size case of the tiny VLM.
    func testKeepAdapterForPeftCheck() throws {
        let params = try parameters(Self.vlm)
        let keep = ProcessInfo.processInfo.environment["DSA_KEEP_ADAPTER_DIR"].map { URL(fileURLWithPath: $0) }
        let out = keep ?? tempDir()
        defer { if keep == nil { try? FileManager.default.removeItem(at: out) } }
        try Self.vlm.writer.write(parameters: params, to: out.appendingPathComponent("adapter"))
        let model = try ModelLoader.load(path: try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model")).path, computeMode: .f32)
        try model.attachAdapter(directory: out.appendingPathComponent("adapter"), name: "ours")
        let exp = try TestPaths.json("gemma3-vlm/at-size/expected.json")
        let ids = ints(exp["input_ids"])
        let vision = try XCTUnwrap(model.vision)
        let pixels = try NPYFile.read(TestPaths.fixture("gemma3-vlm/at-size/pixel_values.npy")).floats()
        let feats = try vision.imageTokens(pixelValues: pixels, adapter: "ours")
        let prompt = try model.model.promptInput(ids: ids, imageTokens: [feats], imageTokenID: vision.settings.imageTokenID)
        let h = try model.model.forward(embeddings: prompt.embeddings, cache: try model.model.makeCache(tokens: ids.count),
                                        extraVisible: prompt.extraVisible, adapter: "ours")
        let last = try model.model.logits(try h.rows((ids.count - 1)..<ids.count))
        let bare = try model.model.logits(try model.model.forward(embeddings: try model.model.promptInput(ids: ids, imageTokens: [try vision.imageTokens(pixelValues: pixels, adapter: nil)], imageTokenID: vision.settings.imageTokenID).embeddings, cache: try model.model.makeCache(tokens: ids.count), extraVisible: prompt.extraVisible, adapter: nil).rows((ids.count - 1)..<ids.count))
        XCTAssertGreaterThan(maxAbsDiff(last.floats(), bare.floats()).diff, 1e-2, "the written adapter changes the logits")
        if keep != nil {
            try NPYFile.write(out.appendingPathComponent("logits_last.npy"), tensor: last)
            let input: [String: Any] = ["case_dir": TestPaths.fixture("gemma3-vlm/at-size").path, "input_ids": ids]
            try JSONSerialization.data(withJSONObject: input).write(to: out.appendingPathComponent("input.json"))
        }
    }

    /// `.exactly` writes a regex that our loader (peft's rules: re.fullmatch on the module path) takes for the
    /// trained modules only: here the language model's q/v, while the vision tower's q/v stay untouched.
    func testExactlyTheTrainedModules() throws {
        let params = try parameters(Self.vlm).filter { $0.name.hasPrefix("language_model.") && ($0.name.contains("q_proj") || $0.name.contains("v_proj")) }
        XCTAssertEqual(params.count, 16)
        var w = Self.vlm.writer
        w.targets = .exactly
        let out = tempDir()
        defer { try? FileManager.default.removeItem(at: out) }
        try w.write(parameters: params, to: out)
        let config = try AdapterConfig(url: out.appendingPathComponent("adapter_config.json"))
        XCTAssertTrue(config.targets(module: "model.language_model.layers.3.self_attn.v_proj"))
        XCTAssertFalse(config.targets(module: "model.language_model.layers.3.self_attn.k_proj"))
        XCTAssertFalse(config.targets(module: "model.vision_tower.encoder.layers.0.self_attn.q_proj"))
        XCTAssertFalse(config.targets(module: "model.language_model.layers.3.self_attn.v_proj.extra"))
        let model = try ModelLoader.load(path: try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model")).path, computeMode: .f32)
        XCTAssertEqual(try LoRAAdapter(directory: out, name: "exact", layers: model.linearLayers).deltas.count, 8)
        if let keep = ProcessInfo.processInfo.environment["DSA_KEEP_ADAPTER_DIR"] {
            try? FileManager.default.removeItem(atPath: keep + "/exactly")
            try FileManager.default.copyItem(at: out, to: URL(fileURLWithPath: keep + "/exactly"))
        }
    }

    func testRejectsBadParameters() throws {
        let w = Self.vlm.writer
        let out = tempDir()
        defer { try? FileManager.default.removeItem(at: out) }
        let a = Parameter(name: "language_model.layers.0.self_attn.q_proj.lora_A.weight", value: Tensor(zeros: [2, 64]))
        let b = Parameter(name: "language_model.layers.0.self_attn.q_proj.lora_B.weight", value: Tensor(zeros: [128, 2]))
        XCTAssertThrowsError(try w.write(parameters: [a], to: out)) { XCTAssertTrue("\($0)".contains("lora_B.weight"), "\($0)") }
        XCTAssertThrowsError(try w.write(parameters: [a, b, Parameter(name: "language_model.layers.0.self_attn.q_proj.weight", value: Tensor(zeros: [1]))], to: out))
        let a3 = Parameter(name: "language_model.layers.1.mlp.up_proj.lora_A.weight", value: Tensor(zeros: [3, 64]))
        let b3 = Parameter(name: "language_model.layers.1.mlp.up_proj.lora_B.weight", value: Tensor(zeros: [128, 3]))
        XCTAssertThrowsError(try w.write(parameters: [a3, b3], to: out)) { XCTAssertTrue("\($0)".contains("r = 2"), "\($0)") }
        let v = Parameter(name: "vision_tower.encoder.layers.0.self_attn.q_proj.lora_A.weight", value: Tensor(zeros: [4, 32]))
        XCTAssertThrowsError(try Self.text.writer.write(parameters: [v], to: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_config.json").path))
        try w.write(parameters: [a, b], to: out)
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        XCTAssertEqual(names, ["adapter_config.json", "adapter_model.safetensors"], "no temporary files left behind")
    }

    /// The config text has peft's json.dumps(indent=2, sort_keys=True) shape.
    func testConfigTextLayout() {
        let t = Self.text.writer.configText(modules: ["language_model.layers.0.self_attn.q_proj", "language_model.layers.0.self_attn.v_proj"])
        XCTAssertTrue(t.hasPrefix("{\n  \"alora_invocation_tokens\": null,\n  \"alpha_pattern\": {},\n"), t)
        XCTAssertTrue(t.contains("  \"lora_alpha\": 8,\n  \"lora_bias\": false,\n  \"lora_dropout\": 0.05,\n"), t)
        XCTAssertTrue(t.contains("  \"target_modules\": [\n    \"q_proj\",\n    \"v_proj\"\n  ],\n"), t)
        XCTAssertTrue(t.hasSuffix("  \"velora_config\": null\n}"), t)
    }
}
