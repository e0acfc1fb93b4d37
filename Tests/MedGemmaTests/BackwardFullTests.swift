import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor
import struct Tensor.SplitMix64

/// Full training (`--full`): the gradient of every parameter against float64 autograd
/// (fixtures full-text and full-vlm by tools/make_gradient_fixtures.py).
final class BackwardFullTests: XCTestCase {
    struct FullCase {
        let expected: [String: Any]
        let grads: [String: Tensor]
        let example: TrainingExample
        var loss: Float { (expected["loss"] as? NSNumber)?.floatValue ?? .nan }
    }

    static func loadCase(_ name: String) throws -> FullCase {
        let exp = try Fixtures.json("gradients/\(name)/expected.json")
        let f = try SafeTensorsFile(url: Fixtures.url("gradients/\(name)/grads.safetensors"))
        let grads = Dictionary(uniqueKeysWithValues: try f.names.map { ($0, try f.tensor($0)) })
        let targets = ((exp["targets"] as? [[NSNumber]]) ?? []).map { TrainingExample.Target(position: $0[0].intValue, token: $0[1].intValue) }
        var pixels: [[Float]] = []
        if let rel = exp["pixel_values"] as? String { pixels = [try NPYFile.read(Fixtures.packageRoot.appendingPathComponent(rel)).floats()] }
        return FullCase(expected: exp, grads: grads, example: TrainingExample(ids: ints(exp["ids"]), pixelValues: pixels, targets: targets))
    }

    func relativeError(_ g: [Float], _ r: [Float]) -> Double {
        var num = 0.0, den = 0.0
        for i in r.indices { num += Double(g[i] - r[i]) * Double(g[i] - r[i]); den += Double(r[i]) * Double(r[i]) }
        return den == 0 ? num.squareRoot() : (num / den).squareRoot()
    }

