import Foundation
import Imaging
import MedGemma
import Tensor
import Triage

/// Everything `dsa-triage train` is asked to do: where the model, data and output are, the hyper-parameters
/// (the model card's recipe unless overridden) and how the run is kept (checkpoints, resume, bad rows).
public struct TrainingOptions: Sendable {
    /// Base model directory (Hub layout).
    public var model: String
    /// Training manifest (CSV or JSONL: path,label).
    public var data: String
    /// Validation manifest: per-epoch metrics and the best checkpoint come from it.
    public var validation: String?
    /// Output directory: the adapter, training_run.json and checkpoints.
    public var out: String
    /// Task profile (labels, prompt, threshold); nil: the default profile.
    public var profile: String?
    public var hyperparameters: TrainingHyperparameters
    /// How the best checkpoint is chosen from the validation metrics.
    public var selection: SelectionCriterion
    /// Continue the run in `out` from its latest checkpoint.
    public var resume: Bool
    /// Report and skip manifest rows that cannot be used instead of stopping.
    public var skipBadRows: Bool
    /// A checkpoint every N optimiser steps (0: at the end of each epoch only).
    public var checkpointEvery: Int
    /// Checkpoints kept besides the best one.
    public var keepCheckpoints: Int
    /// Stop after this many optimiser steps in this session (the run stays resumable); nil: run to the end.
    public var maxSteps: Int?
    /// Pixel values kept in memory between epochs, at most this many bytes.
    public var imageCacheBytes: Int
    /// How files found under a folder row are named in messages (`--paths`; the library keeps them as found).
    public var pathDisplay: PathDisplay = .asGiven

    public init(model: String, data: String, out: String, validation: String? = nil, profile: String? = nil,
                hyperparameters: TrainingHyperparameters = TrainingHyperparameters(),
                selection: SelectionCriterion = .default, resume: Bool = false, skipBadRows: Bool = false,
                checkpointEvery: Int = 0, keepCheckpoints: Int = 2, maxSteps: Int? = nil,
                imageCacheBytes: Int = 4_000_000_000) {
        self.model = model
        self.data = data
        self.out = out
        self.validation = validation
        self.profile = profile
        self.hyperparameters = hyperparameters
        self.selection = selection
        self.resume = resume
        self.skipBadRows = skipBadRows
        self.checkpointEvery = checkpointEvery
        self.keepCheckpoints = keepCheckpoints
        self.maxSteps = maxSteps
        self.imageCacheBytes = imageCacheBytes
    }

