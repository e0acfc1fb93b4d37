import ArgumentParser
import Foundation
import MedGemma
import Tensor
import Training
import Triage

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a LoRA adapter (QLoRA on an NF4 base by default) for the triage task; writes a PEFT adapter.",
        discussion: """
            MANIFEST is CSV or JSONL with path,label (labels from the task profile: patent/blocked). Each example is \
            the triage conversation (user turn: image + the profile's prompt; model turn: the label's answer), with \
            the loss on the answer tokens only. Defaults are the model card's recipe: NF4 base with double-quantised \
            absmax, LoRA r 8, alpha 16, dropout 0.1 on all linear layers, AdamW lr 2e-5 with linear decay, batch 1, \
            gradient accumulation 8, 2 epochs, gradient norm clipped at 1. A minority class under 30 % turns on \
            class-balanced sampling. With --validation, each epoch reports sensitivity, specificity and balanced \
            accuracy and the best checkpoint (--select) becomes the adapter in OUT. OUT also holds training_run.json \
            and checkpoint-<step>/ folders; --resume continues from the latest one exactly as if never stopped. \
            See docs/TRAINING.md.

            Exit status: 0 done; 3 stopped by --max-steps (continue with --resume); \(ExitStatusHelp.common).
            """)

    @Option(name: .long, help: "Base model directory (Hub layout, e.g. google/medgemma-1.5-4b-it).")
    var model: String

    @Option(name: .long, help: "Training manifest (CSV or JSONL: path,label).")
    var data: String

    @Option(name: .long, help: "Output directory: adapter, training_run.json, checkpoints.")
    var out: String

    @Option(name: .long, help: "Validation manifest: per-epoch metrics and best-checkpoint selection.")
    var validation: String?

    @OptionGroup var profile: ProfileOptions

    @Flag(name: .long, help: "Continue the run in --out from its latest checkpoint.")
    var resume = false

    @Flag(name: .long, help: "Report and skip manifest rows that cannot be used (missing/unreadable file, unknown label) instead of stopping.")
    var skipBadRows = false

    @Option(name: .long, help: "Frozen base: nf4 (QLoRA; the default), int8 or none. --full needs none (its default there).")
    var quantize: Choice<TrainingQuantization>?

    @Flag(name: .long, help: "Train every weight of a (small) model instead of LoRA updates; OUT becomes a standalone model directory.")
    var full = false

    @Option(name: .long, help: "LoRA rank.")
    var rank = TrainingDefaults.rank

    @Option(name: .long, help: "LoRA alpha (scale alpha / rank).")
    var alpha = TrainingDefaults.alpha

    @Option(name: .long, help: "LoRA dropout probability.")
    var dropout = TrainingDefaults.dropout

    @Option(name: .long, help: "Target modules: all-linear, or comma-separated canonical module paths.")
    var targets = TrainingDefaults.targetModules

    @Option(name: .long, help: "Peak learning rate.")
    var lr = TrainingDefaults.learningRate

    @Option(name: .long, help: "Learning-rate schedule after warm-up: linear, cosine or constant.")
    var schedule = Choice(LearningRateSchedule.Kind.linear)

    @Option(name: .long, help: "Warm-up optimiser steps.")
    var warmupSteps = 0

    @Option(name: .long, help: "Warm-up as a fraction of all steps (wins over --warmup-steps when > 0).")
    var warmupRatio = 0.0

    @Option(name: .long, help: "AdamW decoupled weight decay.")
    var weightDecay = 0.0

    @Option(name: .long, help: "Examples per forward/backward window.")
    var batchSize = TrainingDefaults.batchSize

    @Option(name: .long, help: "Gradient accumulation (batches per optimiser step).")
    var gradAccum = TrainingDefaults.gradientAccumulation

    @Option(name: .long, help: "Passes over the training manifest.")
    var epochs = TrainingDefaults.epochs

    @Option(name: .long, help: "Clip the global gradient norm to this (0: off).")
    var maxGradNorm = 1.0

    @Option(name: .long, help: "Seed of every random draw (initialisation, sampling order, dropout).")
    var seed: UInt64 = 42

    @Option(name: .long, help: "Class balance: auto (sampler when the minority is under 30 %), sampler, weights or none.")
    var balance = Choice(BalanceOption.auto)

    @Option(name: .long, help: "Best-checkpoint criterion: sensitivity_at_specificity[:FLOOR] (default floor 0.8), balanced_accuracy, auroc or loss.")
    var select = SelectionCriterion.default.name

    @Option(name: .long, help: "Also write a checkpoint every N optimiser steps (0: at the end of each epoch only).")
    var saveEvery = 0

    @Option(name: .long, help: "Checkpoints kept besides the best one.")
    var keepCheckpoints = 2

    @Option(name: .long, help: "Stop after N optimiser steps in this session (resume later with --resume).")
    var maxSteps: Int?

    @Option(name: .long, help: "Memory for preprocessed images kept between epochs, in GB (inputs beyond it are read again each epoch).")
    var imageCacheGb = 4.0

    @OptionGroup var paths: PathOptions

    func validate() throws {
        if rank < 1 { throw ValidationError("--rank must be at least 1") }
        if !(alpha > 0) { throw ValidationError("--alpha must be positive") }
        if !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must lie in [0, 1)") }
        if quantize?.argument == QuantizationScheme.w8a8.rawValue {
            throw ValidationError("--quantize w8a8 is for inference only (triage, generate, bench, serve): train with nf4, int8 or none")
        }
        if let q = try quantize?.value("--quantize must be nf4, int8 or none"), full, q != .none {
            throw ValidationError("--full trains every weight and needs --quantize none")
        }
        _ = try schedule.value("--schedule must be linear, cosine or constant")
        if !(warmupRatio >= 0 && warmupRatio < 1) { throw ValidationError("--warmup-ratio must lie in [0, 1)") }
        if warmupSteps < 0 { throw ValidationError("--warmup-steps must be ≥ 0") }
        if saveEvery < 0 { throw ValidationError("--save-every must be ≥ 0") }
        if keepCheckpoints < 1 { throw ValidationError("--keep-checkpoints must be at least 1") }
        if let m = maxSteps, m < 1 { throw ValidationError("--max-steps must be at least 1") }
        if !(imageCacheGb >= 0 && imageCacheGb <= 1024) { throw ValidationError("--image-cache-gb must lie in [0, 1024]") }
        _ = try balance.value("--balance must be auto, sampler, weights or none")
        do { _ = try SelectionCriterion(parsing: select) } catch { throw ValidationError("\(error)") }
    }

    static func stderr(_ s: String) { Console.err(s) }

    func run() async throws {
        // "error: …" and exit 1 as every other command, not ArgumentParser's "Error: …".
        try CommandErrors.reporting { try train() }
    }

    func train() throws {
        let kind = try schedule.value("--schedule must be linear, cosine or constant")
        let h = TrainingHyperparameters(
            rank: rank, alpha: alpha, dropout: dropout, targetModules: targets, fullFineTune: full, learningRate: lr,
            schedule: kind, warmupSteps: warmupSteps, warmupRatio: warmupRatio > 0 ? warmupRatio : nil,
            weightDecay: weightDecay, batchSize: batchSize, gradientAccumulation: gradAccum, epochs: epochs,
            maxGradNorm: maxGradNorm, seed: seed, quantization: quantize?.argument ?? (full ? "none" : TrainingDefaults.quantization),
            balanceMode: balance.argument)
        var options = TrainingOptions(
            model: model, data: data, out: out, validation: validation, profile: profile.profile, hyperparameters: h,
            selection: try SelectionCriterion(parsing: select), resume: resume, skipBadRows: skipBadRows,
            checkpointEvery: saveEvery, keepCheckpoints: keepCheckpoints, maxSteps: maxSteps,
            imageCacheBytes: Int(imageCacheGb * 1e9))
        options.pathDisplay = PathDisplay(mode: paths.mode)
        let trainer = Trainer(options: options) { event in
            switch event {
            case .started(let total, let done, let summary):
                Self.stderr("training: \(summary); \(done == 0 ? "starting" : "resuming after step \(done)") (\(total) steps)\n")
            case .skipped(let why):
                Self.stderr("skipped: \(why)\n")
            case .step(let s, let total):
                let norm = s.gradNorm.map { String(format: "%.3g", $0) } ?? "-"
                Self.stderr(String(format: "step %d/%d  epoch %d  token loss %.4f  lr %.3g  grad-norm %@  %.2f s\n",
                                   s.step, total, s.epoch, s.tokenLoss, s.learningRate, norm, s.seconds ?? 0))
            case .epoch(let e, let summary, let isBest):
                Self.stderr("epoch \(e.epoch) (step \(e.step)): \(summary)\(isBest ? "  [best so far]" : "")\n")
            case .checkpoint(let url):
                Self.stderr("checkpoint: \(url.path)\n")
            }
        }
        let record = try trainer.run()
        if record.completed {
            Self.stderr("done: \(full ? "model" : "adapter") in \(out) (\(record.best.map { "best: \($0.path), \($0.criterion) \($0.value)" } ?? "last step")); "
                        + String(format: "%.1f s, peak memory %.2f GB\n", record.wallSeconds, Double(record.peakMemoryBytes) / 1e9))
        } else {
            Self.stderr("stopped after step \(record.steps.last?.step ?? 0) of \(record.totalSteps ?? 0); continue with --resume\n")
            throw ExitCode(3)
        }
    }
}

/// `train --balance`: a class-balance mode, or auto (the sampler when the minority is under 30 %).
enum BalanceOption: String, CaseIterable, Sendable {
    case auto, sampler, weights, none
}

/// The frozen-base quantisations training supports (w8a8's int8 activations are for inference only).
enum TrainingQuantization: String, CaseIterable, Sendable {
    case nf4, int8, none
}
