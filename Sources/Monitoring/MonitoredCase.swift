import Foundation
import WorkerQueue

/// One case as the monitor counts it: the model's call, the adjudicated label and weight, the drift
/// statistics and the groups it belongs to.
struct MonitoredCase: Sendable {
    let jobID: Int64
    let decidedAt: Date
    let decision: CaseDecision
    /// true: blocked, false: patent; nil without a diagnostic verdict.
    let label: Bool?
    /// 1 / sampling probability for a labelled case sampled with probability > 0.
    let weight: Double?
    let nonDiagnosticOnly: Bool
    let disagreement: Bool
    let pBlocked: Double?
    let meanGray: Double?
    let dynamicRange: Double?
    let frameCount: Double?
    /// `overall` first, then `dimension=value` for each configured dimension the case has.
    let groups: [String]

    var triaged: Bool { decision == .blocked || decision == .patent || decision == .manualReview }
    /// Blocked or manual review: the case reaches a human before it could be missed.
    var flagged: Bool { decision == .blocked || decision == .manualReview }

    init(_ c: ReviewCase, truth: GroundTruth, dimensions: [GroupDimension]) {
        jobID = c.jobID
        decidedAt = c.decidedAt
        decision = c.decision
        let label = truth.labels[c.jobID]
        self.label = label
        // A sampling probability outside (0, 1] cannot be inverted into a weight: such cases never carry labels
        // by design, and one that does anyway stays out of the weighted figures.
        weight = label != nil && c.samplingProbability > 0 && c.samplingProbability <= 1 ? 1 / c.samplingProbability : nil
        nonDiagnosticOnly = truth.nonDiagnosticOnly.contains(c.jobID)
        disagreement = truth.disagreements.contains(c.jobID)
        pBlocked = c.pBlocked.flatMap { $0.isFinite ? $0 : nil }
        meanGray = c.meanGray.flatMap { $0.isFinite ? $0 : nil }
        dynamicRange = c.dynamicRange.flatMap { $0.isFinite ? $0 : nil }
        frameCount = c.frameCount.map(Double.init)
        groups = [GroupDimension.overall] + dimensions.compactMap { d in d.value(of: c).map(d.groupName) }
    }
}
