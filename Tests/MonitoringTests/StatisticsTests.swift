import Evaluation
import Foundation
import Monitoring
import TestSupport
import XCTest

/// Wilson, KS, PSI and CUSUM against tools/monitoring_fixtures.py (statsmodels, scipy, numpy, hand checks).
final class StatisticsTests: XCTestCase {
    func testWilsonMatchesStatsmodels() throws {
        let f = try TestPaths.json("monitoring/wilson.json")
        for c in f["whole"] as! [[String: Any]] {
            let k = c["count"] as! Int, n = c["nobs"] as! Int, ci = c["ci"] as! [Double]
            let est = Estimate.proportion(successes: k, n: n)
            XCTAssertEqual(est.ci![0], ci[0], accuracy: 1e-12, "\(k)/\(n)")
            XCTAssertEqual(est.ci![1], ci[1], accuracy: 1e-12, "\(k)/\(n)")
            // The real-valued form agrees on whole counts.
            let real = try XCTUnwrap(EffectiveWilson.interval(proportion: Double(k) / Double(n), effectiveN: Double(n)))
            XCTAssertEqual(real[0], ci[0], accuracy: 1e-12)
            XCTAssertEqual(real[1], ci[1], accuracy: 1e-12)
        }
        for c in f["real"] as! [[String: Any]] {
            let p = c["proportion"] as! Double, n = c["nobs"] as! Double, ci = c["ci"] as! [Double]
            let got = try XCTUnwrap(EffectiveWilson.interval(proportion: p, effectiveN: n))
            XCTAssertEqual(got[0], ci[0], accuracy: 1e-12, "\(p) of \(n)")
            XCTAssertEqual(got[1], ci[1], accuracy: 1e-12, "\(p) of \(n)")
        }
        XCTAssertNil(EffectiveWilson.interval(proportion: 0.5, effectiveN: 0))
        XCTAssertNil(Estimate.proportion(successes: 0, n: 0).value)
    }

    func testKolmogorovSmirnovMatchesScipy() throws {
        let f = try TestPaths.json("monitoring/ks.json")
        for pair in f["pairs"] as! [[String: Any]] {
            let name = pair["name"] as! String
            let r = try XCTUnwrap(KolmogorovSmirnov.test(pair["a"] as! [Double], against: pair["b"] as! [Double]))
            XCTAssertEqual(r.statistic, pair["statistic"] as! Double, accuracy: 1e-12, name)
            XCTAssertEqual(r.pValue, pair["p_kolmogorov_stephens"] as! Double, accuracy: 1e-9, name)
            // Stephens' asymptotic form stays near scipy's exact/finite-n p-value.
            XCTAssertEqual(r.pValue, pair["p_scipy_ks_2samp"] as! Double, accuracy: 0.01, name)
        }
        for c in f["kolmogorov_sf"] as! [[String: Double]] {
            XCTAssertEqual(KolmogorovSmirnov.kolmogorovSurvival(c["lambda"]!), c["sf"]!, accuracy: 1e-10, "λ \(c["lambda"]!)")
        }
        XCTAssertNil(KolmogorovSmirnov.test([], against: [0.5]))
    }

    func testPSIByHandAndNumpy() throws {
        let f = try TestPaths.json("monitoring/psi.json")
        let hand = f["hand"] as! [String: Any]
        XCTAssertEqual(PopulationStabilityIndex.index(current: hand["current"] as! [Int], reference: hand["reference"] as! [Int])!,
                       0.25 * log(3), accuracy: 1e-14)
        let empty = f["empty_bin"] as! [String: Any]
        XCTAssertEqual(PopulationStabilityIndex.index(current: empty["current"] as! [Int], reference: empty["reference"] as! [Int])!,
                       empty["psi"] as! Double, accuracy: 1e-12)
        let s = f["samples"] as! [String: Any]
        let ref = s["reference"] as! [Double], cur = s["current"] as! [Double]
        for (key, edges) in [("uniform", PopulationStabilityIndex.uniformEdges(count: 10)),
                             ("deciles", PopulationStabilityIndex.quantileEdges(reference: ref, count: 10))] {
            let e = s[key] as! [String: Any]
            let expectedEdges = e["edges"] as! [Double]
            for (a, b) in zip(edges, expectedEdges) { XCTAssertEqual(a, b, accuracy: 1e-15, key) }
            let rc = PopulationStabilityIndex.counts(ref, edges: edges), cc = PopulationStabilityIndex.counts(cur, edges: edges)
            XCTAssertEqual(rc, e["reference_counts"] as! [Int], key)
            XCTAssertEqual(cc, e["current_counts"] as! [Int], key)
            XCTAssertEqual(PopulationStabilityIndex.index(current: cc, reference: rc)!, e["psi"] as! Double, accuracy: 1e-12, key)
        }
        XCTAssertNil(PopulationStabilityIndex.index(current: [1, 2], reference: [1, 2, 3]))
    }

    func testCUSUMPathAndCrossing() throws {
        let f = try TestPaths.json("monitoring/cusum.json")
        for key in ["hand", "long"] {
            let c = f[key] as! [String: Any]
            let chart = BernoulliCUSUM(inControlRate: c["p0"] as! Double, outOfControlRate: c["p1"] as! Double, limit: c["h"] as! Double)
            let x = (c["x"] as! [Int]).map { $0 == 1 }
            let path = chart.path(x), expected = c["path"] as! [Double]
            XCTAssertEqual(path.count, expected.count)
            for (a, b) in zip(path, expected) { XCTAssertEqual(a, b, accuracy: 1e-9, key) }
            XCTAssertEqual(path.firstIndex { $0 > chart.limit }, c["first_crossing"] as? Int, key)
        }
        // Hand check of the first steps: ln 3 after an event at p0 = 0.1, p1 = 0.3.
        XCTAssertEqual(BernoulliCUSUM(inControlRate: 0.1, outOfControlRate: 0.3, limit: 1).path([true])[0], log(3), accuracy: 1e-15)
        XCTAssertThrowsError(try BernoulliCUSUM(inControlRate: 0.3, outOfControlRate: 0.1, limit: 1).validate(name: "c"))
    }

    func testAdjudicatedFalseNegativeShareByHand() {
        // Sensitivity 0.95, a quarter of flagged blocked cases reviewed, 30 % patent and 10 % blocked audit:
        // FN 0.05·0.3 = 0.015; review 0.2375; audited blocked 0.95·0.75·0.1 = 0.07125 → 0.015 / 0.32375.
        let s = BernoulliCUSUM.adjudicatedFalseNegativeShare(sensitivity: 0.95, reviewShareOfFlagged: 0.25,
                                                             auditFractionPatent: 0.3, auditFractionBlocked: 0.1)
        XCTAssertEqual(s, 0.015 / 0.32375, accuracy: 1e-12)
    }
}
