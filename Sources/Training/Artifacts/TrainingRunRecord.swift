import FileAccess
import Foundation
import Triage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// JSON coding shared by training_run.json and trainer_state.json: snake_case keys, sorted and indented,
/// non-finite numbers (a diverged loss) as the strings "NaN" / "Infinity" / "-Infinity".
public enum TrainingJSON {
    /// The encoder for training JSON files.
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }

    /// The decoder matching `encoder()`.
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }

    /// Reads `type` from `url`; a missing or malformed file throws an error naming it.
    static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingArtifactError.corrupt(path: url.path, reason: "missing or unreadable")
        }
        do { return try decoder().decode(T.self, from: data) } catch {
            throw TrainingArtifactError.corrupt(path: url.path, reason: "not a valid \(T.self): \(error)")
        }
    }

    /// Writes `value` to `url` atomically.
    static func write<T: Encodable>(_ value: T, to url: URL) throws {
        let data: Data
        do { data = try encoder().encode(value) } catch {
            throw TrainingArtifactError.writeFailed(path: url.path, reason: "\(error)")
        }
        try AtomicWrite.write(data + Data("\n".utf8), to: url)
    }
}

/// Every setting that shapes a training run; two runs with different values are different runs. The LoRA
/// settings are nil (and absent from the JSON) for full training, where they do not apply.
public struct TrainingHyperparameters: Codable, Equatable, Sendable {
    /// LoRA rank (nil for full training).
    public var rank: Int?
    /// LoRA alpha (nil for full training).
    public var alpha: Double?
    /// LoRA dropout probability (nil for full training).
    public var dropout: Double?
    /// "all-linear", or module names separated by commas, or a regular expression (nil for full training).
    public var targetModules: String?
    /// Every parameter trained (no LoRA).
    public var fullFineTune: Bool
    /// Learning rate the step used.
    public var learningRate: Double
    /// Learning-rate shape after warm-up.
    public var schedule: LearningRateSchedule.Kind
    /// Warm-up in optimiser steps.
    public var warmupSteps: Int?
    /// Warm-up as a fraction of all steps (wins over warmupSteps when > 0).
    public var warmupRatio: Double?
    /// AdamW beta1.
    public var beta1: Double
    /// AdamW beta2.
    public var beta2: Double
    /// AdamW epsilon.
    public var epsilon: Double
    /// AdamW decoupled weight decay.
    public var weightDecay: Double
    /// Examples per forward/backward pass.
    public var batchSize: Int
    /// Batches accumulated per optimiser step.
    public var gradientAccumulation: Int
    /// Passes over the training set.
    public var epochs: Int
    /// 0 turns clipping off.
    public var maxGradNorm: Double
    /// Seed of every random draw (initialisation, sampling, dropout).
    public var seed: UInt64
    /// "none", "int8" or "nf4" (the frozen base).
    public var quantization: String
    /// "auto", "sampler", "loss-weights" or "none".
    public var balanceMode: String
    /// How the best checkpoint is chosen, e.g. "sensitivity@specificity>=0.90".
    public var selectionCriterion: String
    /// The task profile (labels, prompt) the examples are built with.
    public var profile: String

