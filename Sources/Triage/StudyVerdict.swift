import Foundation

/// `--group study`: one record per study over its series records. The study's decision is the worst of
/// its series (blocked, then manual_review, then patent); a series that failed keeps a patent study from
/// being called patent (manual_review), and skipped series are listed but do not decide.
public enum StudyVerdict {
    /// Study records for the series records in `records` that carry a study UID hash, in the order each
    /// study first appears; pictures and files without a study give none.
    public static func records(for records: [TriageRecord]) -> [TriageRecord] {
        var order: [String] = []
        var members: [String: [TriageRecord]] = [:]
        for r in records where r.kind == .dicomSeries {
            guard let study = r.studyUIDHash else { continue }
            if members[study] == nil { order.append(study) }
            members[study, default: []].append(r)
        }
        return order.compactMap { study in members[study].map { verdict(study: study, series: $0) } }
    }

    /// The study record of one study's series records.
    public static func verdict(study: String, series: [TriageRecord]) -> TriageRecord {
        var r = series[0]
        r.kind = .study
        r.studyUIDHash = study
        r.seriesUIDHash = nil
        r.instanceUIDHashes = []
        r.files = []
        r.images = []
        r.framesUsed = []
        r.route = nil
        r.routeReason = nil
        r.error = nil
        r.labelProbabilities = nil
        r.timings = TriageRecord.Timings()
        r.timings.total = series.reduce(0) { $0 + $1.timings.total }
        r.series = series.map { TriageRecord.SeriesOutcome(seriesUIDHash: $0.seriesUIDHash, status: $0.status, decision: $0.decision,
                                                         pBlocked: $0.pBlocked) }
        // `input` stays the first series' (an argument as typed); the series list says which series belong.
        let modalities = Set(series.compactMap(\.modality))
        r.modality = modalities.count == 1 ? modalities.first : (modalities.isEmpty ? nil : modalities.sorted().joined(separator: "/"))
        let decided = series.filter { $0.status == .processed && $0.decision != nil }
        let failed = series.filter { $0.status == .error }
        let skipped = series.filter { $0.status == .skipped }
        r.pBlocked = decided.compactMap(\.pBlocked).max()
        var counts: [String] = []
        for label in [TriageLabel.blocked, .manualReview, .patent] {
            let n = decided.filter { $0.decision == label }.count
            if n > 0 { counts.append("\(n) \(label.rawValue)") }
        }
        if !failed.isEmpty { counts.append("\(failed.count) failed") }
        if !skipped.isEmpty { counts.append("\(skipped.count) skipped") }
        var reasons = ["study: worst of \(series.count) series (\(counts.joined(separator: ", ")))"]
        guard let worst = decided.max(by: { a, b in
            (a.decision?.severity ?? -1, a.pBlocked ?? -1) < (b.decision?.severity ?? -1, b.pBlocked ?? -1)
        }), var decision = worst.decision else {
            // No series was decided: the study is an error when one failed, else skipped (out of scope).
            r.status = failed.isEmpty ? .skipped : .error
            r.decision = nil
            if !failed.isEmpty { r.error = "no series of the study could be triaged" }
            r.reasons = reasons
            return r
        }
        r.status = .processed
        reasons.append("decided by series \(worst.seriesUIDHash ?? "without UID") (\(decision.rawValue))")
        if !failed.isEmpty && decision == .patent {
            decision = .manualReview
            reasons.append("\(failed.count) series failed: a study with an unread series is not called patent")
        }
        r.decision = decision
        r.reasons = reasons + worst.reasons
        return r
    }
}
