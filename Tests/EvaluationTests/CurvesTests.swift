import Evaluation
import Foundation
import TestSupport
import XCTest

/// ROC and precision-recall points against scikit-learn's `roc_curve(drop_intermediate=False)` and
/// `precision_recall_curve`; calibration bins and the threshold sweep by hand.
final class CurvesTests: XCTestCase {
    func mainSamples() throws -> [EvaluationSample] {
        let e = try TestPaths.json("evaluation/expectations.json")
        let s = (e["sets"] as! [String: Any])["main"] as! [String: Any]
        let y = s["labels"] as! [Int], p = s["p_blocked"] as! [Double], d = s["decision"] as! [String]
        return y.indices.map { EvaluationSample(path: "c\($0)", blocked: y[$0] == 1, pBlocked: p[$0], decision: d[$0]) }
    }

    func testROCAndPRMatchScikitLearn() throws {
        let c = Evaluator.curves(try mainSamples())
        let e = (try TestPaths.json("evaluation/expectations.json")["curves"]) as! [String: [String: [Any]]]
        let fpr = e["roc"]!["fpr"] as! [Double], tpr = e["roc"]!["tpr"] as! [Double], thr = e["roc"]!["threshold"]!
        XCTAssertEqual(c.roc.count, fpr.count)
        for i in c.roc.indices {
            XCTAssertEqual(c.roc[i].fpr, fpr[i], accuracy: 1e-12)
            XCTAssertEqual(c.roc[i].tpr, tpr[i], accuracy: 1e-12)
            if i == 0 { XCTAssertNil(c.roc[i].threshold) } else { XCTAssertEqual(c.roc[i].threshold, thr[i] as? Double) }
        }
        // scikit-learn lists precision-recall by increasing threshold, ending at (recall 0, precision 1).
        let prec = (e["pr"]!["precision"] as! [Double]).reversed().map { $0 }, rec = (e["pr"]!["recall"] as! [Double]).reversed().map { $0 }
        let pthr = (e["pr"]!["threshold"] as! [Double]).reversed().map { $0 }
        XCTAssertEqual(c.pr.count, prec.count)
        for i in c.pr.indices {
            XCTAssertEqual(c.pr[i].precision, prec[i], accuracy: 1e-12)
            XCTAssertEqual(c.pr[i].recall, rec[i], accuracy: 1e-12)
            if i > 0 { XCTAssertEqual(c.pr[i].threshold, pthr[i - 1]) }
        }
    }

    func testCalibrationBinsAndSweep() {
        let s = [(true, 0.95), (false, 0.9), (false, 0.05), (true, 0.35), (false, 0.3), (false, 1.0)].enumerated().map {
            EvaluationSample(path: "c\($0.offset)", blocked: $0.element.0, pBlocked: $0.element.1, decision: "patent")
        }
        let c = Evaluator.curves(s)
        XCTAssertEqual(c.calibration.map(\.count), [1, 0, 0, 2, 0, 0, 0, 0, 0, 3])
        XCTAssertEqual(c.calibration[9].meanPredicted!, (0.95 + 0.9 + 1.0) / 3, accuracy: 1e-12)
        XCTAssertEqual(c.calibration[9].observed!, 1.0 / 3, accuracy: 1e-12)
        XCTAssertNil(c.calibration[1].meanPredicted)
        XCTAssertEqual(c.thresholdSweep.count, 101)
        let at35 = c.thresholdSweep[35]
        XCTAssertEqual(at35.threshold, 0.35)
        XCTAssertEqual(at35.sensitivity, 1)
        XCTAssertEqual(at35.specificity, 0.5)
        XCTAssertEqual(at35.flaggedRate, 4.0 / 6)
        XCTAssertEqual(c.thresholdSweep[0].flaggedRate, 1)
        // ECE by hand: bins 0 (0.05 vs 0), 3 (0.325 vs 0.5), 9 (0.95 vs 1/3).
        let ece = MetricEngine(samples: s).ece()!
        XCTAssertEqual(ece, (1 * 0.05 + 2 * 0.175 + 3 * abs(0.95 - 1.0 / 3)) / 6, accuracy: 1e-12)
    }

    func testOperatingPointChosenOnValidationReportedOnTest() {
        var s: [EvaluationSample] = []
        // Validation: blocked scores 0.9, 0.8, 0.6, 0.4; 95 % needs all four → threshold 0.4.
        for (i, p) in [0.9, 0.8, 0.6, 0.4].enumerated() { s.append(EvaluationSample(path: "vb\(i)", blocked: true, pBlocked: p, decision: "blocked", split: "validation")) }
        for (i, p) in [0.1, 0.5, 0.2].enumerated() { s.append(EvaluationSample(path: "vp\(i)", blocked: false, pBlocked: p, decision: "patent", split: "validation")) }
        for (i, p) in [0.45, 0.3].enumerated() { s.append(EvaluationSample(path: "tb\(i)", blocked: true, pBlocked: p, decision: "blocked", split: "test")) }
        for (i, p) in [0.41, 0.05].enumerated() { s.append(EvaluationSample(path: "tp\(i)", blocked: false, pBlocked: p, decision: "patent", split: "test")) }
        let (name, test) = Evaluator.evaluatedSet(s)
        XCTAssertEqual(name, "test")
        let op = Evaluator.operatingPoint(all: s, evaluated: test, evaluatedName: name, target: 0.95)
        XCTAssertEqual(op.threshold, 0.4)
        XCTAssertEqual(op.chosenOn, "validation")
        XCTAssertEqual(op.chosen?.confusion, ConfusionCounts(tp: 4, fp: 1, tn: 2, fn: 0))
        XCTAssertEqual(op.reported?.confusion, ConfusionCounts(tp: 1, fp: 1, tn: 1, fn: 1))
        XCTAssertNil(op.warning)
        // 0.75 of four positives needs three → the third-highest score.
        XCTAssertEqual(Evaluator.operatingPoint(all: s, evaluated: test, evaluatedName: name, target: 0.75).threshold, 0.6)
        let noVal = Evaluator.operatingPoint(all: test, evaluated: test, evaluatedName: "all", target: 0.5)
        XCTAssertEqual(noVal.threshold, 0.45)
        XCTAssertNotNil(noVal.warning)
    }
}
