import Angiography
import Foundation

/// What every record of a run says about the run: mode, profile and the model's fingerprints.
public struct RecordContext: Sendable, Equatable {
    public var mode: TriageMode
    public var profile: String
    public var modelFingerprint: String
    public var adapterFingerprint: String?
    public var testModel: Bool
    public var demoModel: Bool
    /// Keys the study and series UID hashes.
    public var siteKey: SiteKey?

    public init(mode: TriageMode, profile: String, modelFingerprint: String, adapterFingerprint: String?, testModel: Bool,
                demoModel: Bool, siteKey: SiteKey?) {
        self.mode = mode
        self.profile = profile
        self.modelFingerprint = modelFingerprint
        self.adapterFingerprint = adapterFingerprint
        self.testModel = testModel
        self.demoModel = demoModel
        self.siteKey = siteKey
    }

    /// A record with nothing but the unit's input, kind and status.
    public func blankRecord(input: String, kind: TriageRecord.Kind, status: TriageRecord.Status) -> TriageRecord {
        TriageRecord(input: input, kind: kind, status: status, files: [], studyUIDHash: nil, seriesUIDHash: nil,
                     instanceUIDHashes: [], modality: nil, route: nil, routeReason: nil, framesUsed: [], pBlocked: nil,
                     labelProbabilities: nil, decision: nil, reasons: [], images: [], mode: mode, profile: profile,
                     modelFingerprint: modelFingerprint, adapterFingerprint: adapterFingerprint, testModel: testModel, demoModel: demoModel,
                     error: nil, timings: TriageRecord.Timings())
    }

    /// The record of a unit that is not triaged: a skipped file or an unreadable input.
    public func record(for unit: InputUnit) -> TriageRecord? {
        switch unit {
        case .image, .dicomSeries: return nil
        case .skippedFile(let path, let reason, let input):
            var record = blankRecord(input: input ?? path, kind: .file, status: .skipped)
            record.files = [path]
            record.route = "skip"
            record.routeReason = reason
            record.reasons = [reason]
            return record
        case .unreadable(let path, let reason, let input):
            var record = blankRecord(input: input ?? path, kind: .file, status: .error)
            record.files = [path]
            record.error = reason
            record.reasons = ["unreadable: \(reason)"]
            return record
        }
    }

    /// The record of a picture input whose image could not be made (`inputSeconds` nil) or classified.
    public func failedPicture(_ path: String, input: String, error: Error, inputSeconds: Double?) -> TriageRecord {
        var record = blankRecord(input: input, kind: .image, status: .processed)
        record.files = [path]
        if let inputSeconds { routePicture(&record, inputSeconds: inputSeconds) }
        record.status = .error
        record.error = "\(error)"
        record.reasons = ["unreadable: \(error)"]
        return record
    }

    /// The record of a classified picture input.
    public func picture(_ path: String, input: String, inputSeconds: Double, result: TriageRecord.ImageResult,
                        timings: TriageRecord.Timings, extraReasons: [String]) -> TriageRecord {
        var record = blankRecord(input: input, kind: .image, status: .processed)
        record.files = [path]
        routePicture(&record, inputSeconds: inputSeconds)
        record.timings.add(timings)
        RecordAssembly.finish(&record, images: [result], extraReasons: extraReasons)
        return record
    }

    func routePicture(_ record: inout TriageRecord, inputSeconds: Double) {
        record.timings.input = inputSeconds
        record.route = "triage"
        record.routeReason = "picture input (PNG/JPEG): no routing"
    }
}

/// The record of a DICOM series, assembled as its instances come through the model-image and classification
/// stages: identities, skips, failures and image results in, the decided record out (`finish`).
public struct SeriesRecordAssembly: Sendable {
    public private(set) var record: TriageRecord
    var failures: [String] = []
    var skips: [(String, RouteDecision)] = []
    var images: [TriageRecord.ImageResult] = []
    var triagedRuns = 0
    var extraReasons: [String] = []

