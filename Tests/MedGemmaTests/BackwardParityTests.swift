import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor
import struct Tensor.SplitMix64

/// LoRA gradients against PyTorch autograd through peft 0.21.2 (fixtures by tools/make_gradient_fixtures.py):
/// loss and every lora_A / lora_B gradient, for text prompts longer than the sliding window, final-logit
/// soft-capping, and an image prompt through SigLIP, the projector and the bidirectional image block.
final class BackwardParityTests: XCTestCase {
    static let vlm: Result<LoadedModel, Error> = Result {
        try ModelLoader.load(path: try TestPaths.modelWithTokenizer(Fixtures.url("gemma3-vlm/model")).path, computeMode: .f32)
    }

    static func textModel(_ dir: URL) throws -> Gemma3TextModel {
        let (config, _) = try Gemma3TextConfig.load(configURL: dir.appendingPathComponent("config.json"))
        let ckpt = try SafeTensorsCheckpoint(directory: dir)
        return try Gemma3TextModel(config: config, source: SafeTensorsWeights(ckpt, name: dir.path), prefix: "model.",
                                   lmHeadName: "lm_head.weight", computeMode: .f32)
    }

    struct Case {
        let expected: [String: Any]
        let values: [String: Tensor]
        let grads: [String: Tensor]
        var example: TrainingExample
        var modules: [String] { (expected["modules"] as? [String]) ?? [] }
        var loss: Float { (expected["loss"] as? NSNumber)?.floatValue ?? .nan }
    }

    static func loadCase(_ name: String) throws -> Case {
        let dir = Fixtures.url("gradients/\(name)")
        let exp = try Fixtures.json("gradients/\(name)/expected.json")
        func tensors(_ file: String) throws -> [String: Tensor] {
            let f = try SafeTensorsFile(url: dir.appendingPathComponent(file))
            return Dictionary(uniqueKeysWithValues: try f.names.map { ($0, try f.tensor($0)) })
        }
        let targets = ((exp["targets"] as? [[NSNumber]]) ?? []).map { TrainingExample.Target(position: $0[0].intValue, token: $0[1].intValue) }
        var pixels: [[Float]] = []
        if let rel = exp["pixel_values"] as? String {
            pixels = [try NPYFile.read(Fixtures.packageRoot.appendingPathComponent(rel)).floats()]
        }
        return Case(expected: exp, values: try tensors("lora.safetensors"), grads: try tensors("grads.safetensors"),
                    example: TrainingExample(ids: ints(exp["ids"]), pixelValues: pixels, targets: targets))
    }

    static func lora(_ c: Case, layers: [String: LinearLayer], dropout: Float = 0) throws -> TrainableLoRA {
        try TrainableLoRA(layers: try TrainableLoRA.select(c.modules, from: layers), rank: 4, alpha: 8, dropout: dropout, values: c.values)
    }

    /// ‖g − g_ref‖ / ‖g_ref‖ per tensor ≤ tolerance; returns the worst.
    @discardableResult
    func checkGradients(_ lora: TrainableLoRA, _ c: Case, tolerance: Double = 1e-4, file: StaticString = #filePath, line: UInt = #line) -> Double {
        var worst = 0.0
        XCTAssertEqual(lora.parameters.count, c.grads.count, "parameter count", file: file, line: line)
        for p in lora.parameters {
            guard let ref = c.grads[p.name] else { XCTFail("no reference gradient for \(p.name)", file: file, line: line); continue }
            let g = p.grad.floats(), r = ref.floats()
            var num = 0.0, den = 0.0
            for i in 0..<r.count { num += Double(g[i] - r[i]) * Double(g[i] - r[i]); den += Double(r[i]) * Double(r[i]) }
            XCTAssertGreaterThan(den, 0, "\(p.name): the reference gradient must not vanish", file: file, line: line)
            let rel = (num / max(den, 1e-300)).squareRoot()
            worst = max(worst, rel)
            XCTAssertLessThanOrEqual(rel, tolerance, "\(p.name): relative gradient error", file: file, line: line)
        }
        return worst
    }

    func checkTextCase(_ name: String, base: String) throws {
        let c = try Self.loadCase(name)
        let model = try Self.textModel(Fixtures.url("gemma3-text/\(base)"))
        let layers = Dictionary(uniqueKeysWithValues: model.linearLayers.map { ($0.module, $0) })
        XCTAssertEqual(Set(c.modules), Set(layers.keys), "all-linear targets every decoder linear layer")
        let lora = try Self.lora(c, layers: layers)
        var rng = SplitMix64(seed: 1)
        let loss = try GradientEngine(model: model).lossAndGradients(example: c.example, lora: lora, dropout: &rng)
        XCTAssertEqual(loss, c.loss, accuracy: 1e-5 * abs(c.loss), "\(name): loss")
        let worst = checkGradients(lora, c)
        print("\(name): loss \(loss) vs \(c.loss), worst relative gradient error \(worst)")
    }

    func testTextGradientsAcrossTheSlidingWindowMatchPeft() throws {
        try checkTextCase("text-sliding", base: "sliding-gqa")
    }

    func testTextGradientsWithFinalSoftcapMatchPeft() throws {
        try checkTextCase("text-softcap", base: "softcap-mqa")
    }

