import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor
import struct Tensor.SplitMix64

/// Checks of the backward passes that need no reference framework: finite differences, LoRA dropout,
/// quantised bases against their dequantised weights, PEFT initialisation and module selection.
final class BackwardChecksTests: XCTestCase {
    static let textDir = Fixtures.url("gemma3-text/sliding-gqa")

    func textSetup(dropout: Float = 0) throws -> (GradientEngine, TrainableLoRA, TrainingExample) {
        let c = try BackwardParityTests.loadCase("text-sliding")
        let model = try BackwardParityTests.textModel(Self.textDir)
        let layers = Dictionary(uniqueKeysWithValues: model.linearLayers.map { ($0.module, $0) })
        return (GradientEngine(model: model), try BackwardParityTests.lora(c, layers: layers, dropout: dropout), c.example)
    }

    /// The largest-|gradient| entries of a few tensors.
    func probes(_ lora: TrainableLoRA, _ names: [String]) throws -> [(Parameter, Int)] {
        try names.map { name in
            let p = try XCTUnwrap(lora.parameters.first { $0.name == name }, name)
            let g = p.grad.floats()
            let i = g.indices.max { abs(g[$0]) < abs(g[$1]) } ?? 0
            return (p, i)
        }
    }

    /// Double-sided differences (h = 1e-3) of the loss in the direction of single A/B entries agree with
    /// the analytic gradient; with dropout the masks are replayed from the same seed, so the loss is a
    /// fixed function of the parameters and the check covers the dropout backward too.
    func checkFiniteDifferences(dropout: Float) throws {
        let (engine, lora, example) = try textSetup(dropout: dropout)
        let seed: UInt64 = 99
        var rng = SplitMix64(seed: seed)
        _ = try engine.lossAndGradients(example: example, lora: lora, dropout: &rng)
        let names = ["language_model.layers.0.self_attn.q_proj.lora_A.weight", "language_model.layers.1.self_attn.k_proj.lora_B.weight",
                     "language_model.layers.2.mlp.down_proj.lora_A.weight", "language_model.layers.3.mlp.gate_proj.lora_B.weight",
                     "language_model.layers.3.self_attn.v_proj.lora_A.weight"]
        func lossAt() throws -> Double {
            var r = SplitMix64(seed: seed)
            return Double(try engine.lossAndGradients(example: example, lora: lora, dropout: &r, lossScale: 0))
        }
        for (p, i) in try probes(lora, names) {
            let analytic = Double(p.grad.f32[i])
            let h: Float = 1e-3
            let v = p.value.f32[i]
            p.value.f32[i] = v + h
            let up = try lossAt()
            p.value.f32[i] = v - h
            let down = try lossAt()
            p.value.f32[i] = v
            let fd = (up - down) / (2 * Double(h))
            XCTAssertGreaterThan(abs(analytic), 1e-3, "\(p.name)[\(i)]: probe a non-vanishing gradient")
            XCTAssertEqual(fd, analytic, accuracy: 5e-3 * abs(analytic) + 2e-4, "\(p.name)[\(i)] dropout \(dropout)")
        }
    }

    func testFiniteDifferencesAgreeWithGradients() throws { try checkFiniteDifferences(dropout: 0) }

    func testFiniteDifferencesAgreeWithGradientsUnderDropout() throws { try checkFiniteDifferences(dropout: 0.3) }

    func testDropoutMaskKeepsOneMinusPAndScalesByItsInverse() {
        var rng = SplitMix64(seed: 5)
        let p: Float = 0.25
        let m = LoRADropout.mask(rows: 200, cols: 100, p: p, rng: &rng)
        let values = m.floats()
        let zeros = values.filter { $0 == 0 }.count
        // 20 000 Bernoulli(0.25) draws: sd of the fraction ≈ 0.0031; allow 4 sd.
        XCTAssertEqual(Double(zeros) / 20_000, 0.25, accuracy: 0.0125)
        XCTAssertTrue(values.allSatisfy { $0 == 0 || $0 == 1 / (1 - p) }, "kept entries are scaled by 1/(1-p)")
        // The mean multiplier is 1 (peft's inverted dropout keeps the expectation).
        XCTAssertEqual(values.reduce(0, +) / 20_000, 1, accuracy: 0.02)
        // The same seed gives the same mask.
        var again = SplitMix64(seed: 5)
        XCTAssertEqual(LoRADropout.mask(rows: 200, cols: 100, p: p, rng: &again).floats(), values)
    }

