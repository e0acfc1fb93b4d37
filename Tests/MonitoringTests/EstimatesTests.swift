import Foundation
import Monitoring
import TestSupport
import WorkerQueue
import XCTest

/// The whole monitor on 600 cases against figures computed with plain numpy and statsmodels
/// (tools/monitoring_fixtures.py): the ground-truth rule, naive and weighted estimates, per site.
final class EstimatesTests: XCTestCase {
    static func load() throws -> (cases: [ReviewCase], verdicts: [VerdictRecord], now: Date, expected: [String: Any]) {
        let f = try TestPaths.json("monitoring/estimates.json")
        let cases = (f["cases"] as! [[String: Any]]).map { c in
            ReviewCase(jobID: Int64(c["job_id"] as! Int), seriesKey: "k\(c["job_id"]!)", studyInstanceUID: "1.2.3", seriesInstanceUID: "1.2.3.\(c["job_id"]!)",
                       decidedAt: Date(timeIntervalSince1970: c["decided_at"] as! Double), decision: CaseDecision(rawValue: c["decision"] as! String)!,
                       pBlocked: c["p_blocked"] as? Double, site: c["site"] as? String, samplingProbability: c["sampling_probability"] as! Double)
        }
        let verdicts = (f["verdicts"] as! [[String: Any]]).map { v in
            VerdictRecord(id: Int64(v["id"] as! Int), caseJobID: Int64(v["case_job_id"] as! Int), userID: 1, userName: "r",
                          verdict: Verdict(rawValue: v["verdict"] as! String)!, comment: nil,
                          recordedAt: Date(timeIntervalSince1970: v["recorded_at"] as! Double))
        }
        return (cases, verdicts, Date(timeIntervalSince1970: f["now"] as! Double), f["last_30_days"] as! [String: Any])
    }

    func check(_ got: Estimate, _ want: Any?, _ label: String, weighted: Bool = false) {
        let w = want as! [String: Any]
        XCTAssertEqual(got.n, w["n"] as! Int, label)
        guard let v = w["value"] as? Double else {
            XCTAssertNil(got.value, label)
            return
        }
        XCTAssertEqual(got.value ?? -1, v, accuracy: 1e-12, label)
        let ci = w["ci"] as! [Double]
        XCTAssertEqual(got.ci?[0] ?? -1, ci[0], accuracy: 1e-10, label)
        XCTAssertEqual(got.ci?[1] ?? -1, ci[1], accuracy: 1e-10, label)
        if weighted { XCTAssertEqual(got.effectiveN ?? -1, w["effective_n"] as! Double, accuracy: 1e-9, label) }
    }

    func testNaiveAndWeightedFiguresMatchNumpy() throws {
        let (cases, verdicts, now, expected) = try Self.load()
        var cfg = MonitoringConfiguration()
        cfg.windowDays = [30]
        cfg.dimensions = [.site]
        let report = try Monitor.evaluate(cases: cases, verdicts: verdicts, reference: nil, configuration: cfg, now: now)
        let groups = try XCTUnwrap(report.windows["last_30_days"]).groups
        XCTAssertEqual(Set(groups.keys), Set(expected.keys))
        for (name, any) in expected {
            let want = any as! [String: Any], got = try XCTUnwrap(groups[name], name)
            XCTAssertEqual(got.cases, want["cases"] as! Int, name)
            XCTAssertEqual(got.triaged, want["triaged"] as! Int, name)
            XCTAssertEqual(got.adjudicated, want["adjudicated"] as! Int, name)
            XCTAssertEqual(got.disagreements, want["disagreements"] as! Int, name)
            XCTAssertEqual(got.nonDiagnosticOnly, want["non_diagnostic_only"] as! Int, name)
            check(got.sensitivity, want["sensitivity"], "\(name) sensitivity")
            check(got.specificity, want["specificity"], "\(name) specificity")
            check(got.ppv, want["ppv"], "\(name) ppv")
            check(got.npv, want["npv"], "\(name) npv")
            check(got.reviewRate, want["review_rate"], "\(name) review rate")
            let w = want["weighted"] as! [String: Any]
            check(got.weighted.sensitivity, w["sensitivity"], "\(name) weighted sensitivity", weighted: true)
            check(got.weighted.specificity, w["specificity"], "\(name) weighted specificity", weighted: true)
            check(got.weighted.ppv, w["ppv"], "\(name) weighted ppv", weighted: true)
            check(got.weighted.npv, w["npv"], "\(name) weighted npv", weighted: true)
        }
        // Verification bias in this data: review cases (all adjudicated) inflate the naive sensitivity.
        let overall = try XCTUnwrap(groups["overall"])
        XCTAssertGreaterThan(overall.sensitivity.value!, overall.weighted.sensitivity.value!)
    }

    func testGroundTruthRule() {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        func v(_ id: Int64, _ job: Int64, _ verdict: Verdict, _ dt: Double) -> VerdictRecord {
            VerdictRecord(id: id, caseJobID: job, userID: 1, userName: "r", verdict: verdict, comment: nil, recordedAt: t0.addingTimeInterval(dt))
        }
        let truth = GroundTruth(verdicts: [v(1, 1, .blocked, 0), v(2, 1, .patent, 10), v(3, 1, .nonDiagnostic, 20),
                                           v(4, 2, .nonDiagnostic, 0), v(5, 3, .patent, 0), v(6, 3, .patent, 5),
                                           v(7, 4, .patent, 0), v(8, 4, .blocked, 100)], asOf: t0.addingTimeInterval(50))
        XCTAssertEqual(truth.labels[1], false, "latest diagnostic verdict decides; a later non-diagnostic one does not")
        XCTAssertNil(truth.labels[2])
        XCTAssertEqual(truth.nonDiagnosticOnly, [2])
        XCTAssertEqual(truth.labels[3], false)
        XCTAssertEqual(truth.labels[4], false, "a verdict after asOf is not seen yet")
        XCTAssertEqual(truth.disagreements, [1], "repeats of one verdict are no disagreement")
    }
}