    /// The model card's recipe (`TrainingDefaults`) with transformers' Trainer defaults for the rest (linear
    /// schedule, no warm-up, AdamW betas 0.9 / 0.999, eps 1e-8, weight decay 0, clipping at norm 1, seed 42).
    /// With `fullFineTune` the LoRA settings are dropped whatever is passed.
    public init(rank: Int? = TrainingDefaults.rank, alpha: Double? = TrainingDefaults.alpha,
                dropout: Double? = TrainingDefaults.dropout, targetModules: String? = TrainingDefaults.targetModules,
                fullFineTune: Bool = false, learningRate: Double = TrainingDefaults.learningRate,
                schedule: LearningRateSchedule.Kind = .linear, warmupSteps: Int? = 0, warmupRatio: Double? = nil,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0,
                batchSize: Int = TrainingDefaults.batchSize, gradientAccumulation: Int = TrainingDefaults.gradientAccumulation,
                epochs: Int = TrainingDefaults.epochs, maxGradNorm: Double = 1.0, seed: UInt64 = 42,
                quantization: String = TrainingDefaults.quantization, balanceMode: String = "auto",
                selectionCriterion: String = "sensitivity@specificity>=0.90", profile: String = "default") {
        self.rank = fullFineTune ? nil : rank
        self.alpha = fullFineTune ? nil : alpha
        self.dropout = fullFineTune ? nil : dropout
        self.targetModules = fullFineTune ? nil : targetModules
        self.fullFineTune = fullFineTune
        self.learningRate = learningRate
        self.schedule = schedule
        self.warmupSteps = warmupSteps
        self.warmupRatio = warmupRatio
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.batchSize = batchSize
        self.gradientAccumulation = gradientAccumulation
        self.epochs = epochs
        self.maxGradNorm = maxGradNorm
        self.seed = seed
        self.quantization = quantization
        self.balanceMode = balanceMode
        self.selectionCriterion = selectionCriterion
        self.profile = profile
    }

    /// The optimiser settings these hyper-parameters ask for.
    public var adamW: AdamW.Settings { AdamW.Settings(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay) }

    /// The warm-up as the schedule takes it (a ratio wins over a step count, as in the Trainer).
    public var warmup: LearningRateSchedule.Warmup {
        if let r = warmupRatio, r > 0 { return .ratio(r) }
        return .steps(warmupSteps ?? 0)
    }
}

/// One optimiser step of a run.
public struct StepRecord: Codable, Equatable, Sendable {
    /// 1-based optimiser step.
    public var step: Int
    /// 1-based epoch the step belongs to (as `EpochRecord.epoch` and `BestCheckpoint.epoch`).
    public var epoch: Int
    /// The training objective: cross-entropy per answer token over the whole vocabulary (natural log),
    /// averaged over the step's examples (class loss weights applied).
    public var tokenLoss: Double
    /// Learning rate the step used.
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradNorm: Double?
    /// Wall time of the step.
    public var seconds: Double?

    /// One step's entry.
    public init(step: Int, epoch: Int, tokenLoss: Double, learningRate: Double, gradNorm: Double? = nil, seconds: Double? = nil) {
        self.step = step
        self.epoch = epoch
        self.tokenLoss = tokenLoss
        self.learningRate = learningRate
        self.gradNorm = gradNorm
        self.seconds = seconds
    }
}

/// The end of one epoch: training loss and the validation metrics the best checkpoint is chosen by.
/// Two losses of different kinds: `*TokenLoss` is the training objective (cross-entropy per answer token over
/// the whole vocabulary), `validationLabelLoss` the classification loss (−log P(true label), P normalised
/// over the profile's labels only), which is far smaller for the same model.
public struct EpochRecord: Codable, Equatable, Sendable {
    /// 1-based epoch.
    public var epoch: Int
    /// Optimiser steps done when the epoch ended.
    public var step: Int
    /// Mean of the epoch's steps' `tokenLoss`.
    public var trainTokenLoss: Double?
    /// The same quantity as `trainTokenLoss` on the validation set (true answers, no loss weights).
    public var validationTokenLoss: Double?
    /// Mean −log P(true label | image), P normalised over the profile's labels (natural log).
    public var validationLabelLoss: Double?
    /// Validation sensitivity (recall of the positive class) at `threshold`.
    public var sensitivity: Double?
    /// Validation specificity at `threshold`.
    public var specificity: Double?
    /// Mean of sensitivity and specificity at `threshold`.
    public var balancedAccuracy: Double?
    /// The decision threshold the metrics were taken at (the task profile's).
    public var threshold: Double?
    /// The value of the selection criterion (higher is better).
    public var criterion: Double?
    /// The epoch's validation in words, exactly as `train` prints it (the profile-threshold metrics, then the
    /// selection criterion's own operating point, which may lie at another threshold).
    public var summary: String?
    /// Any further metric by name (AUC, counts, …).
    public var extra: [String: Double]

