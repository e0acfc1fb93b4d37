import Evaluation
import Triage

/// The closing lines of a triage run on stderr: how many units got each decision, how many were skipped or
/// failed, and the decision-support notice. Counts only; no input names (they can hold patient names).
struct RunSummary {
    var decisions: [TriageLabel: Int] = [:]
    var skipped = 0
    var failed = 0
    var units = 0

    mutating func add(_ r: TriageRecord) {
        units += 1
        switch r.status {
        case .processed:
            if let d = r.decision { decisions[d, default: 0] += 1 }
        case .skipped: skipped += 1
        case .error: failed += 1
        }
    }

    /// "8 units: 2 blocked, 1 manual_review, 5 patent; 0 skipped; 0 failed." and the notice.
    var text: String {
        let order: [TriageLabel] = [.blocked, .manualReview, .patent]
        let parts = order.map { "\(decisions[$0, default: 0]) \($0.rawValue)" }.joined(separator: ", ")
        return "\(Plural.count(units, "unit")): \(parts); \(skipped) skipped; \(failed) failed.\n"
            + "Decision support only: every result needs review by a radiologist; manual_review cases need one first."
    }
}
