import DICOM
import FileAccess
import Foundation
import Tensor

/// One record per series or picture, or also one per study (the worst of its series).
public enum TriageGrouping: String, Sendable, CaseIterable {
    case series, study
}

/// What a triage run loads and how it names and keeps things: the command line's options as one value, so
/// the command and a worker build the same pipeline the same way.
public struct TriageRequest: Sendable {
    public var model: String
    public var adapter: String?
    /// Task profile JSON; nil: the compiled-in profile.
    public var profilePath: String?
    /// Where the profile in use is written before the model loads (for auditing a run); nil: not written.
    public var writeProfilePath: String?
    /// nil: the profile's generation mode.
    public var mode: TriageMode?
    /// nil: bf16 for bf16 models, else f32.
    public var computeMode: ComputeMode?
    public var quantization: QuantizationScheme
    public var keepGeneratedText: Bool
    /// Keys UID hashes and hashed paths; nil: plain SHA-256.
    public var siteKey: SiteKey?
    public var pathMode: PathDisplay.Mode
    /// Where each model input image is written as PNG; nil: not written.
    public var savedImagesDirectory: URL?
    public var maxDecodeBytes: Int

    public init(model: String, adapter: String? = nil, profilePath: String? = nil, writeProfilePath: String? = nil,
                mode: TriageMode? = nil, computeMode: ComputeMode? = nil, quantization: QuantizationScheme = .none,
                keepGeneratedText: Bool = false, siteKey: SiteKey? = nil, pathMode: PathDisplay.Mode = .hashed,
                savedImagesDirectory: URL? = nil, maxDecodeBytes: Int = DecodeBudget.defaultMaxBytes) {
        self.model = model
        self.adapter = adapter
        self.profilePath = profilePath
        self.writeProfilePath = writeProfilePath
        self.mode = mode
        self.computeMode = computeMode
        self.quantization = quantization
        self.keepGeneratedText = keepGeneratedText
        self.siteKey = siteKey
        self.pathMode = pathMode
        self.savedImagesDirectory = savedImagesDirectory
        self.maxDecodeBytes = maxDecodeBytes
    }

    /// The pipeline this request describes. The saved-images folder is checked first (a run that cannot keep
    /// its images should not start), then the profile is read (and written out when asked), then the model loads.
    public func pipeline() throws -> TriagePipeline {
        if let savedImagesDirectory { try SavedImages.prepare(savedImagesDirectory) }
        let profile = try profilePath.map { try TaskProfile.load(path: $0) } ?? TaskProfile.standard
        if let writeProfilePath { try AtomicWrite.write(try profile.jsonData(), to: URL(fileURLWithPath: writeProfilePath)) }
        return try pipeline(profile: profile)
    }

    /// The pipeline with a profile already read (`profilePath` and `writeProfilePath` are not used).
    public func pipeline(profile: TaskProfile) throws -> TriagePipeline {
        let triageMode = mode ?? TriageMode(rawValue: profile.generation.mode) ?? .score
        let pipeline = try TriagePipeline.load(model: model, adapter: adapter, profile: profile, mode: triageMode,
                                               computeMode: computeMode, quantization: quantization)
        pipeline.keepGeneratedText = keepGeneratedText
        pipeline.siteKey = siteKey
        pipeline.pathDisplay = PathDisplay(mode: pathMode, key: siteKey)
        pipeline.savedImagesDirectory = savedImagesDirectory
        pipeline.builder.options.maxDecodeBytes = maxDecodeBytes
        return pipeline
    }
}

extension TriagePipeline {
    /// What a run says once before its results: a test or demo model, and a missing input-domain record.
    /// `recordNotes` adds where the records say the same (triage's records do; evaluation's summaries do not).
    public func notices(model: String, recordNotes: Bool) -> [String] {
        var lines: [String] = []
        if isTestModel {
            lines.append("warning: \(model) is a tiny test model; its decisions are meaningless"
                         + (recordNotes ? " (records say test_model_decisions_meaningless: true)" : ""))
        }
        if let demoNotice {
            lines.append("warning: \(model) is a demo model — \(demoNotice)"
                         + (recordNotes ? " (records say demo_model_no_clinical_meaning: true)" : ""))
        }
        if inputDomain == nil { lines.append("notice: \(Self.noInputDomainNotice)") }
        return lines
    }
}

/// The units of one run through a pipeline, one at a time (a caller writes each record as it lands), with
/// the counts that decide the run's outcome and, when grouping by study, the study records at the end.
public struct TriageBatch {
    public let pipeline: TriagePipeline
    public let grouping: TriageGrouping
    /// Units run, and those whose record is an error.
    public private(set) var total = 0
    public private(set) var failed = 0
    private var seriesRecords: [TriageRecord] = []

    public init(pipeline: TriagePipeline, grouping: TriageGrouping) {
        self.pipeline = pipeline
        self.grouping = grouping
    }

    /// Runs one unit (never throws: a failed unit is an error record).
    public mutating func run(_ unit: TriageInput) -> TriageRecord {
        let r = pipeline.run(unit)
        total += 1
        if r.status == .error { failed += 1 }
        if grouping == .study && r.kind == .dicomSeries { seriesRecords.append(r) }
        return r
    }

    /// One record per study of the series run so far (empty unless grouping by study). They come after all
    /// series: a study's series may lie anywhere in the inputs.
    public func studyRecords() -> [TriageRecord] {
        StudyVerdict.records(for: seriesRecords)
    }
}
