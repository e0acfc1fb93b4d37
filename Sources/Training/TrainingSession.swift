import Foundation
import Imaging
import LoRA
import MedGemma
import Tensor
import Triage

/// One training run (or its continuation) as a session: `init` reads the data, loads the model and resumes;
/// `run` steps until the end (or `maxSteps`), validating and checkpointing at each epoch's end; `finish`
/// writes the result. Each part is a method of its own, so that a worker can drive a run step by step:
///
///     let session = try TrainingSession(options: options, report: report)
///     while !session.isDone { try session.step() }
///     let record = try session.finish()
///
/// Examples come from the manifest as triage sees its inputs, gradients from `GradientEngine`, AdamW with the
/// learning-rate schedule, gradient accumulation and clipping; checkpoints resume bit for bit.
public final class TrainingSession: @unchecked Sendable {
    public let options: TrainingOptions
    let report: (TrainingEvent) -> Void
    let clock = ContinuousClock()
    /// When this session began (the record adds its wall time to the run's).
    let sessionStart: ContinuousClock.Instant
    /// The hyper-parameters as the record keeps them.
    let hyperparameters: TrainingHyperparameters
    let out: URL
    let profile: TaskProfile
    let manifest: TrainingManifest
    let validation: TrainingManifest?
    let cache: ImageCache
    let loaded: LoadedModel
    let builder: ExampleBuilder
    let engine: GradientEngine
    let trainable: Trainable
    let layout: TrainingCheckpoint.ParameterLayout
    let parameters: [Parameter]
    let optimizer: AdamW
    let schedule: LearningRateSchedule
    /// Loss weight of each class (the balance mode's).
    let weights: [Float]
    /// The run's record: its settings, and the steps and epochs so far.
    public private(set) var record: TrainingRunRecord
    public let totalSteps: Int
    let stepsPerEpoch: Int
    /// Optimiser steps done, in the whole run and in this session.
    public private(set) var globalStep: Int
    public private(set) var sessionSteps = 0
    var sampler: EpochSampler
    /// LoRA dropout's random stream.
    var dropout: SplitMix64

    /// The adapter name the trained parameters are attached under for validation.
    static let adapterName = "training"

    /// Reads and checks the data (a bad manifest fails before the model is loaded), checks the output
    /// directory, loads the model, sets up what trains, and resumes from the latest checkpoint when the
    /// directory holds this run; then records the start in `out` and reports it.
    public init(options: TrainingOptions, report: @escaping (TrainingEvent) -> Void = { _ in }) throws {
        let sessionStart = ContinuousClock.now
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
        if scheme == .w8a8 {
            throw TrainingDataError.invalidArgument("quantisation w8a8 is for inference only (its int8 activations have no gradient): train with nf4, int8 or none")
        }

        let data = try Self.readData(options: options, profile: profile, report: report)
        let manifest = data.manifest
        let balance = try ClassBalance(manifest: manifest)
        let mode = try BalanceMode.resolve(h.balanceMode, balance: balance)

        var record = TrainingRunRecord(
            hyperparameters: h, baseModel: options.model,
            baseModelFingerprint: try? ModelFingerprint.of(path: options.model),
            dataManifest: options.data, dataManifestSha256: manifest.sha256,
            validationManifest: options.validation, validationManifestSha256: data.validation?.sha256,
            codeVersion: SoftwareVersion.current)
        let decision = try OutputDirectoryGuard.check(directory: out, record: record, resume: options.resume)

        let loaded = try ModelLoader.load(path: options.model, quantization: scheme)
        let builder = try ExampleBuilder(loaded: loaded, profile: profile)
        let engine = GradientEngine(loaded: loaded)
        let (trainable, layout) = try Self.trainable(options: options, hyperparameters: h, scheme: scheme, loaded: loaded)
        let parameters = trainable.parameters
        let optimizer = try AdamW(parameters: parameters, settings: h.adamW)

        let stepsPerEpoch = LearningRateSchedule.stepsPerEpoch(examples: manifest.rows.count, batchSize: h.batchSize,
                                                               gradientAccumulation: h.gradientAccumulation)
        let totalSteps = stepsPerEpoch * h.epochs
        let schedule = try LearningRateSchedule(kind: h.schedule, baseLearningRate: h.learningRate, warmup: h.warmup,
                                                totalSteps: totalSteps)
        record.totalSteps = totalSteps

        // Random streams: initialisation (in `trainable`), the sampler's epoch orders, LoRA dropout.
        var seeds = SplitMix64(seed: h.seed ^ 0x5EED_0F_7EA1_2026)
        let samplerSeed = seeds.next()
        var dropout = SplitMix64(seed: seeds.next())
        let resumed = try Self.resume(decision, record: record, options: options, parameters: parameters, optimizer: optimizer,
                                      layout: layout, samplerSeed: samplerSeed)
        record = resumed.record
        if let state = resumed.dropoutState { dropout.state = state }
        let sampler = try EpochSampler(classOfRow: manifest.classIndices, classCount: manifest.labels.count, mode: mode,
                                       seed: samplerSeed, state: resumed.samplerState)
        record.inputDomain = data.inputDomain

        self.options = options
        self.report = report
        self.sessionStart = sessionStart
        self.hyperparameters = h
        self.out = out
        self.profile = profile
        self.manifest = manifest
        self.validation = data.validation
        self.cache = data.cache
        self.loaded = loaded
        self.builder = builder
        self.engine = engine
        self.trainable = trainable
        self.layout = layout
        self.parameters = parameters
        self.optimizer = optimizer
        self.schedule = schedule
        self.weights = balance.lossWeights(mode: mode)
        self.record = record
        self.totalSteps = totalSteps
        self.stepsPerEpoch = stepsPerEpoch
        self.globalStep = resumed.globalStep
        self.sampler = sampler
        self.dropout = dropout

        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try record.write(to: out)
        try data.inputDomain.write(to: out.appendingPathComponent(InputDomain.fileName))
        let summary = "\(manifest.rows.count) training rows (\(Self.counts(manifest))), balance \(mode.rawValue), "
            + trainable.summary
            + " (\(parameters.reduce(0) { $0 + $1.count }) parameters), "
            + "\(stepsPerEpoch) steps per epoch × \(h.epochs), base \(scheme.rawValue)"
        report(.started(totalSteps: totalSteps, doneSteps: globalStep, summary: summary))
        zeroGrad()
    }