    func testDropoutIsDeterministicPerSeedAndChangesTheStep() throws {
        let (engine, lora, example) = try textSetup(dropout: 0.3)
        func step(_ seed: UInt64) throws -> (Float, [Float], UInt64) {
            lora.zeroGrad()
            var rng = SplitMix64(seed: seed)
            let loss = try engine.lossAndGradients(example: example, lora: lora, dropout: &rng)
            return (loss, lora.parameters.flatMap { $0.grad.floats() }, rng.state)
        }
        let a = try step(7), b = try step(7), c = try step(8)
        XCTAssertEqual(a.0, b.0)
        XCTAssertEqual(a.1, b.1, "same seed, same gradients")
        XCTAssertEqual(a.2, b.2, "same draws consumed")
        XCTAssertNotEqual(a.0, c.0, "another seed, other masks")
        // One draw per decoder layer from the caller's stream.
        var expected = SplitMix64(seed: 7)
        for _ in 0..<4 { _ = expected.next() }
        XCTAssertEqual(a.2, expected.state)
        // Evaluation (`loss`) uses no dropout: it equals the dropout-free loss.
        let (plain, plainLoRA, _) = try textSetup(dropout: 0)
        XCTAssertEqual(try engine.loss(example: example, lora: lora), try plain.loss(example: example, lora: plainLoRA))
    }

    func testGradientsAccumulateWithLossScale() throws {
        let (engine, lora, example) = try textSetup()
        var rng = SplitMix64(seed: 1)
        _ = try engine.lossAndGradients(example: example, lora: lora, dropout: &rng, lossScale: 1)
        let once = lora.parameters.flatMap { $0.grad.floats() }
        _ = try engine.lossAndGradients(example: example, lora: lora, dropout: &rng, lossScale: 0.5)
        let twice = lora.parameters.flatMap { $0.grad.floats() }
        for i in once.indices { XCTAssertEqual(twice[i], 1.5 * once[i], accuracy: 1e-6 * max(1, abs(once[i]))) }
    }

    /// A quantised base gives the gradients of its dequantised weights (dX = dY·W with W dequantised tile
    /// by tile), and stays close to the float32 base's.
    func checkQuantized(_ scheme: QuantizationScheme) throws {
        let c = try BackwardParityTests.loadCase("text-sliding")
        let quantizedModel = try BackwardParityTests.textModel(Self.textDir)
        for l in quantizedModel.linearLayers { try l.quantize(scheme) }
        // The dequantised weights as an ordinary float32 checkpoint.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dequantized-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Self.textDir.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let ckpt = try SafeTensorsCheckpoint(directory: Self.textDir)
        var replaced: [String: Tensor] = [:]
        for l in quantizedModel.linearLayers { replaced[l.sourceName] = try XCTUnwrap(l.quantized).dequantized() }
        try SafeTensorsWriter.write(try ckpt.names.map { ($0, try replaced[$0] ?? ckpt.tensor($0)) },
                                    to: dir.appendingPathComponent("model.safetensors"))
        let dequantizedModel = try BackwardParityTests.textModel(dir)
        func grads(_ m: Gemma3TextModel) throws -> (Float, [[Float]]) {
            let layers = Dictionary(uniqueKeysWithValues: m.linearLayers.map { ($0.module, $0) })
            let lora = try BackwardParityTests.lora(c, layers: layers)
            var rng = SplitMix64(seed: 1)
            let loss = try GradientEngine(model: m).lossAndGradients(example: c.example, lora: lora, dropout: &rng)
            return (loss, lora.parameters.map { $0.grad.floats() })
        }
        let (lq, gq) = try grads(quantizedModel)
        let (ld, gd) = try grads(dequantizedModel)
        XCTAssertEqual(lq, ld, accuracy: 1e-5 * abs(ld))
        var worst = 0.0
        for (a, b) in zip(gq, gd) {
            var num = 0.0, den = 0.0
            for i in a.indices { num += Double(a[i] - b[i]) * Double(a[i] - b[i]); den += Double(b[i]) * Double(b[i]) }
            worst = max(worst, (num / den).squareRoot())
        }
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(scheme): quantised vs dequantised base")
        // And the quantised base does not stray far from the float32 one (loss within a few percent).
        XCTAssertEqual(lq, Float((c.expected["loss"] as? NSNumber)?.doubleValue ?? 0), accuracy: 0.05 * abs(lq))
        print("\(scheme): loss \(lq) (dequantised \(ld)); worst relative gradient difference \(worst)")
    }

