import Foundation
import LoRA
import ModelFiles
import Tensor
import XCTest
@testable import Training

/// Checkpoints: save / load round-trips float32 bytes and every state word, and training continued from a
/// loaded checkpoint is bit-for-bit the uninterrupted run; keep-last pruning, latest lookup, atomicity.
final class CheckpointTests: XCTestCase {
    static let modules = ["language_model.layers.0.self_attn.q_proj", "vision_tower.encoder.layers.1.mlp.fc2"]
    static let writer = PEFTAdapterWriter(architecture: .conditionalGeneration, rank: 2, alpha: 4, dropout: 0.1, targets: .allLinear)

    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    /// LoRA parameters with seeded values (zeros when `zero`).
    func makeParameters(zero: Bool = false) throws -> [Parameter] {
        var rng = SplitMix64(seed: 7)
        var out: [Parameter] = []
        for (m, (inF, outF)) in zip(Self.modules, [(6, 5), (4, 3)]) {
            for (matrix, shape) in [("A", [2, inF]), ("B", [outF, 2])] {
                let n = shape[0] * shape[1]
                let values = (0..<n).map { _ in zero ? Float(0) : rng.nextFloat() - 0.5 }
                out.append(Parameter(name: "\(m).lora_\(matrix).weight", value: try Tensor(values, shape: shape)))
            }
        }
        return out
    }

    /// Steps `opt` with seeded gradients from `rng`.
    func train(_ opt: AdamW, steps: Range<Int>, rng: inout SplitMix64) {
        for s in steps {
            for p in opt.parameters {
                for j in 0..<p.count { p.grad.f32[j] = rng.nextFloat() * 2 - 1 }
            }
            opt.step(learningRate: 1e-2 * Double(s + 1))
        }
    }

    func state(step: Int, rng: SplitMix64) -> TrainerState {
        TrainerState(globalStep: step, epoch: 1, positionInEpoch: 3, epochOrder: [4, 0, 3, 1, 2],
                     rngStates: ["dropout": 0xFFFF_FFFF_FFFF_FFF1, "sampler": rng.state, "zero": 0],
                     steps: [StepRecord(step: 1, epoch: 0, tokenLoss: 0.6931471805599453, learningRate: 2e-5, gradNorm: 1.25, seconds: 0.5),
                             StepRecord(step: 2, epoch: 0, tokenLoss: 0.1 + 0.2, learningRate: 1.0 / 3.0)],
                     epochs: [EpochRecord(epoch: 1, step: 2, trainTokenLoss: 0.5, validationLabelLoss: 0.4, sensitivity: 0.9,
                                          specificity: 0.8, balancedAccuracy: 0.85, threshold: 0.5, criterion: 0.9, extra: ["auc": 0.93])],
                     best: BestCheckpoint(step: 2, epoch: 1, criterion: "sensitivity@specificity>=0.90", value: 0.9, path: "checkpoint-2"))
    }

    func testResumeIsBitForBit() throws {
        for layout: TrainingCheckpoint.ParameterLayout in [.peftAdapter(Self.writer), .plain] {
            try? FileManager.default.removeItem(at: root)
            // Uninterrupted: 3 steps, checkpoint, 3 more.
            let p1 = try makeParameters()
            let o1 = try AdamW(parameters: p1, settings: .init(weightDecay: 0.01))
            var rng = SplitMix64(seed: 99)
            train(o1, steps: 0..<3, rng: &rng)
            let saved = state(step: 3, rng: rng)
            let folder = try TrainingCheckpoint.save(in: root, state: saved, parameters: p1, optimizer: o1, layout: layout)
            XCTAssertEqual(folder.lastPathComponent, "checkpoint-3")
            let rngAfterSave = rng
            train(o1, steps: 3..<6, rng: &rng)

            // Resumed: fresh zero parameters and optimiser, load, the generator from the saved word, 3 steps.
            let p2 = try makeParameters(zero: true)
            let o2 = try AdamW(parameters: p2, settings: .init(weightDecay: 0.01))
            let loaded = try TrainingCheckpoint.load(from: folder, parameters: p2, optimizer: o2, layout: layout)
            XCTAssertEqual(loaded, saved)
            XCTAssertEqual(o2.stepCount, 3)
            var rng2 = SplitMix64(seed: try XCTUnwrap(loaded.rngStates["sampler"]))
            XCTAssertEqual(rng2, rngAfterSave)
            train(o2, steps: 3..<6, rng: &rng2)
            for (a, b) in zip(p1, p2) {
                XCTAssertEqual(a.value.floats().map(\.bitPattern), b.value.floats().map(\.bitPattern), a.name)
            }
            for i in p1.indices {
                XCTAssertEqual(o1.firstMoments[i].floats().map(\.bitPattern), o2.firstMoments[i].floats().map(\.bitPattern))
                XCTAssertEqual(o1.secondMoments[i].floats().map(\.bitPattern), o2.secondMoments[i].floats().map(\.bitPattern))
            }
        }
    }

