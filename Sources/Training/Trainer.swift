import Foundation
import Imaging
import LoRA
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

/// `dsa-triage train`'s entry: runs (or resumes) a `TrainingSession` to its end or `maxSteps`.
public final class Trainer: @unchecked Sendable {
    public let options: TrainingOptions
    let report: (TrainingEvent) -> Void

    public init(options: TrainingOptions, report: @escaping (TrainingEvent) -> Void = { _ in }) {
        self.options = options
        self.report = report
    }

    /// Runs (or resumes) the training and returns the final record (also written to `out`).
    @discardableResult
    public func run() throws -> TrainingRunRecord {
        try TrainingSession(options: options, report: report).run()
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
