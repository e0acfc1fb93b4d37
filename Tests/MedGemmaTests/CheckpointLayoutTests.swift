import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor

/// The same tiny model saved under every checkpoint layout in the wild (Google's release, newer
/// transformers, text-only), sharded or not, inside a `gemma3` or `gemma3_text` config: same logits.
final class CheckpointLayoutTests: XCTestCase {
    let fixture = Fixtures.url("gemma3-text/sliding-gqa")

    func writeVariant(prefix: String, multimodal: Bool, sharded: Bool) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("layout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let text = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixture.appendingPathComponent("config.json"))) as? [String: Any])
        let config: [String: Any] = multimodal ? ["model_type": "gemma3", "text_config": text, "mm_tokens_per_image": 256] : text
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        let src = try SafeTensorsFile(url: fixture.appendingPathComponent("model.safetensors"))
        let tensors = try src.names.map { name -> (name: String, tensor: Tensor) in
            (prefix + name.dropFirst("model.".count), try src.tensor(name))
        }
        if sharded {
            try SafeTensorsWriter.writeSharded(tensors, metadata: ["format": "pt"], to: dir, maxShardBytes: 300_000)
        } else {
            try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: dir.appendingPathComponent("model.safetensors"))
        }
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("tokenizer.json"),
                                                   withDestinationURL: try Fixtures.referenceTokenizer())
        return dir
    }

    func testEveryLayoutGivesTheReferenceLogits() throws {
        _ = try Fixtures.referenceTokenizer()
        let exp = try Fixtures.json("gemma3-text/sliding-gqa/expected.json")
        let prompt = ints(exp["prompt_ids"])
        let ref = try NPYFile.read(Fixtures.url("gemma3-text/sliding-gqa/logits.npy")).floats()
        let lastRef = Array(ref[(prompt.count - 1) * 512..<prompt.count * 512])
        let variants: [(String, Bool, Bool)] = [
            ("language_model.model.", true, false),  // Google's release
            ("model.language_model.", true, true),   // newer transformers, sharded
            ("model.", false, true),                 // text-only, sharded
        ]
        for (prefix, mm, sharded) in variants {
            let dir = try writeVariant(prefix: prefix, multimodal: mm, sharded: sharded)
            defer { try? FileManager.default.removeItem(at: dir) }
            let loaded = try ModelLoader.load(path: dir.path, computeMode: .f32)
            let g = try loaded.model.generateGreedy(promptIDs: prompt, maxNewTokens: 12, stopIDs: [])
            XCTAssertEqual(g.tokenIDs, ints(exp["greedy_ids"]), prefix)
            let (d, s) = maxAbsDiff(g.firstLogits, lastRef)
            XCTAssertLessThanOrEqual(d, 1e-3 * s, prefix)
        }
    }
}