    /// One epoch's entry.
    public init(epoch: Int, step: Int, trainTokenLoss: Double? = nil, validationTokenLoss: Double? = nil,
                validationLabelLoss: Double? = nil, sensitivity: Double? = nil,
                specificity: Double? = nil, balancedAccuracy: Double? = nil, threshold: Double? = nil,
                criterion: Double? = nil, summary: String? = nil, extra: [String: Double] = [:]) {
        self.epoch = epoch
        self.step = step
        self.trainTokenLoss = trainTokenLoss
        self.validationTokenLoss = validationTokenLoss
        self.validationLabelLoss = validationLabelLoss
        self.summary = summary
        self.sensitivity = sensitivity
        self.specificity = specificity
        self.balancedAccuracy = balancedAccuracy
        self.threshold = threshold
        self.criterion = criterion
        self.extra = extra
    }
}

/// The best checkpoint so far by the selection criterion.
public struct BestCheckpoint: Codable, Equatable, Sendable {
    public var step: Int
    /// 1-based epoch the step belongs to.
    public var epoch: Int
    /// The selection criterion's name.
    public var criterion: String
    /// Its value at that checkpoint (higher is better).
    public var value: Double
    /// Folder relative to the output directory (e.g. "checkpoint-40" or "best").
    public var path: String

    /// The best checkpoint's entry.
    public init(step: Int, epoch: Int, criterion: String, value: Double, path: String) {
        self.step = step
        self.epoch = epoch
        self.criterion = criterion
        self.value = value
        self.path = path
    }
}

/// training_run.json: what was trained, on what, with which code, how it went and what it cost.
public struct TrainingRunRecord: Codable, Equatable, Sendable {
    /// The record's file name in the output directory.
    public static let fileName = "training_run.json"
    /// Version of this file's layout. 2: epochs numbered from 1 everywhere, `token_loss` / `train_token_loss`
    /// / `validation_label_loss` / `validation_token_loss` (were `loss` / `train_loss` / `validation_loss`),
    /// no LoRA settings for full training, the epoch `summary`.
    public static let currentFormat = 2

    /// Layout version (`currentFormat` when written).
    public var format: Int
    /// Every setting of the run.
    public var hyperparameters: TrainingHyperparameters
    /// Path of the base model.
    public var baseModel: String
    /// `ModelFingerprint.of(path:)` of the base weights, when taken.
    public var baseModelFingerprint: String?
    /// Path of the training manifest.
    public var dataManifest: String
    /// sha256 of the training manifest file.
    public var dataManifestSha256: String
    /// Path of the validation manifest.
    public var validationManifest: String?
    /// sha256 of the validation manifest file.
    public var validationManifestSha256: String?
    /// `SoftwareVersion.current` of the binary that trained.
    public var codeVersion: String
    /// Optimiser steps the run will take in all.
    public var totalSteps: Int?
    /// When the run first started (ISO 8601, UTC).
    public var startedAt: String
    /// When the last session ended.
    public var endedAt: String?
    /// Seconds spent training, summed over resumed sessions.
    public var wallSeconds: Double
    /// Largest resident set size seen (getrusage ru_maxrss), over all sessions.
    public var peakMemoryBytes: Int
    /// Every optimiser step so far.
    public var steps: [StepRecord]
    /// Every finished epoch.
    public var epochs: [EpochRecord]
    /// The best checkpoint so far.
    public var best: BestCheckpoint?
    /// Whether the run reached its last step.
    public var completed: Bool
    /// What the training images were (source kinds, statistics), as triage checks inputs against it; also
    /// written as `input_domain.json` beside the adapter or model. Nil in records made before it existed.
    public var inputDomain: InputDomain?

