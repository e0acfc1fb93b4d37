@testable import Evaluation
import Foundation
import XCTest

/// What the report says about manual reviews and demo models: reviews in a column of their own, the sweep's
/// third line named for what it is (the share flagged), the run's real review rate beside it, and the
/// demo/test-model flags in evaluation.json and the page.
final class ReportReviewTests: XCTestCase {
    /// 10 cases: 4 blocked (2 called blocked, 1 sent to review, 1 missed), 6 patent (1 called blocked, 1 sent
    /// to review, 4 called patent); scores spread so the sweep has rows.
    static func samples() -> [EvaluationSample] {
        [
            EvaluationSample(path: "b1", blocked: true, pBlocked: 0.9, decision: "blocked"),
            EvaluationSample(path: "b2", blocked: true, pBlocked: 0.8, decision: "blocked"),
            EvaluationSample(path: "b3", blocked: true, pBlocked: 0.5, decision: "manual_review"),
            EvaluationSample(path: "b4", blocked: true, pBlocked: 0.1, decision: "patent"),
            EvaluationSample(path: "p1", blocked: false, pBlocked: 0.7, decision: "blocked"),
            EvaluationSample(path: "p2", blocked: false, pBlocked: 0.3, decision: "manual_review"),
            EvaluationSample(path: "p3", blocked: false, pBlocked: 0.15, decision: "patent"),
            EvaluationSample(path: "p4", blocked: false, pBlocked: 0.05, decision: "patent"),
            EvaluationSample(path: "p5", blocked: false, pBlocked: 0.02, decision: "patent"),
            EvaluationSample(path: "p6", blocked: false, pBlocked: 0.01, decision: "patent"),
        ]
    }

    func result(provenance: Provenance) throws -> EvaluationResult {
        try Evaluator.evaluate(samples: Self.samples(),
                               options: EvaluationOptions(threshold: 0.35, decisionSource: "pipeline",
                                                          bootstrap: BootstrapSettings(resamples: 0, seed: 1)),
                               provenance: provenance)
    }

    func testReviewsAreCountedByTruthAndShownInTheirOwnColumn() throws {
        let r = try result(provenance: Provenance(softwareVersion: "t", mode: "model", profile: "p", profileFingerprint: "f"))
        // Reviews count as flags in the headline matrix: TP 3 (2 called + 1 review), FP 2, FN 1, TN 4.
        XCTAssertEqual(r.confusion, ConfusionCounts(tp: 3, fp: 2, tn: 4, fn: 1))
        XCTAssertEqual(r.review.count, 2)
        XCTAssertEqual(r.review.actuallyBlocked, 1)
        XCTAssertEqual(r.review.actuallyPatent, 1)
        let html = HTMLReport.render(ReportMapping.document(r))
        XCTAssertTrue(html.contains("<th scope=\"col\">Manual review</th>"), html)
        XCTAssertFalse(html.contains("Predicted blocked"), "the old column silently held the reviews")
        // Called blocked 2 / review 1 / FN 1 on the blocked row; called blocked 1 / review 1 / TN 4 on the patent row.
        for cell in ["<td class=\"tp\">TP 2</td>", "<td class=\"review\">review 1</td>", "<td class=\"fn\">FN 1</td>",
                     "<td class=\"fp\">FP 1</td>", "<td class=\"tn\">TN 4</td>"] {
            XCTAssertTrue(html.contains(cell), cell)
        }
        // Column totals: 3 called blocked, 2 reviews, 5 called patent, 10 in all.
        XCTAssertTrue(html.contains("<tr><th scope=\"row\">Total</th><td class=\"total\">3</td><td class=\"total\">2</td><td class=\"total\">5</td><td class=\"total\">10</td></tr>"), html)
        XCTAssertTrue(html.contains("2 cases"))
    }

    func testSweepNamesTheFlaggedShareAndDrawsTheRealReviewRate() throws {
        let r = try result(provenance: Provenance(softwareVersion: "t", mode: "model", profile: "p", profileFingerprint: "f"))
        // At threshold 0.35: 4 of 10 cases have P ≥ 0.35 (0.9, 0.8, 0.5, 0.7); the review rate is 2 of 10.
        XCTAssertEqual(r.curves.thresholdSweep[35].flaggedRate, 0.4)
        XCTAssertEqual(r.review.rate.value, 0.2)
        let html = HTMLReport.render(ReportMapping.document(r))
        XCTAssertTrue(html.contains("share flagged (P ≥ threshold)"), "sweep line label")
        XCTAssertFalse(html.contains(">manual-review rate<"), "the flagged share must not be called the review rate")
        XCTAssertTrue(html.contains("manual-review rate of this run 20.0%"), "the run's review rate as a guide")
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        XCTAssertTrue(json.contains("\"flagged_rate\""))
        XCTAssertTrue(json.contains("\"actually_blocked\":1"))
    }

    func testOneCaseIsSingular() throws {
        var s = Self.samples()
        s[2].decision = "blocked"   // one review left
        let r = try Evaluator.evaluate(samples: s, options: EvaluationOptions(threshold: 0.35, decisionSource: "pipeline",
                                                                              bootstrap: BootstrapSettings(resamples: 0, seed: 1)),
                                       provenance: Provenance(softwareVersion: "t", mode: "model", profile: "p", profileFingerprint: "f"))
        let html = HTMLReport.render(ReportMapping.document(r))
        XCTAssertTrue(html.contains("<td>1 case</td>"), "review count note")
        XCTAssertFalse(html.contains("1 cases"))
        XCTAssertTrue(r.warnings.contains("only 10 cases: intervals are wide and bootstrap intervals rough"), "\(r.warnings)")
    }

    func testDemoAndTestModelFlagsReachTheJSONAndThePage() throws {
        let demo = try result(provenance: Provenance(softwareVersion: "t", mode: "model", profile: "p", profileFingerprint: "f",
                                                     demoNotice: "trained on synthetic angiograms only; no clinical meaning"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(demo)) as? [String: Any])
        let prov = try XCTUnwrap(json["provenance"] as? [String: Any])
        XCTAssertEqual(prov["demo_model_no_clinical_meaning"] as? Bool, true)
        XCTAssertEqual(prov["test_model_decisions_meaningless"] as? Bool, false)
        let page = HTMLReport.render(ReportMapping.document(demo))
        XCTAssertTrue(page.contains("DEMO MODEL: trained on synthetic angiograms only; no clinical meaning"), page)
        let plain = try result(provenance: Provenance(softwareVersion: "t", mode: "model", profile: "p", profileFingerprint: "f"))
        XCTAssertFalse(HTMLReport.render(ReportMapping.document(plain)).contains("DEMO MODEL"))
        let test = try result(provenance: Provenance(softwareVersion: "t", mode: "model", profile: "p", profileFingerprint: "f", testModel: true))
        XCTAssertTrue(HTMLReport.render(ReportMapping.document(test)).contains("TEST MODEL:"))
    }
}
