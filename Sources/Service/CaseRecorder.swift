import DICOM
import Foundation
import Triage
import WorkerQueue

/// How finished jobs become review cases: the site name monitoring groups by, the audit fractions against
/// verification bias, and where model images are kept for the case page.
public struct ReviewSettings: Sendable, Equatable {
    /// The site this worker serves (monitoring's `site` group); nil leaves it out.
    public var site: String?
    /// Fraction of the cases the model called patent on its own that are also put on the worklist.
    public var auditFractionPatent: Double
    /// Fraction of the cases the model called blocked on its own that are also put on the worklist.
    public var auditFractionBlocked: Double
    /// Folder of the model input images (PNG) shown on the case page; nil keeps none.
    public var imageFolder: URL?

    public init(site: String? = nil, auditFractionPatent: Double = 0.02, auditFractionBlocked: Double = 0.1, imageFolder: URL? = nil) {
        (self.site, self.auditFractionPatent, self.auditFractionBlocked, self.imageFolder) = (site, auditFractionPatent, auditFractionBlocked, imageFolder)
    }
}

/// Writes one review case per finished job into the worker's database: the model's call with its
/// operating point, equipment fields (no patient identifiers), input statistics for drift, and whether the
/// case goes on the worklist — every manual-review case, and an audit sample of the others drawn from the
/// job key (the same job always draws the same way, so a rerun after a crash agrees with itself).
public struct CaseRecorder: Sendable {
    public let store: any ReviewStore
    public let settings: ReviewSettings
    public let profile: TaskProfile
    /// Where worklist cases keep what their verified SR will need (nil: no verified SRs).
    public let archive: ReviewArchive?

    public init(store: any ReviewStore, settings: ReviewSettings, profile: TaskProfile, archive: ReviewArchive? = nil) {
        (self.store, self.settings, self.profile, self.archive) = (store, settings, profile, archive)
    }

    /// A uniform number in [0, 1) from the job key (itself a SHA-256 in hex): the audit draw. A key that is
    /// not hex is hashed (FNV-1a) first.
    static func draw(_ key: JobKey) -> Double {
        if key.rawValue.count >= 13, let v = UInt64(key.rawValue.suffix(13), radix: 16) {
            return Double(v) / Double(UInt64(1) << 52)
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key.rawValue.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return Double(h >> 11) / Double(UInt64(1) << 53)
    }

    /// The case of a job the model decided.
    public func triaged(job: Job, record: TriageRecord, header: InstanceHeader, dataset: DICOMDataset,
                        reportSOPInstanceUID: String?, now: Date = Date()) -> ReviewCase {
        let decision: CaseDecision
        switch record.decision {
        case .blocked?: decision = .blocked
        case .patent?: decision = .patent
        case .manualReview?, nil: decision = .manualReview
        }
        var reason: WorklistReason?
        var probability: Double
        switch decision {
        case .manualReview:
            reason = .manualReview
            probability = 1
        default:
            probability = min(max(decision == .blocked ? settings.auditFractionBlocked : settings.auditFractionPatent, 0), 1)
            if Self.draw(job.key) < probability { reason = .auditSample }
        }
        let image = record.images.first
        let band = profile.reviewBand
        return ReviewCase(
            jobID: job.id, seriesKey: job.series.rawValue, studyInstanceUID: header.studyInstanceUID,
            seriesInstanceUID: header.seriesInstanceUID, decidedAt: now, decision: decision, reasons: record.reasons,
            pBlocked: record.pBlocked, threshold: profile.threshold, reviewBandLow: band.first, reviewBandHigh: band.count > 1 ? band[1] : nil,
            site: settings.site, manufacturer: Self.text(dataset, 0x0008, 0x0070),
            manufacturerModel: Self.text(dataset, 0x0008, 0x1090), softwareVersions: Self.text(dataset, 0x0018, 0x1020),
            protocolName: Self.text(dataset, 0x0018, 0x1030), meanGray: image?.quality.meanGray,
            dynamicRange: image?.quality.dynamicRange, frameCount: header.numberOfFrames,
            framesUsed: image?.frames ?? record.framesUsed.first ?? [], worklistReason: reason,
            samplingProbability: probability, imageFile: image?.savedImage, reportSOPInstanceUID: reportSOPInstanceUID)
    }

    /// The case of a job routed away or unreadable (counted by monitoring's skipped/unreadable share).
    public func notTriaged(job: Job, decision: CaseDecision, reason: String, header: InstanceHeader?, dataset: DICOMDataset?,
                           now: Date = Date()) -> ReviewCase {
        ReviewCase(jobID: job.id, seriesKey: job.series.rawValue, studyInstanceUID: header?.studyInstanceUID ?? "",
                   seriesInstanceUID: header?.seriesInstanceUID ?? "", decidedAt: now, decision: decision, reasons: [reason],
                   site: settings.site, manufacturer: dataset.flatMap { Self.text($0, 0x0008, 0x0070) },
                   manufacturerModel: dataset.flatMap { Self.text($0, 0x0008, 0x1090) },
                   softwareVersions: dataset.flatMap { Self.text($0, 0x0018, 0x1020) },
                   protocolName: dataset.flatMap { Self.text($0, 0x0018, 0x1030) }, frameCount: header?.numberOfFrames)
    }

    /// Records a case (a job recorded before keeps its first case).
    public func record(_ reviewCase: ReviewCase) async throws(JobStoreError) {
        _ = try await store.recordCase(reviewCase)
    }

    /// Equipment text, trimmed, at most 64 characters; empty is nil. (Multi-valued Software Versions keep
    /// their backslashes.)
    static func text(_ dataset: DICOMDataset, _ group: UInt16, _ element: UInt16) -> String? {
        guard let s = dataset.string(DICOMTag(group, element))?.trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0"))),
              !s.isEmpty else { return nil }
        return String(s.prefix(64))
    }
}
