import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor

/// The tiny VLM saved under every vision/projector layout in the wild: Google's release
/// (`vision_tower.vision_model.*`, `language_model.model.*`), newer transformers in memory
/// (`model.vision_tower.vision_model.*`, `model.language_model.*`, `model.multi_modal_projector.*`),
/// and transformers 5's save format (`vision_tower.*`): same image features and logits.
final class VisionLayoutTests: XCTestCase {
    func rename(_ name: String, text: String, vision: String, projector: String) -> String {
        for (from, to) in [("language_model.model.", text), ("vision_tower.", vision), ("multi_modal_projector.", projector)]
        where name.hasPrefix(from) {
            return to + name.dropFirst(from.count)
        }
        return name
    }

    func testEveryLayoutGivesTheSameOutputs() throws {
        let src = Fixtures.url("gemma3-vlm/model")
        let file = try SafeTensorsFile(url: src.appendingPathComponent("model.safetensors"))
        let exp = try Fixtures.json("gemma3-vlm/at-size/expected.json")
        let pixels = try NPYFile.read(Fixtures.url("gemma3-vlm/at-size/pixel_values.npy")).floats()
        let refFeats = try NPYFile.read(Fixtures.url("gemma3-vlm/at-size/image_features.npy")).floats()
        let refLast = try NPYFile.read(Fixtures.url("gemma3-vlm/at-size/logits_last.npy")).floats()
        let layouts = [
            ("language_model.model.", "vision_tower.vision_model.", "multi_modal_projector."),
            ("model.language_model.", "model.vision_tower.vision_model.", "model.multi_modal_projector."),
            ("model.language_model.", "model.vision_tower.", "model.multi_modal_projector."),
        ]
        for (text, vision, projector) in layouts {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlayout-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            for f in ["config.json", "preprocessor_config.json"] {
                try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(f), withDestinationURL: src.appendingPathComponent(f))
            }
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("tokenizer.json"), withDestinationURL: try Fixtures.referenceTokenizer())
            let tensors = try file.names.map { (name: rename($0, text: text, vision: vision, projector: projector), tensor: try file.tensor($0)) }
            try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
            let m = try ModelLoader.load(path: dir.path, computeMode: .f32)
            let v = try XCTUnwrap(m.vision, vision)
            let feats = try v.imageTokens(pixelValues: pixels)
            XCTAssertLessThanOrEqual(maxAbsDiff(feats.floats(), refFeats).diff, 1e-4, vision)
            let ids = ints(exp["input_ids"])
            let prompt = try m.model.promptInput(ids: ids, imageTokens: [feats], imageTokenID: v.settings.imageTokenID)
            let g = try m.model.generateGreedy(prompt: prompt, maxNewTokens: 4, stopIDs: [])
            let (d, s) = maxAbsDiff(g.firstLogits, refLast)
            XCTAssertLessThanOrEqual(d, 1e-3 * s, vision)
            XCTAssertEqual(g.tokenIDs, Array(ints(exp["greedy_ids"]).prefix(4)), vision)
        }
    }
}