    /// A new record with no history, started at `startedAt`.
    public init(hyperparameters: TrainingHyperparameters, baseModel: String, baseModelFingerprint: String? = nil,
                dataManifest: String, dataManifestSha256: String, validationManifest: String? = nil,
                validationManifestSha256: String? = nil, codeVersion: String, totalSteps: Int? = nil,
                startedAt: Date = Date()) {
        format = Self.currentFormat
        self.hyperparameters = hyperparameters
        self.baseModel = baseModel
        self.baseModelFingerprint = baseModelFingerprint
        self.dataManifest = dataManifest
        self.dataManifestSha256 = dataManifestSha256
        self.validationManifest = validationManifest
        self.validationManifestSha256 = validationManifestSha256
        self.codeVersion = codeVersion
        self.totalSteps = totalSteps
        self.startedAt = Self.timestamp(startedAt)
        endedAt = nil
        wallSeconds = 0
        peakMemoryBytes = 0
        steps = []
        epochs = []
        best = nil
        completed = false
    }

    /// ISO 8601 in UTC with milliseconds.
    public static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    /// Writes `training_run.json` into `directory` (created if needed; the file atomically).
    public func write(to directory: URL) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw TrainingArtifactError.writeFailed(path: directory.path, reason: "\(error)")
        }
        try TrainingJSON.write(self, to: directory.appendingPathComponent(Self.fileName))
    }

    /// The layout version of `directory`'s `training_run.json` (nil when there is none or it has no readable
    /// "format"), read before the whole record so that an older layout gets its own message.
    public static func format(in directory: URL) -> Int? {
        struct Format: Decodable { var format: Int }
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(fileName).path) else { return nil }
        return (try? JSONDecoder().decode(Format.self, from: data))?.format
    }

    /// Reads `training_run.json` from `directory`; nil when there is none.
    public static func read(from directory: URL) throws -> TrainingRunRecord? {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try TrainingJSON.read(TrainingRunRecord.self, from: url)
    }

    /// Takes the history back to a checkpoint's (a resumed run repeats the steps done after it).
    public mutating func rewind(to state: TrainerState) {
        steps = state.steps
        epochs = state.epochs
        best = state.best
        completed = false
    }

    /// Notes the end of a session: ended now, `seconds` more of wall time, peak memory so far.
    public mutating func finishSession(seconds: Double, completed: Bool, at date: Date = Date()) {
        endedAt = Self.timestamp(date)
        wallSeconds += seconds
        peakMemoryBytes = max(peakMemoryBytes, ResourceUsage.peakResidentBytes())
        self.completed = completed
    }

    /// The fields that make two records different runs (JSON key names, hyper-parameters as
    /// "hyperparameters.<name>"): every hyper-parameter, the base model (its fingerprint when both have one,
    /// else its path) and the manifests' hashes. Progress, timing and code version do not count.
    public func identityDifferences(from other: TrainingRunRecord) -> [String] {
        var out: [String] = []
        let a = Self.fields(hyperparameters), b = Self.fields(other.hyperparameters)
        for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
            out.append("hyperparameters." + key)
        }
        if let f1 = baseModelFingerprint, let f2 = other.baseModelFingerprint {
            if f1 != f2 { out.append("base_model_fingerprint") }
        } else if baseModel != other.baseModel {
            out.append("base_model")
        }
        if dataManifestSha256 != other.dataManifestSha256 { out.append("data_manifest_sha256") }
        if validationManifestSha256 != other.validationManifestSha256 { out.append("validation_manifest_sha256") }
        return out
    }

    /// Each hyper-parameter's value as text by its JSON key (Double's description is exact: shortest text
    /// that reads back to the same value).
    static func fields(_ h: TrainingHyperparameters) -> [String: String] {
        var out: [String: String] = [:]
        for child in Mirror(reflecting: h).children {
            guard let label = child.label else { continue }
            out[snakeCase(label)] = String(describing: child.value)
        }
        return out
    }

    /// "gradientAccumulation" → "gradient_accumulation" (as JSONEncoder's convertToSnakeCase).
    static func snakeCase(_ s: String) -> String {
        var out = ""
        for c in s {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}

/// Memory use of this process.
public enum ResourceUsage {
    /// The peak resident set size so far, in bytes (getrusage: ru_maxrss is in kilobytes on Linux, bytes on macOS).
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024
        #else
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss)
        #endif
    }
}
