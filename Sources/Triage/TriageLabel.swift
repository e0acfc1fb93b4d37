/// The outcome classes of a triage decision.
public enum TriageLabel: String, Sendable, Codable, CaseIterable {
    case patent
    case blocked
    /// Not decided by the model: a person reads the study.
    case manualReview = "manual_review"
}
