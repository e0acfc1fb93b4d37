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

    init(_ c: ReviewCase, truth: GroundTruth, groups: [String]) {
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
        self.groups = groups
    }
}

/// Group names per case, each distinct `dimension=value` string built once per run.
struct GroupNamer {
    let dimensions: [GroupDimension]
    private var names: [[String: String]]

    init(dimensions: [GroupDimension]) {
        self.dimensions = dimensions
        names = Array(repeating: [:], count: dimensions.count)
    }

    /// `overall` first, then one `dimension=value` per configured dimension the case has.
    mutating func groups(of c: ReviewCase) -> [String] {
        var out = [GroupDimension.overall]
        out.reserveCapacity(dimensions.count + 1)
        for (i, d) in dimensions.enumerated() {
            guard let v = d.value(of: c) else { continue }
            if let name = names[i][v] {
                out.append(name)
            } else {
                let name = d.groupName(v)
                names[i][v] = name
                out.append(name)
            }
        }
        return out
    }
}
