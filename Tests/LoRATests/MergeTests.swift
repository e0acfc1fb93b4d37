import Foundation
import XCTest
import TestSupport
import LoRA
import MedGemma
import ModelFiles
import Tensor

/// `AdapterMerger`: the merged standalone model gives the same outputs as base + adapter, records both
/// fingerprints, and carries the companion files.
final class MergeTests: XCTestCase {
    func testMergedModelEqualsBasePlusAdapter() throws {
        let base = try LoRAFixtures.baseModelDirectory()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("merged-\(UUID().uuidString)")
        let adapterDir = LoRAFixtures.url("lora/all-linear")
        let r = try AdapterMerger.merge(base: base, adapter: adapterDir, output: out, dtype: .f32, maxShardBytes: 2_000_000)
        XCTAssertEqual(r.mergedModules, 40)
        XCTAssertGreaterThan(r.shards.count, 1, "small shard size forces an index")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors.index.json").path))
        for f in ["config.json", "tokenizer.json", "preprocessor_config.json", "merge_info.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
        XCTAssertEqual(r.adapterSHA256, try SHA256Hasher.hex(ofFile: adapterDir.appendingPathComponent("adapter_model.safetensors").path))
        let ckpt = try SafeTensorsCheckpoint(directory: out)
        XCTAssertEqual(ckpt.metadata["adapter_sha256"], r.adapterSHA256)
        XCTAssertEqual(ckpt.metadata["base_sha256"], r.baseSHA256)

        let merged = try ModelLoader.load(path: out.path, computeMode: .f32)
        let run = try CaseRun(merged, case: "at-size", adapter: nil)
        let exp = try LoRAFixtures.json("lora/all-linear/expected.json")
        let c = try XCTUnwrap((exp["cases"] as? [String: Any])?["at-size"] as? [String: Any])
        XCTAssertEqual(run.greedy, ints(c["greedy_ids"]))
        let (d, s) = maxAbsDiff(run.lastLogits, try LoRAFixtures.npy("lora/all-linear/logits_last_at-size.npy"))
        XCTAssertLessThanOrEqual(d, 1e-3 * s, "merged vs peft: max |Δ| \(d)")
        // And against our own unmerged run on the same inputs: float32 reassociation only.
        let unmergedModel = try ModelLoader.load(path: base.path, computeMode: .f32)
        try unmergedModel.attachAdapter(directory: adapterDir, name: "a")
        let unmerged = try CaseRun(unmergedModel, case: "at-size", adapter: "a")
        let (du, su) = maxAbsDiff(run.lastLogits, unmerged.lastLogits)
        XCTAssertLessThanOrEqual(du, 1e-4 * su, "merged vs unmerged")
    }

    func testBF16MergeAndRefusals() throws {
        let base = try LoRAFixtures.baseModelDirectory()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("merged-bf16-\(UUID().uuidString)")
        _ = try AdapterMerger.merge(base: base, adapter: LoRAFixtures.url("lora/qv-rslora"), output: out, dtype: .bf16)
        let ckpt = try SafeTensorsCheckpoint(directory: out)
        XCTAssertTrue(try ckpt.names.allSatisfy { try ckpt.info($0).dtype == .bf16 })
        let cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual(cfg["dtype"] as? String, "bfloat16")
        XCTAssertNoThrow(try ModelLoader.load(path: out.path))
        // An existing non-empty output is never overwritten.
        XCTAssertThrowsError(try AdapterMerger.merge(base: base, adapter: LoRAFixtures.url("lora/qv-rslora"), output: out, dtype: .bf16)) { e in
            XCTAssertTrue("\(e)".contains("not empty"), "\(e)")
        }
        // A broken adapter stops the merge before anything is written.
        let out2 = FileManager.default.temporaryDirectory.appendingPathComponent("merged-bad-\(UUID().uuidString)")
        XCTAssertThrowsError(try AdapterMerger.merge(base: base, adapter: LoRAFixtures.url("lora/bad/shape-mismatch"), output: out2, dtype: .f32))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out2.path))
    }
    /// No tokenizer.json in the base (the committed fixture has none) and no dtype asked for: the merge runs,
    /// every tensor keeps the base's dtype (bf16 embeddings, float32 elsewhere), and the merged model gives
    /// base + adapter's outputs to float32 reassociation, where a bf16 default moved them visibly.
    func testMergeWithoutTokenizerKeepsTheBaseDTypes() throws {
        let base = LoRAFixtures.url("gemma3-vlm/model")
        XCTAssertFalse(FileManager.default.fileExists(atPath: base.appendingPathComponent("tokenizer.json").path))
        let adapterDir = LoRAFixtures.url("lora/all-linear")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("merged-keep-\(UUID().uuidString)")
        let r = try AdapterMerger.merge(base: base, adapter: adapterDir, output: out, dtype: nil)
        XCTAssertEqual(r.narrowedTensors, 0)
        XCTAssertEqual(r.dtypes, [.bf16, .f32])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("tokenizer.json").path))
        XCTAssertTrue(r.copiedFiles.contains("preprocessor_config.json") && r.copiedFiles.contains("chat_template.jinja"), "\(r.copiedFiles)")
        XCTAssertFalse(r.copiedFiles.contains("tokenizer.json"))
        let baseCkpt = try SafeTensorsCheckpoint(directory: base)
        let ckpt = try SafeTensorsCheckpoint(directory: out)
        XCTAssertEqual(ckpt.names.sorted(), baseCkpt.names.sorted())
        for n in baseCkpt.names { XCTAssertEqual(try ckpt.info(n).dtype, try baseCkpt.info(n).dtype, n) }
        let cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual(cfg["dtype"] as? String, "float32", "config.json keeps the base's dtype")

        let merged = try ModelLoader.load(path: try TestPaths.modelWithTokenizer(out).path, computeMode: .f32)
        let run = try CaseRun(merged, case: "at-size", adapter: nil)
        let unmergedModel = try ModelLoader.load(path: try LoRAFixtures.baseModelDirectory().path, computeMode: .f32)
        try unmergedModel.attachAdapter(directory: adapterDir, name: "a")
        let unmerged = try CaseRun(unmergedModel, case: "at-size", adapter: "a")
        let (d, s) = maxAbsDiff(run.lastLogits, unmerged.lastLogits)
        XCTAssertLessThanOrEqual(d, 1e-4 * s, "merged (base dtypes) vs unmerged: max |Δ| \(d)")

        // Asking for bf16 narrows every float32 tensor, and the result says how many.
        let out2 = FileManager.default.temporaryDirectory.appendingPathComponent("merged-narrow-\(UUID().uuidString)")
        let r2 = try AdapterMerger.merge(base: base, adapter: adapterDir, output: out2, dtype: .bf16)
        let f32Count = try baseCkpt.names.filter { try baseCkpt.info($0).dtype == .f32 }.count
        XCTAssertGreaterThan(f32Count, 0)
        XCTAssertEqual(r2.narrowedTensors, f32Count)
        XCTAssertEqual(r2.dtypes, [.bf16])
    }
}