    /// Target modules as `TrainableLoRA.select` takes them: nil for "all-linear", else the listed names.
    var targetList: [String]? {
        let t = (hyperparameters.targetModules ?? "").trimmingCharacters(in: .whitespaces)
        if t.isEmpty || t == "all-linear" { return nil }
        return t.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// What a running training reports as it goes.
public enum TrainingEvent: Sendable {
    /// The run starts (or resumes): total optimiser steps, steps already done, a one-line summary.
    case started(totalSteps: Int, doneSteps: Int, summary: String)
    /// A manifest row was skipped (bad input with `skipBadRows`).
    case skipped(String)
    /// One optimiser step finished.
    case step(StepRecord, totalSteps: Int)
    /// An epoch ended (with its validation metrics when a validation set is given).
    case epoch(EpochRecord, summary: String, isBest: Bool)
    /// A checkpoint was written.
    case checkpoint(URL)
}

/// The LoRA / QLoRA training loop: examples from the manifest (as triage sees its inputs), gradients from
/// `GradientEngine`, AdamW with the learning-rate schedule, gradient accumulation and clipping, per-epoch
/// validation and best-checkpoint selection, checkpoints that resume bit for bit, and the PEFT adapter.
public final class Trainer: @unchecked Sendable {
    public let options: TrainingOptions
    let report: (TrainingEvent) -> Void

    public init(options: TrainingOptions, report: @escaping (TrainingEvent) -> Void = { _ in }) {
        self.options = options
        self.report = report
    }

    /// The adapter name the trained parameters are attached under for validation.
    static let adapterName = "training"

    /// Runs (or resumes) the training and returns the final record (also written to `out`).
    @discardableResult
    public func run() throws -> TrainingRunRecord {
        let clock = ContinuousClock()
        let sessionStart = clock.now
        var h = options.hyperparameters
        try Self.validate(h)
        let out = URL(fileURLWithPath: options.out)
        let profile = try options.profile.map { try TaskProfile.load(path: $0) } ?? TaskProfile.standard
        h.profile = options.profile ?? "default"
        // The record keeps only the settings that apply: LoRA's mean nothing to full training.
        if h.fullFineTune { (h.rank, h.alpha, h.dropout, h.targetModules) = (nil, nil, nil, nil) }
        h.selectionCriterion = options.selection.name
        guard let scheme = QuantizationScheme(rawValue: h.quantization) else {
            throw TrainingDataError.invalidArgument("unknown quantisation \"\(h.quantization)\" (none, int8 or nf4)")
        }

        // Data first: a bad manifest fails before the model is loaded.
        // Every row's input must give a model image (as triage would make it): unreadable or out-of-scope
        // inputs are bad rows, found before any training. The images made for the check are kept (up to the
        // cache's limit), so the first epoch does not read and decode them again.
        let cache = ImageCache(limit: options.imageCacheBytes)
        let display = options.pathDisplay
        let readable: (TrainingRow) throws -> Void = { row in
            cache.put(row.resolvedPath, try TriagePipeline.modelImages(path: row.resolvedPath, profile: profile, display: display))
        }
        // The training rows' images also make the input-domain record (validation rows are not training data).
        var domainImages: [ModelImageStatistics] = []
        let manifest = try TrainingManifest.load(path: options.data, profile: profile, skipBadRows: options.skipBadRows) { row in
            let images = try TriagePipeline.modelImages(path: row.resolvedPath, profile: profile, display: display)
            cache.put(row.resolvedPath, images)
            domainImages += images.compactMap(ModelImageStatistics.init)
        }
        let inputDomain = try InputDomain(measuring: domainImages, source: options.data)
        for s in manifest.skipped { report(.skipped("\(options.data):\(s.line): \(s.reason)")) }
        let validation = try options.validation.map {
            try TrainingManifest.load(path: $0, profile: profile, skipBadRows: options.skipBadRows, validate: readable)
        }
        if let validation, let path = options.validation {
            for s in validation.skipped { report(.skipped("\(path):\(s.line): \(s.reason)")) }
        }
        let balance = try ClassBalance(manifest: manifest)
        let mode = try BalanceMode.resolve(h.balanceMode, balance: balance)

        var record = TrainingRunRecord(
            hyperparameters: h, baseModel: options.model,
            baseModelFingerprint: try? ModelFingerprint.of(path: options.model),
            dataManifest: options.data, dataManifestSha256: manifest.sha256,
            validationManifest: options.validation, validationManifestSha256: validation?.sha256,
            codeVersion: SoftwareVersion.current)
        let decision = try OutputDirectoryGuard.check(directory: out, record: record, resume: options.resume)

        let loaded = try ModelLoader.load(path: options.model, quantization: scheme)
        let builder = try ExampleBuilder(loaded: loaded, profile: profile)
        let engine = GradientEngine(loaded: loaded)
        var initRNG = SplitMix64(seed: h.seed)
        // What trains: LoRA updates on the frozen base, or (--full) every weight of a small model.
        let trainable: Trainable
        let layout: TrainingCheckpoint.ParameterLayout
        if h.fullFineTune {
            guard scheme == .none else {
                throw TrainingDataError.invalidArgument("full training (--full) needs the unquantised base: use --quantize none")
            }
            trainable = .full(try FullParameters(loaded: loaded))
            layout = .plain
        } else {
            guard let rank = h.rank, let alpha = h.alpha, let dropout = h.dropout else {
                throw TrainingDataError.invalidArgument("LoRA training needs a rank, an alpha and a dropout")
            }
            let writer = PEFTAdapterWriter(architecture: .conditionalGeneration, rank: rank, alpha: alpha, dropout: dropout,
                                           targets: options.targetList == nil ? .allLinear : .exactly, useRSLoRA: false,
                                           baseModelNameOrPath: options.model)
            trainable = .lora(try TrainableLoRA(loaded: loaded, targets: options.targetList, rank: rank, alpha: Float(alpha),
                                                dropout: Float(dropout), rng: &initRNG), writer)
            layout = .peftAdapter(writer)
        }
        let parameters = trainable.parameters
        let optimizer = try AdamW(parameters: parameters, settings: h.adamW)
        func zeroGrad() { for p in parameters { p.zeroGrad() } }

        let epochLength = manifest.rows.count
        let stepsPerEpoch = LearningRateSchedule.stepsPerEpoch(examples: epochLength, batchSize: h.batchSize,
                                                               gradientAccumulation: h.gradientAccumulation)
        let totalSteps = stepsPerEpoch * h.epochs
        let schedule = try LearningRateSchedule(kind: h.schedule, baseLearningRate: h.learningRate, warmup: h.warmup,
                                                totalSteps: totalSteps)
        record.totalSteps = totalSteps

        // Random streams: initialisation (above), the sampler's epoch orders, LoRA dropout.
        var seeds = SplitMix64(seed: h.seed ^ 0x5EED_0F_7EA1_2026)
        let samplerSeed = seeds.next()
        var dropout = SplitMix64(seed: seeds.next())
        var samplerState: EpochSampler.State?
        var globalStep = 0
        if case .resume(let checkpoint, let previous) = decision {
            record = previous
            record.validationManifest = options.validation
            if let checkpoint {
                let state = try TrainingCheckpoint.load(from: checkpoint, parameters: parameters, optimizer: optimizer, layout: layout)
                globalStep = state.globalStep
                samplerState = EpochSampler.State(seed: samplerSeed, epoch: state.epoch, position: state.positionInEpoch)
                guard let d = state.rngStates["dropout"] else {
                    throw TrainingArtifactError.corrupt(path: checkpoint.path, reason: "trainer_state.json has no dropout generator state")
                }
                dropout.state = d
                record.rewind(to: state)
            } else {
                record.rewind(to: TrainerState())
            }
        }
        var sampler = try EpochSampler(classOfRow: manifest.classIndices, classCount: manifest.labels.count, mode: mode,
                                       seed: samplerSeed, state: samplerState)
        record.inputDomain = inputDomain
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try record.write(to: out)
        try inputDomain.write(to: out.appendingPathComponent(InputDomain.fileName))
        let summary = "\(manifest.rows.count) training rows (\(Self.counts(manifest))), balance \(mode.rawValue), "
            + trainable.summary
            + " (\(parameters.reduce(0) { $0 + $1.count }) parameters), "
            + "\(stepsPerEpoch) steps per epoch × \(h.epochs), base \(scheme.rawValue)"
        report(.started(totalSteps: totalSteps, doneSteps: globalStep, summary: summary))

        let weights = balance.lossWeights(mode: mode)
        let positive = profile.positiveLabel
        var sessionSteps = 0

        func examples(of row: Int, in m: TrainingManifest) throws -> [LabeledExample] {
            let r = m.rows[row]
            let images: [PreparedImage]
            if let hit = cache.get(r.resolvedPath) {
                images = hit
            } else {
                images = try builder.images(row: r)
                cache.put(r.resolvedPath, images)
            }
            return try builder.examples(row: r, images: images, weight: weights[m.classIndices[row]])
        }

        func state() -> TrainerState {
            TrainerState(globalStep: globalStep, epoch: sampler.state.epoch, positionInEpoch: sampler.state.position,
                         epochOrder: [], rngStates: ["dropout": dropout.state],
                         steps: record.steps, epochs: record.epochs, best: record.best)
        }

        func saveCheckpoint() throws {
            let protect = Set([record.best?.step].compactMap { $0 })
            let url = try TrainingCheckpoint.save(in: out, state: state(), parameters: parameters, optimizer: optimizer, layout: layout,
                                                  keepLast: max(1, options.keepCheckpoints), protect: protect)
            try record.write(to: out)
            report(.checkpoint(url))
        }

        /// Per-epoch validation scores every validation input as triage does (the inference path: image tokens,
        /// prompt prefill, label log-likelihoods; the most suspicious image of a multi-image input): LoRA with
        /// the parameters attached as an adapter, full training on a snapshot of the current weights.
        /// `epoch` is 1-based, as every record numbers epochs.
        func validate(epoch: Int) throws -> (EpochRecord, String, Bool) {
            let epochLosses = record.steps.filter { $0.epoch == epoch }.map(\.tokenLoss)
            let meanLoss = epochLosses.isEmpty ? nil : epochLosses.reduce(0, +) / Double(epochLosses.count)
            var epochRecord = EpochRecord(epoch: epoch, step: globalStep, trainTokenLoss: meanLoss)
            guard let validation else {
                epochRecord.summary = "train token loss \(Self.format(meanLoss)); no validation set"
                return (epochRecord, epochRecord.summary ?? "", false)
            }
            let model: LoadedModel, adapter: String?
            switch trainable {
            case .lora(let lora, _):
                lora.attach(as: Self.adapterName)
                (model, adapter) = (loaded, Self.adapterName)
            case .full(let full):
                (model, adapter) = (try full.snapshot(of: loaded), nil)
            }
            defer { if case .lora(let lora, _) = trainable { lora.detach(Self.adapterName) } }
            guard let vision = model.vision else { throw TrainingDataError.invalidArgument("\(options.model) has no vision tower") }
            let scorer = try LabelScorer(model: model.model, answers: builder.answers)
            var cases: [ValidationCase] = []
            for row in validation.rows.indices {
                var best: ValidationCase?
                for ex in try examples(of: row, in: validation) {
                    let tokens = try vision.imageTokens(pixelValues: ex.pixelValues[0], adapter: adapter)
                    let prompt = try model.model.promptInput(ids: builder.promptIDs, imageTokens: [tokens], imageTokenID: vision.settings.imageTokenID)
                    let scores = try scorer.score(prompt: prompt, adapter: adapter)
                    let p = scores.probability(positive) ?? .nan
                    if let b = best, p <= b.pBlocked { continue }
                    best = ValidationCase(label: ex.label, pBlocked: p,
                                          labelLogprobs: Dictionary(uniqueKeysWithValues: scores.labels.map { ($0.label, $0.logprob) }))
                }
                if let best { cases.append(best) }
            }
            let metrics = try ValidationMetrics(cases: cases, threshold: profile.threshold, positiveLabel: positive)
            let score = options.selection.score(metrics)
            // The training objective's quantity on the validation set, so the two token losses compare.
            let answerLength = Dictionary(uniqueKeysWithValues: builder.answers.map { ($0.label, $0.ids.count) })
            let tokenLosses = cases.compactMap { c in
                c.labelLogprobs?[c.label].flatMap { lp in answerLength[c.label].map { -lp / Double($0) } }
            }
            epochRecord.validationTokenLoss = tokenLosses.isEmpty ? nil : tokenLosses.reduce(0, +) / Double(tokenLosses.count)
            epochRecord.validationLabelLoss = metrics.meanLoss
            epochRecord.sensitivity = metrics.sensitivity
            epochRecord.specificity = metrics.specificity
            epochRecord.balancedAccuracy = metrics.balancedAccuracy
            epochRecord.threshold = profile.threshold
            epochRecord.criterion = score.keys.first
            if let auc = metrics.auroc { epochRecord.extra["auroc"] = auc }
            for (i, k) in score.keys.enumerated() { epochRecord.extra["selection_key_\(i)"] = k }
            let previousBest = record.best.flatMap { b in record.epochs.first { $0.step == b.step } }.map(Self.selectionScore)
            let isBest = previousBest.map { score > $0 } ?? true
            // One text for the console and the record: the metrics at the profile threshold (the fields above),
            // then the criterion's own operating point, which may lie at another threshold.
            let f = Self.format
            epochRecord.summary = "at the profile threshold \(profile.threshold): sensitivity \(f(metrics.sensitivity)), "
                + "specificity \(f(metrics.specificity)), balanced accuracy \(f(metrics.balancedAccuracy)); "
                + "losses: train token \(f(meanLoss)), validation token \(f(epochRecord.validationTokenLoss)), "
                + "validation label \(f(metrics.meanLoss)); selection (\(options.selection.name)): \(score.summary)"
            return (epochRecord, epochRecord.summary ?? "", isBest)
        }

        // The loop: windows of batch × accumulation rows within an epoch, one optimiser step each.
        let window = h.batchSize * h.gradientAccumulation
        zeroGrad()
        while globalStep < totalSteps {
            if let maxSteps = options.maxSteps, sessionSteps >= maxSteps { break }
            let stepStart = clock.now
            // The window's rows: the first draw opens the next epoch when the last one ended.
            let (epoch, first) = sampler.next()
            var rows = [first]
            while rows.count < window && sampler.state.position < epochLength { rows.append(sampler.next().row) }
            var batch: [LabeledExample] = []
            for row in rows { batch += try examples(of: row, in: manifest) }
            var lossSum = 0.0
            let n = Float(max(batch.count, 1))
            for ex in batch {
                let loss: Float
                switch trainable {
                case .lora(let lora, _):
                    loss = try engine.lossAndGradients(example: ex.example, lora: lora, dropout: &dropout, lossScale: ex.weight / n)
                case .full(let full):
                    loss = try engine.lossAndGradients(example: ex.example, full: full, dropout: &dropout, lossScale: ex.weight / n)
                }
                lossSum += Double(loss) * Double(ex.weight)
            }
            let norm = h.maxGradNorm > 0 ? GradientClipping.clip(parameters, maxNorm: h.maxGradNorm) : GradientClipping.globalNorm(parameters)
            let lr = schedule.learningRate(atStep: globalStep)
            guard norm.isFinite, lossSum.isFinite else {
                throw TrainingDataError.invalidArgument("training diverged at step \(globalStep + 1): the loss or the gradient is not finite "
                    + "(loss \(lossSum / Double(max(batch.count, 1))), gradient norm \(norm)); lower --lr or resume from an earlier checkpoint")
            }
            optimizer.step(learningRate: lr)
            zeroGrad()
            globalStep += 1
            sessionSteps += 1
            let stepRecord = StepRecord(step: globalStep, epoch: epoch + 1, tokenLoss: batch.isEmpty ? .nan : lossSum / Double(batch.count),
                                        learningRate: lr, gradNorm: Double(norm), seconds: (clock.now - stepStart).seconds)
            record.steps.append(stepRecord)
            report(.step(stepRecord, totalSteps: totalSteps))

            let epochEnded = sampler.state.position >= epochLength
            if epochEnded {
                let (er, text, isBest) = try validate(epoch: epoch + 1)
                record.epochs.append(er)
                if isBest && validation != nil {
                    record.best = BestCheckpoint(step: globalStep, epoch: epoch + 1, criterion: options.selection.name,
                                                 value: er.criterion ?? -.infinity, path: TrainingCheckpoint.folder(in: out, step: globalStep).lastPathComponent)
                }
                report(.epoch(er, summary: text, isBest: isBest && validation != nil))
                try saveCheckpoint()
            } else if options.checkpointEvery > 0 && globalStep % options.checkpointEvery == 0 {
                try saveCheckpoint()
            }
        }
        let completed = globalStep >= totalSteps
        if !completed && TrainingCheckpoint.checkpoints(in: out).last?.step != globalStep && globalStep > 0 {
            try saveCheckpoint()
        }
        if completed {
            // The result in `out`: the best checkpoint's by the selection criterion, else the last step's; an
            // adapter (LoRA) or a standalone model directory (--full).
            if let best = record.best {
                _ = try TrainingCheckpoint.load(from: out.appendingPathComponent(best.path), parameters: parameters,
                                                optimizer: optimizer, layout: layout)
            }
            switch trainable {
            case .lora(_, let writer): try writer.write(parameters: parameters, to: out)
            case .full(let full):
                try FullModelWriter.write(tensors: try full.checkpointTensors(patchSize: loaded.vision?.settings.vision.patchSize),
                                          base: URL(fileURLWithPath: options.model),
                                          readme: TrainedModelReadme.text(record: record), to: out)
            }
        }
        record.finishSession(seconds: (clock.now - sessionStart).seconds, completed: completed)
        try record.write(to: out)
        return record
    }

    /// The selection score an epoch record carries.
    static func selectionScore(_ e: EpochRecord) -> SelectionScore {
        var keys: [Double] = []
        var i = 0
        while let k = e.extra["selection_key_\(i)"] { keys.append(k); i += 1 }
        return SelectionScore(keys: keys, summary: "")
    }

    /// A metric with four decimals, "n/a" when undefined.
    static func format(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "n/a" }

    static func counts(_ m: TrainingManifest) -> String {
        zip(m.labels, m.classCounts).map { "\($0) \($1)" }.joined(separator: ", ")
    }

    static func validate(_ h: TrainingHyperparameters) throws {
        func bad(_ s: String) -> TrainingDataError { .invalidArgument(s) }
        guard h.epochs >= 1 else { throw bad("--epochs must be at least 1 (got \(h.epochs))") }
        guard h.batchSize >= 1 else { throw bad("--batch-size must be at least 1 (got \(h.batchSize))") }
        guard h.gradientAccumulation >= 1 else { throw bad("--grad-accum must be at least 1 (got \(h.gradientAccumulation))") }
        guard h.learningRate.isFinite, h.learningRate > 0 else { throw bad("--lr must be a positive number (got \(h.learningRate))") }
        guard h.maxGradNorm.isFinite, h.maxGradNorm >= 0 else { throw bad("--max-grad-norm must be ≥ 0 (got \(h.maxGradNorm))") }
        guard h.weightDecay.isFinite, h.weightDecay >= 0 else { throw bad("--weight-decay must be ≥ 0 (got \(h.weightDecay))") }
    }
}

/// What a run trains.
enum Trainable {
    /// LoRA updates on the frozen base, and the writer of their PEFT adapter.
    case lora(TrainableLoRA, PEFTAdapterWriter)
    /// Every weight (`--full`).
    case full(FullParameters)

    var parameters: [Parameter] {
        switch self {
        case .lora(let l, _): return l.parameters
        case .full(let f): return f.parameters
        }
    }

    /// "N LoRA modules" or "full training of N tensors".
    var summary: String {
        switch self {
        case .lora(let l, _): return "\(l.modules.count) LoRA modules"
        case .full(let f): return "full training of \(f.parameters.count) tensors"
        }
    }
}


/// The model images of manifest inputs (by resolved path), kept between epochs up to a byte limit (first
/// come, first kept). 8-bit images, a quarter of their float pixel values' size.
final class ImageCache: @unchecked Sendable {
    let limit: Int
    private var bytes = 0
    private var entries: [String: [PreparedImage]] = [:]

    init(limit: Int) { self.limit = limit }

    func get(_ key: String) -> [PreparedImage]? { entries[key] }

    func put(_ key: String, _ value: [PreparedImage]) {
        guard entries[key] == nil else { return }
        let size = value.reduce(0) { $0 + $1.rgb.pixels.count + $1.gray.count }
        guard bytes + size <= limit else { return }
        entries[key] = value
        bytes += size
    }
}