    /// Whether this session should stop stepping: the run is complete or `maxSteps` were taken.
    public var isDone: Bool {
        if let maxSteps = options.maxSteps, sessionSteps >= maxSteps { return true }
        return globalStep >= totalSteps
    }

    /// Steps until `isDone`, then `finish`es.
    @discardableResult
    public func run() throws -> TrainingRunRecord {
        while !isDone { try step() }
        return try finish()
    }

    // MARK: The step loop

    /// One optimiser step: next batch, forward, backward, update, log; at an epoch's end the validation and
    /// a checkpoint, else a checkpoint every `checkpointEvery` steps.
    public func step() throws {
        let stepStart = clock.now
        let (epoch, batch) = try nextBatch()
        let lossSum = try forwardBackward(batch)
        let (learningRate, norm) = try update(lossSum: lossSum, examples: batch.count)
        log(StepRecord(step: globalStep, epoch: epoch + 1, tokenLoss: batch.isEmpty ? .nan : lossSum / Double(batch.count),
                       learningRate: learningRate, gradNorm: Double(norm), seconds: (clock.now - stepStart).seconds))
        if sampler.state.position >= manifest.rows.count {
            try endEpoch(epoch + 1)
        } else if options.checkpointEvery > 0 && globalStep % options.checkpointEvery == 0 {
            try saveCheckpoint()
        }
    }

    /// The next window of batch × accumulation rows within an epoch (the first draw opens the next epoch when
    /// the last one ended), as examples; the epoch is 0-based.
    func nextBatch() throws -> (epoch: Int, examples: [LabeledExample]) {
        let window = hyperparameters.batchSize * hyperparameters.gradientAccumulation
        let (epoch, first) = sampler.next()
        var rows = [first]
        while rows.count < window && sampler.state.position < manifest.rows.count { rows.append(sampler.next().row) }
        var batch: [LabeledExample] = []
        for row in rows { batch += try examples(of: row, in: manifest) }
        return (epoch, batch)
    }

    /// Forward and backward passes over the batch, gradients accumulated (each example's loss scaled by its
    /// class weight over the batch size); returns the weighted loss sum.
    func forwardBackward(_ batch: [LabeledExample]) throws -> Double {
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
        return lossSum
    }

    /// Clips the gradients, takes the optimiser step at the schedule's learning rate and clears the
    /// gradients; a loss or gradient that is not finite stops the run instead.
    func update(lossSum: Double, examples: Int) throws -> (learningRate: Double, gradNorm: Float) {
        let h = hyperparameters
        let norm = h.maxGradNorm > 0 ? GradientClipping.clip(parameters, maxNorm: h.maxGradNorm) : GradientClipping.globalNorm(parameters)
        let lr = schedule.learningRate(atStep: globalStep)
        guard norm.isFinite, lossSum.isFinite else {
            throw TrainingDataError.invalidArgument("training diverged at step \(globalStep + 1): the loss or the gradient is not finite "
                + "(loss \(lossSum / Double(max(examples, 1))), gradient norm \(norm)); lower --lr or resume from an earlier checkpoint")
        }
        optimizer.step(learningRate: lr)
        zeroGrad()
        globalStep += 1
        sessionSteps += 1
        return (lr, norm)
    }

