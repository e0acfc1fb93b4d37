import Foundation
import XCTest
import MedGemma
import Tensor
import TestSupport

/// QLoRA-style inference: the all-linear adapter (float32 deltas) on an int8 / NF4 quantised base, against
/// transformers + peft on the same dequantised base weights (tools/make_quantization_fixtures.py).
final class QuantizedBaseLoRATests: XCTestCase {
    func testAdapterOnQuantisedBase() throws {
        let dir = try LoRAFixtures.baseModelDirectory()
        for scheme in [QuantizationScheme.int8, .nf4] {
            let model = try ModelLoader.load(path: dir.path, computeMode: .f32, quantization: scheme)
            try model.attachAdapter(directory: LoRAFixtures.url("lora/all-linear"), name: "a")
            let run = try CaseRun(model, case: "at-size", adapter: "a")
            let ref = try LoRAFixtures.npy("quantization/vlm_\(scheme.rawValue)_lora_logits_probe.npy")
            let (d, s) = maxAbsDiff(run.probeLogits, ref)
            XCTAssertLessThanOrEqual(d, 1e-3 * s, "\(scheme) + LoRA: probe logits (max |Δ| \(d))")
            // The bare quantised base on the same loaded weights differs (the adapter is really applied).
            let bare = try CaseRun(model, case: "at-size", adapter: nil)
            XCTAssertGreaterThan(maxAbsDiff(run.probeLogits, bare.probeLogits).diff, 1e-2)
            let refBare = try LoRAFixtures.npy("quantization/vlm_\(scheme.rawValue)_logits_probe.npy")
            let (db, sb) = maxAbsDiff(bare.probeLogits, refBare)
            XCTAssertLessThanOrEqual(db, 1e-3 * sb, "\(scheme) bare base")
        }
    }
}
