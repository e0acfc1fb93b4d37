import Triage
import XCTest

/// Threshold, band edges, ties, NaN guard and every review trigger, with hand-chosen values.
final class DecisionPolicyTests: XCTestCase {
    let policy = DecisionPolicy(threshold: 0.35, band: 0.2...0.6)

    func label(_ p: Double?) -> TriageLabel { policy.decide(DecisionInputs(scored: true, pBlocked: p)).label }

    func testThresholdAndBand() {
        XCTAssertEqual(label(0.0), .patent)
        XCTAssertEqual(label(0.1999), .patent)
        XCTAssertEqual(label(0.2), .manualReview, "lower band edge is inclusive")
        XCTAssertEqual(label(0.35), .manualReview)
        XCTAssertEqual(label(0.6), .manualReview, "upper band edge is inclusive")
        XCTAssertEqual(label(0.6001), .blocked)
        XCTAssertEqual(label(1.0), .blocked)
    }

    func testTieAtThresholdIsBlockedWithoutBand() {
        let p = DecisionPolicy(threshold: 0.5, band: 0.9...0.95)
        XCTAssertEqual(p.decide(DecisionInputs(scored: true, pBlocked: 0.5)).label, .blocked, "P == threshold → blocked")
        XCTAssertEqual(p.decide(DecisionInputs(scored: true, pBlocked: 0.4999999)).label, .patent)
        XCTAssertEqual(p.decide(DecisionInputs(scored: true, pBlocked: 0.9)).label, .manualReview)
        // A zero-width band catches exactly its point.
        let z = DecisionPolicy(threshold: 0.5, band: 0.5...0.5)
        XCTAssertEqual(z.decide(DecisionInputs(scored: true, pBlocked: 0.5)).label, .manualReview)
        XCTAssertEqual(z.decide(DecisionInputs(scored: true, pBlocked: 0.50001)).label, .blocked)
    }

    func testNonFiniteOrMissingScoresGoToReview() {
        for p in [Double.nan, .infinity, -.infinity, -0.1, 1.1] {
            let d = policy.decide(DecisionInputs(scored: true, pBlocked: p))
            XCTAssertEqual(d.label, .manualReview, "\(p)")
            XCTAssertTrue(d.reasons.contains { $0.contains("not finite") }, "\(d.reasons)")
        }
        XCTAssertEqual(label(nil), .manualReview)
        XCTAssertEqual(policy.decide(DecisionInputs(scored: false, pBlocked: nil)).label, .manualReview)
        XCTAssertEqual(policy.decide(DecisionInputs(scored: false, pBlocked: nil)).reasons, ["no model output"])
    }

    func testReasonsAreListed() {
        XCTAssertEqual(policy.decide(DecisionInputs(scored: true, pBlocked: 0.9)),
                       Decision(label: .blocked, reasons: ["P(blocked) 0.9 ≥ threshold 0.35"]))
        XCTAssertEqual(policy.decide(DecisionInputs(scored: true, pBlocked: 0.05)),
                       Decision(label: .patent, reasons: ["P(blocked) 0.05 < threshold 0.35"]))
        XCTAssertEqual(policy.decide(DecisionInputs(scored: true, pBlocked: 0.3)),
                       Decision(label: .manualReview, reasons: ["P(blocked) 0.3 lies in the review band [0.2, 0.6] (threshold 0.35): uncertain, for manual review"]))
    }

    func testQualityAndUnreadablePartsForceReview() {
        let d = policy.decide(DecisionInputs(scored: true, pBlocked: 0.01, qualityIssues: ["too dark (mean gray 3.0 < 20.0)"]))
        XCTAssertEqual(d.label, .manualReview)
        XCTAssertEqual(d.reasons.last, "quality: too dark (mean gray 3.0 < 20.0)")
        let b = policy.decide(DecisionInputs(scored: true, pBlocked: 0.99, qualityIssues: ["too few frames (1 < 2)"]))
        XCTAssertEqual(b.label, .manualReview, "a failed check overrides even a confident blocked")
        let u = policy.decide(DecisionInputs(scored: true, pBlocked: 0.01, unreadableParts: ["1 of 2 instances"]))
        XCTAssertEqual(u.label, .manualReview)
        XCTAssertEqual(u.reasons.last, "partly unreadable: 1 of 2 instances")
    }

    func testGenerationAloneAndDisagreement() {
        let blocked = ParsedAnswer(verdict: .blocked, reason: "says \"blocked\"")
        let patent = ParsedAnswer(verdict: .patent, reason: "says \"patent\"")
        let unclear = ParsedAnswer(verdict: .unclear, reason: "hedged answer")
        XCTAssertEqual(policy.decide(DecisionInputs(scored: false, pBlocked: nil, generated: blocked)).label, .blocked)
        XCTAssertEqual(policy.decide(DecisionInputs(scored: false, pBlocked: nil, generated: patent)).label, .patent)
        XCTAssertEqual(policy.decide(DecisionInputs(scored: false, pBlocked: nil, generated: unclear)).label, .manualReview)
        // Both modes: agreement keeps the label, disagreement goes to review.
        XCTAssertEqual(policy.decide(DecisionInputs(scored: true, pBlocked: 0.9, generated: blocked)).label, .blocked)
        XCTAssertEqual(policy.decide(DecisionInputs(scored: true, pBlocked: 0.05, generated: patent)).label, .patent)
        let d = policy.decide(DecisionInputs(scored: true, pBlocked: 0.05, generated: blocked))
        XCTAssertEqual(d.label, .manualReview)
        XCTAssertTrue(d.reasons.contains("scoring (patent) and generation (blocked) disagree"))
        XCTAssertEqual(policy.decide(DecisionInputs(scored: true, pBlocked: 0.9, generated: unclear)).label, .manualReview)
    }

    func testProfilePolicyAndSeverity() {
        let p = DecisionPolicy(profile: TaskProfile.standard)
        XCTAssertEqual(p.threshold, 0.35)
        XCTAssertEqual(p.band, 0.2...0.6)
        XCTAssertGreaterThan(TriageLabel.blocked.severity, TriageLabel.manualReview.severity)
        XCTAssertGreaterThan(TriageLabel.manualReview.severity, TriageLabel.patent.severity)
    }
}