    /// Records and reports a finished step.
    func log(_ step: StepRecord) {
        record.steps.append(step)
        report(.step(step, totalSteps: totalSteps))
    }

    /// An epoch (1-based) ended: its validation, the best checkpoint so far, a checkpoint.
    func endEpoch(_ epoch: Int) throws {
        let (er, text, isBest) = try validate(epoch: epoch)
        record.epochs.append(er)
        if isBest && validation != nil {
            record.best = BestCheckpoint(step: globalStep, epoch: epoch, criterion: options.selection.name,
                                         value: er.criterion ?? -.infinity, path: TrainingCheckpoint.folder(in: out, step: globalStep).lastPathComponent)
        }
        report(.epoch(er, summary: text, isBest: isBest && validation != nil))
        try saveCheckpoint()
    }

    func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// A row's examples, from the image cache when its images are there.
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

    // MARK: Validation

    /// Per-epoch validation scores every validation input as triage does (`TriagePipeline.classify`: image
    /// tokens, prompt prefill, label log-likelihoods; the most suspicious image of a multi-image input): LoRA
    /// with the parameters attached as an adapter, full training on a snapshot of the current weights.
    /// `epoch` is 1-based, as every record numbers epochs.
    public func validate(epoch: Int) throws -> (EpochRecord, String, Bool) {
        let epochLosses = record.steps.filter { $0.epoch == epoch }.map(\.tokenLoss)
        let meanLoss = epochLosses.isEmpty ? nil : epochLosses.reduce(0, +) / Double(epochLosses.count)
        var epochRecord = EpochRecord(epoch: epoch, step: globalStep, trainTokenLoss: meanLoss)
        guard let validation else {
            epochRecord.summary = "train token loss \(Self.format(meanLoss)); no validation set"
            return (epochRecord, epochRecord.summary ?? "", false)
        }
        let cases = try validationCases(validation)
        let positive = profile.positiveLabel
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

    /// Each validation input classified with the current parameters: its most suspicious image's P(blocked)
    /// and label log-likelihoods.
    func validationCases(_ validation: TrainingManifest) throws -> [ValidationCase] {
        let model: LoadedModel, adapter: String?
        switch trainable {
        case .lora(let lora, _):
            lora.attach(as: Self.adapterName)
            (model, adapter) = (loaded, Self.adapterName)
        case .full(let full):
            (model, adapter) = (try full.snapshot(of: loaded), nil)
        }
        defer { if case .lora(let lora, _) = trainable { lora.detach(Self.adapterName) } }
        guard model.vision != nil else { throw TrainingDataError.invalidArgument("\(options.model) has no vision tower") }
        let classifier = try ClassificationModel(loaded: model, scorer: try LabelScorer(model: model.model, answers: builder.answers),
                                                 promptIDs: builder.promptIDs, adapter: adapter)
        var cases: [ValidationCase] = []
        for row in validation.rows.indices {
            var best: ValidationCase?
            for ex in try examples(of: row, in: validation) {
                var timings = TriageRecord.Timings()
                let classified = try TriagePipeline.classify(pixelValues: ex.pixelValues[0], with: classifier, timings: &timings)
                guard let scores = classified.scores else { continue }
                let p = scores.probability(profile.positiveLabel) ?? .nan
                if let b = best, p <= b.pBlocked { continue }
                best = ValidationCase(label: ex.label, pBlocked: p,
                                      labelLogprobs: Dictionary(uniqueKeysWithValues: scores.labels.map { ($0.label, $0.logprob) }))
            }
            if let best { cases.append(best) }
        }
        return cases
    }

    // MARK: Checkpoints, resume, result

    /// The trainer state a checkpoint keeps.
    func state() -> TrainerState {
        TrainerState(globalStep: globalStep, epoch: sampler.state.epoch, positionInEpoch: sampler.state.position,
                     epochOrder: [], rngStates: ["dropout": dropout.state],
                     steps: record.steps, epochs: record.epochs, best: record.best)
    }

    /// Writes a checkpoint of the current step (the best one is kept besides the last `keepCheckpoints`) and
    /// the record.
    public func saveCheckpoint() throws {
        let protect = Set([record.best?.step].compactMap { $0 })
        let url = try TrainingCheckpoint.save(in: out, state: state(), parameters: parameters, optimizer: optimizer, layout: layout,
                                              keepLast: max(1, options.keepCheckpoints), protect: protect)
        try record.write(to: out)
        report(.checkpoint(url))
    }

    /// Where a resumed run continues.
    struct ResumePoint {
        var record: TrainingRunRecord
        var globalStep = 0
        var samplerState: EpochSampler.State?
        var dropoutState: UInt64?
    }

    /// A fresh run starts at step 0 with `record`; the same run continues from its latest checkpoint (its
    /// parameters and optimiser loaded), or from step 0 with its history kept when it stopped before one.
    static func resume(_ decision: OutputDirectoryGuard.Decision, record: TrainingRunRecord, options: TrainingOptions,
                       parameters: [Parameter], optimizer: AdamW, layout: TrainingCheckpoint.ParameterLayout,
                       samplerSeed: UInt64) throws -> ResumePoint {
        guard case .resume(let checkpoint, let previous) = decision else { return ResumePoint(record: record) }
        var point = ResumePoint(record: previous)
        point.record.validationManifest = options.validation
        guard let checkpoint else {
            point.record.rewind(to: TrainerState())
            return point
        }
        let state = try TrainingCheckpoint.load(from: checkpoint, parameters: parameters, optimizer: optimizer, layout: layout)
        point.globalStep = state.globalStep
        point.samplerState = EpochSampler.State(seed: samplerSeed, epoch: state.epoch, position: state.positionInEpoch)
        guard let d = state.rngStates["dropout"] else {
            throw TrainingArtifactError.corrupt(path: checkpoint.path, reason: "trainer_state.json has no dropout generator state")
        }
        point.dropoutState = d
        point.record.rewind(to: state)
        return point
    }

    /// Ends the session: a checkpoint of the last step when the session stopped early without one; when the
    /// run is complete, the result in `out` — the best checkpoint's parameters by the selection criterion,
    /// else the last step's, as an adapter (LoRA) or a standalone model directory (--full); the record.
    @discardableResult
    public func finish() throws -> TrainingRunRecord {
        let completed = globalStep >= totalSteps
        if !completed && TrainingCheckpoint.checkpoints(in: out).last?.step != globalStep && globalStep > 0 {
            try saveCheckpoint()
        }
        if completed {
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

    // MARK: Setting up

    /// The manifests read and checked, with the image cache the checks filled and the input-domain record of
    /// the training rows.
    struct PreparedData {
        var manifest: TrainingManifest
        var validation: TrainingManifest?
        var cache: ImageCache
        var inputDomain: InputDomain
    }

    /// Every row's input must give a model image (as triage would make it): unreadable or out-of-scope inputs
    /// are bad rows, found before any training. The images made for the check are kept (up to the cache's
    /// limit), so the first epoch does not read and decode them again. The training rows' images also make
    /// the input-domain record (validation rows are not training data).
    static func readData(options: TrainingOptions, profile: TaskProfile, report: (TrainingEvent) -> Void) throws -> PreparedData {
        let cache = ImageCache(limit: options.imageCacheBytes)
        let display = options.pathDisplay
        let readable: (TrainingRow) throws -> Void = { row in
            cache.put(row.resolvedPath, try TriagePipeline.modelImages(path: row.resolvedPath, profile: profile, display: display))
        }
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
        return PreparedData(manifest: manifest, validation: validation, cache: cache, inputDomain: inputDomain)
    }

    /// What trains: LoRA updates on the frozen base (initialised from the seed's stream), or (--full) every
    /// weight of a small model; and how checkpoints store it.
    static func trainable(options: TrainingOptions, hyperparameters h: TrainingHyperparameters, scheme: QuantizationScheme,
                          loaded: LoadedModel) throws -> (Trainable, TrainingCheckpoint.ParameterLayout) {
        if h.fullFineTune {
            guard scheme == .none else {
                throw TrainingDataError.invalidArgument("full training (--full) needs the unquantised base: use --quantize none")
            }
            return (.full(try FullParameters(loaded: loaded)), .plain)
        }
        guard let rank = h.rank, let alpha = h.alpha, let dropout = h.dropout else {
            throw TrainingDataError.invalidArgument("LoRA training needs a rank, an alpha and a dropout")
        }
        var initRNG = SplitMix64(seed: h.seed)
        let writer = PEFTAdapterWriter(architecture: .conditionalGeneration, rank: rank, alpha: alpha, dropout: dropout,
                                       targets: options.targetList == nil ? .allLinear : .exactly, useRSLoRA: false,
                                       baseModelNameOrPath: options.model)
        let lora = try TrainableLoRA(loaded: loaded, targets: options.targetList, rank: rank, alpha: Float(alpha),
                                     dropout: Float(dropout), rng: &initRNG)
        return (.lora(lora, writer), .peftAdapter(writer))
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