    func testInt8BaseGradientsEqualDequantisedWeights() throws { try checkQuantized(.int8) }

    func testNF4BaseGradientsEqualDequantisedWeights() throws { try checkQuantized(.nf4) }

    /// dX = dY·W through 16-bit and quantised weights, several tiles (a ragged last one), equals the
    /// product with the widened / dequantised matrix in one piece.
    func testTiledInputGradientEqualsDenseProduct() throws { try checkTiledInputGradient(rows: 5, outF: 150) }

    /// Few rows (the output layer at a handful of targets) take the per-core path: many small tiles.
    func testFewRowsInputGradientEqualsDenseProduct() throws { try checkTiledInputGradient(rows: 2, outF: 2000) }

    func checkTiledInputGradient(rows: Int, outF: Int) throws {
        var rng = SplitMix64(seed: 11)
        let inF = 128
        let w = Tensor(zeros: [outF, inF])
        for i in 0..<w.count { w.f32[i] = 2 * rng.nextFloat() - 1 }
        let dy = (0..<(rows * outF)).map { _ in 2 * rng.nextFloat() - 1 }
        func dense(_ weight: Tensor) -> [Double] {
            let wf = weight.floats()
            var out = [Double](repeating: 0, count: rows * inF)
            for r in 0..<rows { for o in 0..<outF { for i in 0..<inF { out[r * inF + i] += Double(dy[r * outF + o]) * Double(wf[o * inF + i]) } } }
            return out
        }
        func check(_ got: Tensor, _ want: [Double], _ what: String) {
            let g = got.floats()
            for i in want.indices { XCTAssertEqual(Double(g[i]), want[i], accuracy: 1e-4, "\(what)[\(i)]") }
        }
        let bf = w.converted(to: .bf16)
        let gotBF = Tensor(zeros: [rows, inF])
        let tile: Int? = rows > FrozenWeight.smallRows ? 64 : nil
        try dy.withUnsafeBufferPointer { try FrozenWeight.accumulateInputGradient($0.baseAddress!, rows: rows, weight: bf, into: gotBF.f32, tile: tile) }
        check(gotBF, dense(bf), "bf16")
        for scheme in [QuantizationScheme.int8, .nf4] {
            let q = try QuantizedMatrix.quantize(w, scheme: scheme)
            let got = Tensor(zeros: [rows, inF])
            try dy.withUnsafeBufferPointer { try FrozenWeight.accumulateInputGradient($0.baseAddress!, rows: rows, quantized: q, into: got.f32, tile: tile) }
            check(got, dense(q.dequantized()), "\(scheme)")
            // bf16 compute: the tiles and dY are rounded to bf16 (8 significant bits), float32 accumulation.
            let half = Tensor(zeros: [rows, inF])
            try dy.withUnsafeBufferPointer {
                try FrozenWeight.accumulateInputGradient($0.baseAddress!, rows: rows, quantized: q, into: half.f32, mode: .bf16, tile: tile)
            }
            let want = dense(q.dequantized()), scale = want.map(abs).max() ?? 1
            let h = half.floats()
            for i in want.indices { XCTAssertEqual(Double(h[i]), want[i], accuracy: 2e-2 * scale, "\(scheme) bf16[\(i)]") }
        }
        let halfBF = Tensor(zeros: [rows, inF])
        try dy.withUnsafeBufferPointer { try FrozenWeight.accumulateInputGradient($0.baseAddress!, rows: rows, weight: bf, into: halfBF.f32, mode: .bf16) }
        let want = dense(bf), scale = want.map(abs).max() ?? 1
        let h = halfBF.floats()
        for i in want.indices { XCTAssertEqual(Double(h[i]), want[i], accuracy: 2e-2 * scale, "bf16 weight, bf16 mode[\(i)]") }
    }