    /// A series unit's record before any instance: its files, hashed UIDs and the catalogue's modality.
    public init(context: RecordContext, input: String, study: String?, series: String?, modality: String?, files: [String]) {
        record = context.blankRecord(input: input, kind: .dicomSeries, status: .processed)
        record.files = files
        record.studyUIDHash = study.map { UIDHash.hash($0, key: context.siteKey) }
        record.seriesUIDHash = series.map { UIDHash.hash($0, key: context.siteKey) }
        record.modality = DefinedTerms.modality(modality)
    }

    /// Image results so far (their count numbers saved images).
    public var imageCount: Int { images.count }

    /// Takes in an instance from the model-image stage (before its images are classified).
    public mutating func add(_ instance: PreparedInstance) {
        if let id = instance.identity {
            if id.hasInstanceUID, let hash = id.instanceHash { record.instanceUIDHashes.append(hash) }
            if record.modality == nil { record.modality = id.modality }
        }
        switch instance.outcome {
        case .images:
            record.timings.input += instance.seconds
            triagedRuns += 1
        case .skipped(let decision):
            record.timings.input += instance.seconds
            skips.append((instance.path, decision))
        case .failed(let message):
            failures.append(message)
        }
    }

    /// Takes in one classified image of the instance last added.
    public mutating func add(_ result: TriageRecord.ImageResult, timings: TriageRecord.Timings) {
        record.timings.add(timings)
        images.append(result)
    }

    /// An instance whose classification failed part way (its earlier images stay).
    public mutating func fail(_ message: String) { failures.append(message) }

    /// A reason to add after the decision's own (a saved image that could not be written).
    public mutating func note(_ reason: String) { extraReasons.append(reason) }

    /// The decided record: the worst image decides; a series with failures is never a confident patent.
    public func finish() -> TriageRecord {
        var record = self.record
        if images.isEmpty {
            if triagedRuns == 0 && failures.isEmpty, let first = skips.first {
                record.status = .skipped
                record.route = "skip"
                record.routeReason = first.1.reason
                record.reasons = ["\(first.1.reason): \(first.1.detail)"]
            } else {
                record.status = .error
                record.route = triagedRuns > 0 ? "triage" : (skips.isEmpty ? nil : "skip")
                record.error = failures.isEmpty ? "no model image could be made" : failures.joined(separator: "; ")
                record.reasons = failures.map { "unreadable: \($0)" }
            }
            return record
        }
        record.route = "triage"
        record.routeReason = RouteDecision.inScope
        var extra: [String] = []
        for f in failures { extra.append("partly unreadable: \(f)") }
        if !skips.isEmpty { extra.append("\(skips.count) of \(record.files.count) instance(s) skipped (\(skips[0].1.reason))") }
        extra += extraReasons
        RecordAssembly.finish(&record, images: images, extraReasons: extra, forceReview: !failures.isEmpty)
        return record
    }
}

/// Record assembly: image results → the record's decision, probabilities and reasons.
public enum RecordAssembly {
    /// Aggregates image results into the record: the worst image (blocked, then review, then patent; ties by
    /// the higher P(blocked)) decides. An image outside the training domain was already sent to review by
    /// `classify`, so a record holding one is never a confident patent.
    public static func finish(_ record: inout TriageRecord, images: [TriageRecord.ImageResult], extraReasons: [String],
                              forceReview: Bool = false) {
        record.images = images
        record.framesUsed = images.map(\.frames)
        let checks = images.compactMap(\.domain)
        record.domainChecked = !images.isEmpty && checks.count == images.count
        record.inTrainingDomain = record.domainChecked ? checks.allSatisfy(\.inTrainingDomain) : nil
        guard let worst = images.max(by: { a, b in
            (a.decision.severity, a.pBlocked ?? -1) < (b.decision.severity, b.pBlocked ?? -1)
        }) else { return }
        record.pBlocked = images.compactMap(\.pBlocked).max()
        record.labelProbabilities = worst.labelProbabilities
        var decision = worst.decision
        if forceReview && decision == .patent { decision = .manualReview }
        record.decision = decision
        var reasons = worst.reasons
        if images.count > 1 {
            reasons.insert("worst of \(images.count) images (frames \(worst.frames.map(String.init).joined(separator: ",")))", at: 0)
        }
        record.reasons = reasons + extraReasons
    }
}