    func check(_ full: FullParameters, _ c: FullCase, engine: GradientEngine) throws {
        XCTAssertEqual(Set(full.parameters.map(\.name)), Set(c.grads.keys), "every torch parameter has its FullParameters twin")
        var rng = SplitMix64(seed: 1)
        let loss = try engine.lossAndGradients(example: c.example, full: full, dropout: &rng)
        XCTAssertEqual(loss, c.loss, accuracy: 1e-5 * abs(c.loss), "loss")
        let rows = ints(c.expected["embed_rows"])
        var worst = 0.0
        for p in full.parameters {
            guard let ref = c.grads[p.name] else { continue }
            var g = p.grad.floats()
            if p.name == "language_model.embed_tokens.weight" && !rows.isEmpty {
                let d = p.shape[1]
                g = rows.flatMap { Array(g[($0 * d)..<(($0 + 1) * d)]) }
            }
            XCTAssertEqual(g.count, ref.count, p.name)
            guard g.count == ref.count else { continue }
            let r = ref.floats()
            if p.name.hasSuffix("self_attn.k_proj.bias") {
                // Adding q·b_k to every score of a row leaves the softmax unchanged: the exact gradient is 0
                // and both sides hold rounding noise only.
                let norm = { (v: [Float]) in v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
                XCTAssertLessThan(norm(r), 1e-6, p.name)
                XCTAssertLessThan(norm(g), 1e-5, p.name)
                continue
            }
            XCTAssertGreaterThan(r.map(abs).max() ?? 0, 0, "\(p.name): the reference gradient must not vanish")
            let e = relativeError(g, r)
            worst = max(worst, e)
            XCTAssertLessThanOrEqual(e, 1e-4, "\(p.name): relative gradient error")
        }
        print("full: loss \(loss) vs \(c.loss), \(full.parameters.count) parameters, worst relative gradient error \(worst)")
    }

    func testFullTextGradientsMatchAutograd() throws {
        let c = try Self.loadCase("full-text")
        let model = try BackwardParityTests.textModel(Fixtures.url("gemma3-text/sliding-gqa"))
        let full = try FullParameters(model: model)
        let engine = GradientEngine(model: model)
        // Before any update the parameters are the model's weights: the same loss as the frozen forward.
        XCTAssertEqual(try engine.loss(example: c.example, full: full), try engine.loss(example: c.example, lora: nil))
        try check(full, c, engine: engine)
    }

    func testFullImageGradientsMatchAutograd() throws {
        let c = try Self.loadCase("full-vlm")
        let m = try BackwardParityTests.vlm.get()
        let full = try FullParameters(loaded: m)
        let engine = GradientEngine(loaded: m)
        XCTAssertEqual(try engine.loss(example: c.example, full: full), try engine.loss(example: c.example, lora: nil),
                       accuracy: 1e-6 * c.loss)
        try check(full, c, engine: engine)
    }

    /// Updating a parameter changes the training forward (it reads the parameters, not the frozen model):
    /// the loss moves by about the first-order prediction ⟨g, Δ⟩.
    func testParameterUpdatesMoveTheLossAsTheGradientPredicts() throws {
        let c = try Self.loadCase("full-vlm")
        let m = try BackwardParityTests.vlm.get()
        let full = try FullParameters(loaded: m)
        let engine = GradientEngine(loaded: m)
        var rng = SplitMix64(seed: 1)
        let before = try engine.lossAndGradients(example: c.example, full: full, dropout: &rng)
        var predicted = 0.0
        let step: Float = 1e-5
        for name in ["vision_tower.embeddings.patch_embedding.weight", "vision_tower.embeddings.position_embedding.weight",
                     "multi_modal_projector.mm_input_projection_weight", "language_model.layers.0.input_layernorm.weight"] {
            let p = try XCTUnwrap(full[name], name)
            for i in 0..<p.count {
                let g = p.grad.f32[i]
                let delta = g == 0 ? 0 : -step * (g > 0 ? 1 : -1)
                p.value.f32[i] += delta
                predicted += Double(g) * Double(delta)
            }
        }
        let after = try engine.loss(example: c.example, full: full)
        XCTAssertLessThan(after, before, "a signed step against the gradient lowers the loss")
        XCTAssertEqual(Double(after - before), predicted, accuracy: 0.1 * abs(predicted))
    }

    /// A snapshot model (inference path: vision tower, projector, KV-cached decoder) computes with the
    /// current parameter values: its log-likelihood equals the training forward's loss after an update.
    func testSnapshotSeesTheUpdatedParameters() throws {
        let c = try Self.loadCase("full-vlm")
        let m = try BackwardParityTests.vlm.get()
        let full = try FullParameters(loaded: m)
        var rng = SplitMix64(seed: 9)
        for p in full.parameters { for i in 0..<p.count { p.value.f32[i] += 0.01 * (2 * rng.nextFloat() - 1) } }
        let engine = GradientEngine(loaded: m)
        let trained = try engine.loss(example: c.example, full: full)
        XCTAssertNotEqual(trained, try engine.loss(example: c.example, lora: nil), "the update changes the loss")
        let snap = try full.snapshot(of: m)
        let vision = try XCTUnwrap(snap.vision)
        let tokens = try vision.imageTokens(pixelValues: c.example.pixelValues[0])
        let input = try snap.model.promptInput(ids: c.example.ids, imageTokens: [tokens], imageTokenID: vision.settings.imageTokenID)
        let cache = try snap.model.makeCache(tokens: c.example.ids.count)
        let logits = try snap.model.logits(try snap.model.forward(embeddings: input.embeddings, cache: cache, extraVisible: input.extraVisible))
        let vocab = snap.model.config.vocabSize
        var nll = 0.0
        for t in c.example.targets {
            let row = (0..<vocab).map { Double(logits.f32[t.position * vocab + $0]) }
            let mx = row.max() ?? 0
            nll += mx + log(row.reduce(0) { $0 + exp($1 - mx) }) - row[t.token]
        }
        XCTAssertEqual(Double(trained), nll / Double(c.example.targets.count), accuracy: 2e-6 * Double(trained))
        // Checkpoint names and shapes are those of the fixture checkpoint (transformers' save_pretrained layout).
        let names = try full.checkpointTensors(patchSize: 14)
        let ckpt = try SafeTensorsCheckpoint(directory: Fixtures.url("gemma3-vlm/model"))
        XCTAssertEqual(Set(names.map(\.name)), Set(ckpt.names))
        for (name, tensor) in names { XCTAssertEqual(tensor.shape, try ckpt.tensor(name).shape, name) }
    }

    func testQuantisedBaseCannotBeTrainedFully() throws {
        let dir = try TestPaths.modelWithTokenizer(Fixtures.url("gemma3-vlm/model"))
        let m = try ModelLoader.load(path: dir.path, computeMode: .f32, quantization: .int8)
        XCTAssertThrowsError(try FullParameters(loaded: m)) { XCTAssertTrue("\($0)".contains("quantize")) }
    }
}