    /// Finite differences through the image path: a vision-tower update and a decoder update of the tiny VLM.
    func testFiniteDifferencesThroughTheImagePath() throws {
        let m = try BackwardParityTests.vlm.get()
        let c = try BackwardParityTests.loadCase("vlm")
        let lora = try TrainableLoRA(layers: try TrainableLoRA.select(nil, from: m.linearLayers), rank: 4, alpha: 8, dropout: 0.1, values: c.values)
        let engine = GradientEngine(loaded: m)
        var rng = SplitMix64(seed: 4)
        _ = try engine.lossAndGradients(example: c.example, lora: lora, dropout: &rng)
        for (p, i) in try probes(lora, ["vision_tower.encoder.layers.0.self_attn.q_proj.lora_A.weight",
                                        "vision_tower.encoder.layers.1.mlp.fc1.lora_B.weight",
                                        "language_model.layers.0.self_attn.k_proj.lora_A.weight"]) {
            let analytic = Double(p.grad.f32[i])
            let h: Float = 1e-3, v = p.value.f32[i]
            var losses: [Double] = []
            for x in [v + h, v - h] {
                p.value.f32[i] = x
                var r = SplitMix64(seed: 4)
                losses.append(Double(try engine.lossAndGradients(example: c.example, lora: lora, dropout: &r, lossScale: 0)))
            }
            p.value.f32[i] = v
            let fd = (losses[0] - losses[1]) / (2 * Double(h))
            XCTAssertGreaterThan(abs(analytic), 1e-2, "\(p.name)[\(i)]: probe a non-vanishing gradient")
            XCTAssertEqual(fd, analytic, accuracy: 1e-2 * abs(analytic) + 1e-3, "\(p.name)[\(i)]")
        }
    }

    /// Two images in one turn: each image block sends its gradient to its own pass through the tower
    /// (finite differences on vision and decoder updates; the second image alone also moves the loss).
    func testFiniteDifferencesWithTwoImages() throws {
        let m = try BackwardParityTests.vlm.get()
        let c = try BackwardParityTests.loadCase("vlm")
        let exp = try Fixtures.json("gemma3-vlm/two-images/expected.json")
        let pixels = try ((exp["pixel_values_files"] as? [String]) ?? []).map {
            try NPYFile.read(Fixtures.url("gemma3-vlm/two-images").appendingPathComponent($0)).floats()
        }
        XCTAssertEqual(pixels.count, 2)
        let example = TrainingExample(prompt: ints(exp["input_ids"]), answer: [236762, 106], pixelValues: pixels)
        let lora = try TrainableLoRA(layers: try TrainableLoRA.select(nil, from: m.linearLayers), rank: 4, alpha: 8, dropout: 0, values: c.values)
        let engine = GradientEngine(loaded: m)
        var rng = SplitMix64(seed: 2)
        let base = try engine.lossAndGradients(example: example, lora: lora, dropout: &rng)
        for (p, i) in try probes(lora, ["vision_tower.encoder.layers.0.mlp.fc2.lora_A.weight",
                                        "vision_tower.encoder.layers.1.self_attn.v_proj.lora_B.weight",
                                        "language_model.layers.2.self_attn.q_proj.lora_A.weight"]) {
            let analytic = Double(p.grad.f32[i])
            let h: Float = 1e-3, v = p.value.f32[i]
            p.value.f32[i] = v + h
            let up = Double(try engine.loss(example: example, lora: lora))
            p.value.f32[i] = v - h
            let down = Double(try engine.loss(example: example, lora: lora))
            p.value.f32[i] = v
            XCTAssertGreaterThan(abs(analytic), 1e-2, "\(p.name)[\(i)]: probe a non-vanishing gradient")
            XCTAssertEqual((up - down) / (2 * Double(h)), analytic, accuracy: 1e-2 * abs(analytic) + 1e-3, "\(p.name)[\(i)]")
        }
        var swapped = example
        swapped.pixelValues = [pixels[0], pixels[0]]
        XCTAssertNotEqual(try engine.loss(example: swapped, lora: lora), base, "the second image block reads the second image")
    }

