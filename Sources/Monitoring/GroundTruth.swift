import Foundation
import WorkerQueue

/// The adjudicated label of each case, from its verdicts. Rule: the latest verdict that is not
/// `non_diagnostic` (by recording time, then verdict id) decides; a case whose verdicts are all
/// `non_diagnostic` has no label. A case with both `patent` and `blocked` verdicts counts as a disagreement
/// (its latest verdict still decides: a later reviewer usually resolves an earlier one's doubt).
public struct GroundTruth: Sendable {
    /// true: blocked, false: patent, by case job id.
    public let labels: [Int64: Bool]
    /// When the deciding verdict was recorded, by case job id.
    public let labelledAt: [Int64: Date]
    /// Cases whose verdicts are all non-diagnostic.
    public let nonDiagnosticOnly: Set<Int64>
    /// Cases with both a patent and a blocked verdict.
    public let disagreements: Set<Int64>

    /// Labels from the verdicts recorded at or before `asOf` (nil: all).
    public init(verdicts: [VerdictRecord], asOf: Date? = nil) {
        var byCase: [Int64: [VerdictRecord]] = [:]
        for v in verdicts where asOf.map({ v.recordedAt <= $0 }) ?? true { byCase[v.caseJobID, default: []].append(v) }
        var labels: [Int64: Bool] = [:], at: [Int64: Date] = [:]
        var nonDiagnostic = Set<Int64>(), disagree = Set<Int64>()
        for (job, list) in byCase {
            let diagnostic = list.filter { $0.verdict != .nonDiagnostic }
            guard let latest = diagnostic.max(by: { ($0.recordedAt, $0.id) < ($1.recordedAt, $1.id) }) else {
                nonDiagnostic.insert(job)
                continue
            }
            labels[job] = latest.verdict == .blocked
            at[job] = latest.recordedAt
            if Set(diagnostic.map(\.verdict)).count > 1 { disagree.insert(job) }
        }
        (self.labels, self.labelledAt, self.nonDiagnosticOnly, self.disagreements) = (labels, at, nonDiagnostic, disagree)
    }
}