    func testImagePromptGradientsMatchPeft() throws {
        let m = try Self.vlm.get()
        let c = try Self.loadCase("vlm")
        // PEFT "all-linear" on Gemma3ForConditionalGeneration: every decoder and vision-tower linear layer;
        // not the output layer (nor the projector, whose weight is a bare parameter).
        XCTAssertEqual(Set(c.modules), Set(m.linearLayers.keys))
        XCTAssertEqual(c.expected["not_targeted_linear"] as? [String], ["base_model.model.lm_head"])
        let lora = try TrainableLoRA(layers: try TrainableLoRA.select(nil, from: m.linearLayers), rank: 4, alpha: 8, dropout: 0, values: c.values)
        XCTAssertEqual(lora.modules.count, 40)
        var rng = SplitMix64(seed: 1)
        let start = Date()
        let loss = try GradientEngine(loaded: m).lossAndGradients(example: c.example, lora: lora, dropout: &rng)
        print("vlm: lossAndGradients \(Date().timeIntervalSince(start)) s (debug)")
        XCTAssertEqual(loss, c.loss, accuracy: 1e-5 * abs(c.loss), "loss")
        let worst = checkGradients(lora, c)
        print("vlm: loss \(loss) vs \(c.loss), worst relative gradient error \(worst)")
        // The vision tower's updates really receive gradient through the image block.
        let v = try XCTUnwrap(lora["vision_tower.encoder.layers.0.self_attn.q_proj"])
        XCTAssertGreaterThan(v.a.grad.floats().map(abs).max() ?? 0, 0)
    }

    /// bf16 compute (bf16 weights and products, the vision attention on the bf16 units, bf16 input
    /// gradients): the LoRA gradients stay within bf16 rounding of the exact ones.
    func testImagePromptGradientsInBF16ComputeAreClose() throws {
        let m = try ModelLoader.load(path: try TestPaths.modelWithTokenizer(Fixtures.url("gemma3-vlm/model")).path, computeMode: .bf16)
        let c = try Self.loadCase("vlm")
        let lora = try TrainableLoRA(layers: try TrainableLoRA.select(nil, from: m.linearLayers), rank: 4, alpha: 8, dropout: 0, values: c.values)
        var rng = SplitMix64(seed: 1)
        let loss = try GradientEngine(loaded: m).lossAndGradients(example: c.example, lora: lora, dropout: &rng)
        XCTAssertEqual(loss, c.loss, accuracy: 2e-2 * abs(c.loss))
        var total = 0.0, reference = 0.0
        for p in lora.parameters {
            let g = p.grad.floats(), r = try XCTUnwrap(c.grads[p.name]).floats()
            for i in r.indices { total += Double(g[i] - r[i]) * Double(g[i] - r[i]); reference += Double(r[i]) * Double(r[i]) }
        }
        let rel = (total / reference).squareRoot()
        print("vlm bf16: loss \(loss) vs \(c.loss), relative gradient error over all tensors \(rel)")
        XCTAssertLessThan(rel, 5e-2)
        XCTAssertGreaterThan(rel, 1e-6, "bf16 arithmetic really ran")
    }

    /// The training forward is the inference arithmetic: its loss equals −mean log p(target) from the
    /// inference path (KV cache, image mask, the adapter attached with shared storage).
    func testTrainingLossEqualsInferenceLogLikelihood() throws {
        let m = try Self.vlm.get()
        let c = try Self.loadCase("vlm")
        let lora = try TrainableLoRA(layers: try TrainableLoRA.select(nil, from: m.linearLayers), rank: 4, alpha: 8, dropout: 0.2, values: c.values)
        lora.attach(as: "training")
        defer { lora.detach("training") }
        let vision = try XCTUnwrap(m.vision)
        let tokens = try vision.imageTokens(pixelValues: c.example.pixelValues[0], adapter: "training")
        let input = try m.model.promptInput(ids: c.example.ids, imageTokens: [tokens], imageTokenID: vision.settings.imageTokenID)
        let cache = try m.model.makeCache(tokens: c.example.ids.count)
        let h = try m.model.forward(embeddings: input.embeddings, cache: cache, extraVisible: input.extraVisible, adapter: "training")
        let logits = try m.model.logits(h)
        let vocab = m.model.config.vocabSize
        var nll = 0.0
        for t in c.example.targets {
            let row = Array(UnsafeBufferPointer(start: logits.f32 + t.position * vocab, count: vocab)).map(Double.init)
            let mx = row.max() ?? 0
            nll += mx + log(row.reduce(0) { $0 + exp($1 - mx) }) - row[t.token]
        }
        let reference = Float(nll / Double(c.example.targets.count))
        let engine = GradientEngine(loaded: m)
        XCTAssertEqual(try engine.loss(example: c.example, lora: lora), reference, accuracy: 2e-6 * abs(reference))
        // Updating a parameter in place is seen by the attached adapter (shared storage).
        let q = try XCTUnwrap(lora["language_model.layers.0.self_attn.q_proj"])
        XCTAssertEqual(q.layer.adapters["training"]?.a.raw, q.a.value.raw)
        XCTAssertEqual(q.layer.adapters["training"]?.b.raw, q.b.value.raw)
    }
}