    func testPEFTInitialisationAndNames() throws {
        let model = try BackwardParityTests.textModel(Self.textDir)
        var rng = SplitMix64(seed: 3)
        let lora = try TrainableLoRA(layers: model.linearLayers, rank: 8, alpha: 16, dropout: 0.1, rng: &rng)
        XCTAssertEqual(lora.scale, 2)
        XCTAssertEqual(lora.modules.count, 28)
        for m in lora.modules {
            XCTAssertEqual(m.a.name, m.name + ".lora_A.weight")
            XCTAssertEqual(m.b.name, m.name + ".lora_B.weight")
            XCTAssertEqual(m.a.shape, [8, m.layer.inFeatures])
            XCTAssertEqual(m.b.shape, [m.layer.outFeatures, 8])
            let bound = 1 / Float(m.layer.inFeatures).squareRoot()
            let a = m.a.value.floats()
            XCTAssertTrue(a.allSatisfy { abs($0) <= bound }, "kaiming-uniform(a = sqrt 5) bound 1/sqrt(in)")
            XCTAssertGreaterThan(a.map(abs).max() ?? 0, 0.8 * bound, "draws fill the range")
            XCTAssertTrue(m.b.value.floats().allSatisfy { $0 == 0 }, "B starts at zero")
        }
        // The first draw of A is the generator's first float, scaled to the bound.
        var replay = SplitMix64(seed: 3)
        let first = lora.modules[0]
        XCTAssertEqual(first.a.value.f32[0], (2 * replay.nextFloat() - 1) * (1 / Float(first.layer.inFeatures).squareRoot()))
        // A zero B leaves the model unchanged: the loss equals the bare model's.
        let c = try BackwardParityTests.loadCase("text-sliding")
        let engine = GradientEngine(model: model)
        XCTAssertEqual(try engine.loss(example: c.example, lora: lora), try engine.loss(example: c.example, lora: nil))
    }

    func testModuleSelection() throws {
        let model = try BackwardParityTests.textModel(Self.textDir)
        let layers = Dictionary(uniqueKeysWithValues: model.linearLayers.map { ($0.module, $0) })
        let picked = try TrainableLoRA.select(["q_proj", "language_model.layers.2.mlp.down_proj"], from: layers).map(\.module)
        XCTAssertEqual(picked, ["language_model.layers.0.self_attn.q_proj", "language_model.layers.1.self_attn.q_proj",
                                "language_model.layers.2.mlp.down_proj", "language_model.layers.2.self_attn.q_proj",
                                "language_model.layers.3.self_attn.q_proj"])
        XCTAssertThrowsError(try TrainableLoRA.select(["lm_head"], from: layers)) { error in
            XCTAssertTrue("\(error)".contains("lm_head"))
        }
        var rng = SplitMix64(seed: 1)
        XCTAssertThrowsError(try TrainableLoRA(layers: model.linearLayers, rank: 0, alpha: 16, dropout: 0, rng: &rng))
        XCTAssertThrowsError(try TrainableLoRA(layers: model.linearLayers, rank: 4, alpha: 8, dropout: 1, rng: &rng))
        // Values of the wrong shape are refused with the module's name.
        XCTAssertThrowsError(try TrainableLoRA(layers: [layers["language_model.layers.0.mlp.up_proj"]!], rank: 4, alpha: 8, dropout: 0,
                                               values: ["language_model.layers.0.mlp.up_proj.lora_A.weight": Tensor(zeros: [4, 3]),
                                                        "language_model.layers.0.mlp.up_proj.lora_B.weight": Tensor(zeros: [3, 4])])) { error in
            XCTAssertTrue("\(error)".contains("up_proj"))
        }
    }

    func testBadExamplesAreRefused() throws {
        let (engine, lora, example) = try textSetup()
        var rng = SplitMix64(seed: 1)
        var bad = example
        bad.targets = []
        XCTAssertThrowsError(try engine.lossAndGradients(example: bad, lora: lora, dropout: &rng))
        bad = example
        bad.targets[0].position = example.ids.count
        XCTAssertThrowsError(try engine.lossAndGradients(example: bad, lora: lora, dropout: &rng))
        bad = example
        bad.targets[0].token = 1 << 30
        XCTAssertThrowsError(try engine.lossAndGradients(example: bad, lora: lora, dropout: &rng))
        bad = example
        bad.pixelValues = [[0]]
        XCTAssertThrowsError(try engine.lossAndGradients(example: bad, lora: lora, dropout: &rng)) { error in
            XCTAssertTrue("\(error)".contains("vision tower"))
        }
    }
}