    func testFolderContentsAndExactStateText() throws {
        let p = try makeParameters()
        let o = try AdamW(parameters: p)
        var rng = SplitMix64(seed: 1)
        train(o, steps: 0..<1, rng: &rng)
        let folder = try TrainingCheckpoint.save(in: root, state: state(step: 1, rng: rng), parameters: p, optimizer: o, layout: .peftAdapter(Self.writer))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(),
                       ["adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "trainer_state.json"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path), ["checkpoint-1"], "no temporary folders left")
        // The adapter inside is a PEFT adapter under peft's key names.
        let adapter = try SafeTensorsFile(url: folder.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertTrue(adapter.contains("base_model.model.model.vision_tower.encoder.layers.1.mlp.fc2.lora_B.weight"))
        let text = try String(contentsOf: folder.appendingPathComponent("trainer_state.json"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"dropout\" : 18446744073709551601"), "rng words are written as exact integers")
        XCTAssertTrue(text.contains("\"global_step\" : 1"), text)
        XCTAssertTrue(text.contains("\"position_in_epoch\" : 3"), text)
        let opt = try SafeTensorsFile(url: folder.appendingPathComponent("optimizer.safetensors"))
        XCTAssertEqual(opt.metadata["step"], "1")
        XCTAssertEqual(opt.names.count, 8)
        XCTAssertEqual(try opt.tensor("language_model.layers.0.self_attn.q_proj.lora_A.weight.exp_avg_sq").floats().map(\.bitPattern),
                       o.secondMoments[0].floats().map(\.bitPattern))
    }

    func testKeepLastLatestAndIncompleteFolders() throws {
        let p = try makeParameters()
        let o = try AdamW(parameters: p)
        var rng = SplitMix64(seed: 2)
        XCTAssertNil(TrainingCheckpoint.latestCheckpoint(in: root))
        for s in 1...5 {
            train(o, steps: (s - 1)..<s, rng: &rng)
            try TrainingCheckpoint.save(in: root, state: state(step: s, rng: rng), parameters: p, optimizer: o,
                                        layout: .plain, keepLast: 2, protect: [2])
        }
        XCTAssertEqual(TrainingCheckpoint.checkpoints(in: root).map { $0.step }, [2, 4, 5])
        // A folder without trainer_state.json (an interrupted copy) and odd names are not checkpoints.
        try FileManager.default.createDirectory(at: root.appendingPathComponent("checkpoint-9"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("checkpoint-07"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent(".checkpoint-8.tmp-1-abc"), withIntermediateDirectories: true)
        XCTAssertEqual(TrainingCheckpoint.latestCheckpoint(in: root)?.lastPathComponent, "checkpoint-5")
        // Saving the same step again replaces it.
        var s5 = state(step: 5, rng: rng)
        s5.positionInEpoch = 4
        try TrainingCheckpoint.save(in: root, state: s5, parameters: p, optimizer: o, layout: .plain)
        let again = try TrainingCheckpoint.load(from: TrainingCheckpoint.folder(in: root, step: 5), parameters: p, optimizer: o, layout: .plain)
        XCTAssertEqual(again.positionInEpoch, 4)
    }

    func testNonFiniteLossRoundTrips() throws {
        let p = try makeParameters()
        let o = try AdamW(parameters: p)
        var st = TrainerState()
        st.steps = [StepRecord(step: 0, epoch: 0, tokenLoss: .nan, learningRate: 0, gradNorm: .infinity)]
        try TrainingCheckpoint.save(in: root, state: st, parameters: p, optimizer: o, layout: .plain)
        let back = try TrainingCheckpoint.load(from: TrainingCheckpoint.folder(in: root, step: 0), parameters: p, optimizer: o, layout: .plain)
        XCTAssertTrue(back.steps[0].tokenLoss.isNaN)
        XCTAssertEqual(back.steps[0].gradNorm, .infinity)
    }

    func testBadCheckpointsAreNamed() throws {
        let p = try makeParameters()
        let o = try AdamW(parameters: p)
        XCTAssertThrowsError(try TrainingCheckpoint.save(in: root, state: TrainerState(globalStep: 4), parameters: p, optimizer: o, layout: .plain))
        let folder = try TrainingCheckpoint.save(in: root, state: TrainerState(), parameters: p, optimizer: o, layout: .plain)
        // A parameter the checkpoint does not hold.
        let other = p + [Parameter(name: "language_model.layers.3.mlp.up_proj.lora_A.weight", value: Tensor(zeros: [2, 2]))]
        XCTAssertThrowsError(try TrainingCheckpoint.load(from: folder, parameters: other, optimizer: try AdamW(parameters: other), layout: .plain)) {
            XCTAssertTrue("\($0)".contains("parameters.safetensors") && "\($0)".contains("layers.3.mlp.up_proj"), "\($0)")
        }
        // A shape that changed.
        let reshaped = try p.map { Parameter(name: $0.name, value: try Tensor(zeros: [$0.count]).reshaped([$0.count])) }
        XCTAssertThrowsError(try TrainingCheckpoint.load(from: folder, parameters: reshaped, optimizer: try AdamW(parameters: reshaped), layout: .plain)) {
            XCTAssertTrue("\($0)".contains("expected f32"), "\($0)")
        }
        // A damaged trainer_state.json.
        try Data("{".utf8).write(to: folder.appendingPathComponent("trainer_state.json"))
        XCTAssertThrowsError(try TrainingCheckpoint.load(from: folder, parameters: p, optimizer: o, layout: .plain)) {
            XCTAssertTrue("\($0)".contains("trainer_state.json"), "\($0)")
        }
        // A missing optimiser file.
        let f2 = try TrainingCheckpoint.save(in: root, state: TrainerState(), parameters: p, optimizer: o, layout: .plain)
        try FileManager.default.removeItem(at: f2.appendingPathComponent("optimizer.safetensors"))
        XCTAssertThrowsError(try TrainingCheckpoint.load(from: f2, parameters: p, optimizer: o, layout: .plain)) {
            XCTAssertTrue("\($0)".contains("optimizer.safetensors"), "\($0)")
        }
    }
}

/// The pieces together as `dsa-triage train` uses them, on a toy loss: shuffled epochs, accumulation with a
/// short last window, random masks (standing in for dropout), schedule with warm-up, clipping, AdamW with
/// weight decay, a checkpoint every 2 steps keeping 2, the run record. A run killed after step 5 and resumed
/// through the output-directory guard ends bit-for-bit where the uninterrupted run ends, with the same record.
final class ResumeScenarioTests: XCTestCase {
    static let examples = 5, accumulation = 2, epochs = 2

    struct Outcome: Equatable {
        var parameters: [[UInt32]]
        var steps: [StepRecord]
    }

    /// Trains in `out` from scratch or from its latest checkpoint; stops after `stopAfter` steps if given.
    func train(out: URL, resume: Bool, stopAfter: Int? = nil) throws -> Outcome {
        var h = TrainingHyperparameters(rank: 2, alpha: 4, learningRate: 0.05, warmupSteps: 2, weightDecay: 0.01,
                                        batchSize: 1, gradientAccumulation: Self.accumulation, epochs: Self.epochs, maxGradNorm: 0.5, seed: 2024)
        h.targetModules = "q_proj"
        let total = LearningRateSchedule.totalSteps(examples: Self.examples, batchSize: 1, gradientAccumulation: Self.accumulation, epochs: Self.epochs)
        XCTAssertEqual(total, 6)
        var record = TrainingRunRecord(hyperparameters: h, baseModel: "toy", dataManifest: "toy.csv",
                                       dataManifestSha256: String(repeating: "0", count: 64), codeVersion: "test", totalSteps: total)
        let writer = PEFTAdapterWriter(architecture: .causalLM, rank: 2, alpha: 4, dropout: 0.1, targets: .names(["q_proj"]))
        var init0 = SplitMix64(seed: h.seed)
        let params = try ["language_model.layers.0.self_attn.q_proj", "language_model.layers.1.self_attn.q_proj"].flatMap { m in
            try [("A", [2, 3]), ("B", [4, 2])].map { (x, shape) in
                Parameter(name: "\(m).lora_\(x).weight", value: try Tensor((0..<(shape[0] * shape[1])).map { _ in init0.nextFloat() - 0.5 }, shape: shape))
            }
        }
        let targets: [[Float]] = (0..<Self.examples).map { e in (0..<6).map { Float(e) * 0.1 - Float($0) * 0.05 } }
        let optimizer = try AdamW(parameters: params, settings: h.adamW)
        let schedule = try LearningRateSchedule(kind: h.schedule, baseLearningRate: h.learningRate, warmup: h.warmup, totalSteps: total)
        var state = TrainerState(rngStates: ["sampler": h.seed &+ 1, "dropout": h.seed &+ 2])
        switch try OutputDirectoryGuard.check(directory: out, record: record, resume: resume) {
        case .fresh:
            break
        case .resume(let checkpoint, let previous):
            record = previous
            if let checkpoint {
                state = try TrainingCheckpoint.load(from: checkpoint, parameters: params, optimizer: optimizer, layout: .peftAdapter(writer))
                record.rewind(to: state)
            }
        }
        try record.write(to: out)
        var sampler = SplitMix64(seed: state.rngStates["sampler"] ?? 0), dropout = SplitMix64(seed: state.rngStates["dropout"] ?? 0)
        while state.globalStep < total {
            if state.epochOrder.isEmpty {
                var order = Array(0..<Self.examples)
                for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, sampler.next(below: i + 1)) }
                state.epochOrder = order
                state.positionInEpoch = 0
            }
            let window = Array(state.epochOrder[state.positionInEpoch..<min(state.positionInEpoch + Self.accumulation, Self.examples)])
            for p in params { p.zeroGrad() }
            var loss = 0.0
            for e in window {
                for p in params {
                    for j in 0..<p.count {
                        let keep: Float = dropout.nextFloat() < 0.1 ? 0 : 1
                        let d = p.value.f32[j] - targets[e][j % 6]
                        loss += Double(0.5 * d * d * keep) / Double(window.count)
                        p.grad.f32[j] += keep * d / Float(window.count)
                    }
                }
            }
            let norm = GradientClipping.clip(params, maxNorm: h.maxGradNorm)
            let lr = schedule.learningRate(atStep: state.globalStep)
            optimizer.step(learningRate: lr)
            state.globalStep += 1
            state.positionInEpoch += window.count
            state.steps.append(StepRecord(step: state.globalStep, epoch: state.epoch, tokenLoss: loss, learningRate: lr, gradNorm: Double(norm)))
            if state.positionInEpoch == Self.examples {
                state.epochs.append(EpochRecord(epoch: state.epoch + 1, step: state.globalStep, trainTokenLoss: loss))
                state.epoch += 1
                state.epochOrder = []
            }
            state.rngStates = ["sampler": sampler.state, "dropout": dropout.state]
            record.steps = state.steps
            record.epochs = state.epochs
            if state.globalStep % 2 == 0 {
                try TrainingCheckpoint.save(in: out, state: state, parameters: params, optimizer: optimizer,
                                            layout: .peftAdapter(writer), keepLast: 2)
                try record.write(to: out)
            }
            if state.globalStep == stopAfter { break }
        }
        if state.globalStep == total {
            try writer.write(parameters: params, to: out)
            record.finishSession(seconds: 1, completed: true)
            try record.write(to: out)
        }
        return Outcome(parameters: params.map { $0.value.floats().map(\.bitPattern) }, steps: record.steps)
    }

    func testKilledAndResumedRunEqualsTheUninterruptedOne() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let whole = try train(out: base.appendingPathComponent("whole"), resume: false)
        XCTAssertEqual(whole.steps.count, 6)
        XCTAssertEqual(whole.steps.map(\.learningRate).prefix(3), [0, 0.025, 0.05])

        let split = base.appendingPathComponent("split")
        let first = try train(out: split, resume: false, stopAfter: 5)
        XCTAssertEqual(first.steps.count, 5)
        XCTAssertEqual(TrainingCheckpoint.checkpoints(in: split).map { $0.step }, [2, 4])
        // Without --resume the guard refuses; with it the run goes on from checkpoint-4 (step 5 is redone).
        XCTAssertThrowsError(try train(out: split, resume: false))
        let resumed = try train(out: split, resume: true)
        XCTAssertEqual(resumed, whole)
        XCTAssertEqual(TrainingCheckpoint.checkpoints(in: split).map { $0.step }, [4, 6])
        let record = try XCTUnwrap(try TrainingRunRecord.read(from: split))
        XCTAssertTrue(record.completed)
        XCTAssertEqual(record.steps, whole.steps)
        XCTAssertEqual(record.epochs.map(\.step), [3, 6])
        // The final adapter in the output folder equals the uninterrupted run's, byte for byte.
        XCTAssertEqual(try Data(contentsOf: split.appendingPathComponent("adapter_model.safetensors")),
                       try Data(contentsOf: base.appendingPathComponent("whole/adapter_model.safetensors")))
    }
}
