import MedGemma
import XCTest

/// Module paths of every layout we read map to one canonical path (peft writes module paths under
/// `base_model.model.`; the same names start the checkpoint's tensor names).
final class CheckpointLayoutTableTests: XCTestCase {
    func testEveryLayoutMapsToTheCanonicalModule() {
        let cases: [(String, String?)] = [
            ("model.language_model.layers.3.mlp.up_proj", "language_model.layers.3.mlp.up_proj"),
            ("language_model.model.layers.3.mlp.up_proj", "language_model.layers.3.mlp.up_proj"),
            ("model.layers.3.mlp.up_proj", "language_model.layers.3.mlp.up_proj"),
            ("model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj", "vision_tower.encoder.layers.0.self_attn.q_proj"),
            ("vision_tower.vision_model.encoder.layers.0.self_attn.q_proj", "vision_tower.encoder.layers.0.self_attn.q_proj"),
            ("model.vision_tower.encoder.layers.0.mlp.fc1", "vision_tower.encoder.layers.0.mlp.fc1"),
            ("vision_tower.encoder.layers.0.mlp.fc1", "vision_tower.encoder.layers.0.mlp.fc1"),
            ("lm_head", nil),
            ("multi_modal_projector.mm_input_projection", nil),
        ]
        for (path, expected) in cases {
            XCTAssertEqual(Gemma3CheckpointLayout.canonicalModule(path), expected, path)
        }
        // The text-only "model." layout is tried last among the text layouts.
        XCTAssertEqual(Gemma3CheckpointLayout.text.last?.prefix, "model.")
        for (i, p) in Gemma3CheckpointLayout.visionTower.enumerated() {
            for q in Gemma3CheckpointLayout.visionTower[(i + 1)...] {
                XCTAssertFalse(q.hasPrefix(p) && q != p, "\(q) would never match after \(p)")
            }
        }
    }
}
