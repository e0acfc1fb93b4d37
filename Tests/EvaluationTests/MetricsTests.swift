import Evaluation
import Foundation
import TestSupport
import XCTest

/// Every metric and interval against scikit-learn / statsmodels values committed by
/// tools/make_evaluation_fixtures.py, including the degenerate sets.
final class MetricsTests: XCTestCase {
    static func expectations() throws -> [String: Any] { try TestPaths.json("evaluation/expectations.json") }

    struct Set_ {
        var engine: MetricEngine
        var expected: [String: Any]
        var n: Int
    }

    func set(_ name: String) throws -> Set_ {
        let sets = try XCTUnwrap(Self.expectations()["sets"] as? [String: Any])
        let s = try XCTUnwrap(sets[name] as? [String: Any], name)
        let labels = try XCTUnwrap(s["labels"] as? [Int]).map { $0 == 1 }
        let p = try XCTUnwrap(s["p_blocked"] as? [Double])
        let d = try XCTUnwrap(s["decision"] as? [String])
        return Set_(engine: MetricEngine(labels: labels, flagged: d.map { $0 != "patent" }, scores: p),
                    expected: try XCTUnwrap(s["expected"] as? [String: Any]), n: labels.count)
    }

    func optDouble(_ any: Any?) -> Double? { any is NSNull ? nil : any as? Double }

    func checkSet(_ name: String) throws {
        let s = try set(name)
        let c = s.engine.confusion()
        let ec = try XCTUnwrap(s.expected["confusion"] as? [String: Int])
        XCTAssertEqual(c, ConfusionCounts(tp: ec["tp"]!, fp: ec["fp"]!, tn: ec["tn"]!, fn: ec["fn"]!), name)
        let values = s.engine.values()
        for m in MetricEngine.names {
            let want = optDouble(s.expected[m] ?? NSNull())
            let got = values[m] ?? nil
            if let want {
                let g = try XCTUnwrap(got, "\(name).\(m) should be \(want)")
                XCTAssertEqual(g, want, accuracy: 1e-12, "\(name).\(m)")
            } else {
                XCTAssertNil(got, "\(name).\(m) should be undefined")
            }
        }
        let wilson = try XCTUnwrap(s.expected["wilson"] as? [String: Any])
        let metrics = s.engine.metrics(bootstrap: BootstrapSettings(resamples: 200, seed: 1))
        for (m, w) in wilson where m != "prevalence" {
            let want = w as? [Double]
            let got = metrics[m]?.ci
            if let want {
                let g = try XCTUnwrap(got, "\(name).\(m) ci")
                XCTAssertEqual(g[0], want[0], accuracy: 1e-12, "\(name).\(m) ci low")
                XCTAssertEqual(g[1], want[1], accuracy: 1e-12, "\(name).\(m) ci high")
            } else {
                XCTAssertNil(got, "\(name).\(m) ci")
            }
        }
    }

    func testMainSet() throws { try checkSet("main") }
    func testOneClassAbsent() throws { try checkSet("one_class_absent") }
    func testAllPredictionsEqual() throws { try checkSet("all_predictions_equal") }
    func testTiesInScores() throws { try checkSet("ties") }
    func testSingleCase() throws { try checkSet("n1") }
    func testMajorityClassFailure() throws { try checkSet("majority_class_failure") }

    func testWilsonAgainstStatsmodels() throws {
        let rows = try XCTUnwrap(Self.expectations()["wilson"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 9)
        for r in rows {
            let k = r["k"] as! Int, n = r["n"] as! Int, want = r["ci"] as! [Double]
            let got = try XCTUnwrap(Intervals.wilson(successes: k, n: n))
            XCTAssertEqual(got[0], want[0], accuracy: 1e-12, "\(k)/\(n)")
            XCTAssertEqual(got[1], want[1], accuracy: 1e-12, "\(k)/\(n)")
        }
        XCTAssertNil(Intervals.wilson(successes: 0, n: 0))
    }

    func testMcNemarAgainstStatsmodels() throws {
        let rows = try XCTUnwrap(Self.expectations()["mcnemar"] as? [[String: Any]])
        for r in rows {
            let b = r["b"] as! Int, c = r["c"] as! Int
            let ex = PairedTests.mcnemar(b: b, c: c, exact: true)
            XCTAssertEqual(ex.pValue, r["exact_p"] as! Double, accuracy: 1e-10, "exact \(b),\(c)")
            let ch = PairedTests.mcnemar(b: b, c: c, exact: false)
            XCTAssertEqual(ch.statistic ?? -1, r["chi2_statistic"] as! Double, accuracy: 1e-10, "chi2 \(b),\(c)")
            XCTAssertEqual(ch.pValue, r["chi2_p"] as! Double, accuracy: 1e-10, "chi2 p \(b),\(c)")
            XCTAssertEqual(PairedTests.mcnemar(b: b, c: c).method, b + c < 25 ? "exact" : "chi_square_continuity")
        }
    }

    func testDeLongAgainstPlacementImplementation() throws {
        let d = try XCTUnwrap(Self.expectations()["delong"] as? [String: Any])
        let labels = (d["labels"] as! [Int]).map { $0 == 1 }
        let r = try XCTUnwrap(PairedTests.delong(labels: labels, scoresA: d["a"] as! [Double], scoresB: d["b"] as! [Double]))
        let e = d["expected"] as! [String: Double]
        XCTAssertEqual(r.aucA, e["auc_a"]!, accuracy: 1e-12)
        XCTAssertEqual(r.aucB, e["auc_b"]!, accuracy: 1e-12)
        XCTAssertEqual(r.se, e["se"]!, accuracy: 1e-12)
        XCTAssertEqual(r.z ?? 0, e["z"]!, accuracy: 1e-9)
        XCTAssertEqual(r.pValue ?? 0, e["p_value"]!, accuracy: 1e-10)
        XCTAssertNil(PairedTests.delong(labels: [true, true], scoresA: [0.1, 0.2], scoresB: [0.3, 0.4]))
    }

    func testBootstrapIsSeededAndContainsThePointValue() throws {
        let s = try set("main")
        let a = s.engine.metrics(bootstrap: BootstrapSettings(resamples: 500, seed: 42))
        let b = s.engine.metrics(bootstrap: BootstrapSettings(resamples: 500, seed: 42))
        let c = s.engine.metrics(bootstrap: BootstrapSettings(resamples: 500, seed: 43))
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a["auroc"]?.ci, c["auroc"]?.ci)
        for m in ["balanced_accuracy", "f1", "mcc", "auroc", "auprc", "brier", "ece"] {
            let v = try XCTUnwrap(a[m]?.value, m), ci = try XCTUnwrap(a[m]?.ci, m)
            XCTAssertTrue(ci[0] <= v && v <= ci[1], "\(m) \(v) outside \(ci)")
            XCTAssertTrue(ci[0] < ci[1], m)
        }
        // No resamples: intervals off, point values kept.
        let off = s.engine.metrics(bootstrap: BootstrapSettings(resamples: 0, seed: 1))
        XCTAssertNil(off["auroc"]?.ci)
        XCTAssertNotNil(off["auroc"]?.value)
    }

    func testUndefinedMetricEncodesNulls() throws {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        XCTAssertEqual(String(decoding: try e.encode(MetricValue.undefined), as: UTF8.self), #"{"ci":null,"value":null}"#)
        XCTAssertEqual(String(decoding: try e.encode(MetricValue(value: 0.5, ci: [0.25, 0.75])), as: UTF8.self), #"{"ci":[0.25,0.75],"value":0.5}"#)
    }
}
