import Foundation
import TestSupport
import XCTest
@testable import Training

/// Per-epoch validation metrics against scikit-learn (recall, balanced accuracy, ROC AUC, log loss and the
/// ROC curve, in Tests/Fixtures/training-data/expected.json), and the checkpoint selection criteria.
final class ValidationMetricsTests: XCTestCase {
    func referenceCases() throws -> [[String: Any]] {
        try XCTUnwrap(try TestPaths.json("training-data/expected.json")["validation"] as? [[String: Any]])
    }

    func cases(_ labels: [String], _ p: [Double]) -> [ValidationCase] {
        zip(labels, p).map { ValidationCase(label: $0.0, pBlocked: $0.1) }
    }

    func number(_ any: Any?) throws -> Double { try XCTUnwrap((any as? NSNumber)?.doubleValue) }

    func testMetricsMatchScikitLearn() throws {
        let refs = try referenceCases()
        XCTAssertEqual(refs.count, 3)
        for r in refs {
            let name = r["name"] as? String ?? "?"
            let labels = try XCTUnwrap(r["labels"] as? [String])
            let p = try XCTUnwrap(r["p_blocked"] as? [NSNumber]).map(\.doubleValue)
            let m = try ValidationMetrics(cases: cases(labels, p), threshold: try number(r["threshold"]))
            XCTAssertEqual(m.count, labels.count)
            XCTAssertEqual(m.positives, labels.filter { $0 == "blocked" }.count)
            XCTAssertEqual(try XCTUnwrap(m.sensitivity), try number(r["sensitivity"]), accuracy: 1e-12, name)
            XCTAssertEqual(try XCTUnwrap(m.specificity), try number(r["specificity"]), accuracy: 1e-12, name)
            XCTAssertEqual(try XCTUnwrap(m.balancedAccuracy), try number(r["balanced_accuracy"]), accuracy: 1e-12, name)
            XCTAssertEqual(try XCTUnwrap(m.auroc), try number(r["auroc"]), accuracy: 1e-12, name)
            XCTAssertEqual(try XCTUnwrap(m.meanLoss), try number(r["mean_loss"]), accuracy: 1e-9, name)
            XCTAssertEqual(m.roc.count, (r["roc_points"] as? NSNumber)?.intValue, name)
            let floors = try XCTUnwrap(r["at_floor"] as? [String: [String: Any]])
            XCTAssertEqual(floors.count, 5)
            for (key, want) in floors {
                let floor = try XCTUnwrap(Double(key))
                let got = try XCTUnwrap(m.sensitivity(atSpecificity: floor), "\(name) floor \(key)")
                XCTAssertEqual(got.sensitivity, try number(want["sensitivity"]), accuracy: 1e-12, "\(name) floor \(key)")
                XCTAssertEqual(got.specificity, try number(want["specificity"]), accuracy: 1e-12, "\(name) floor \(key)")
                if want["threshold"] is NSNull {
                    XCTAssertNil(got.threshold, "\(name) floor \(key): flag nothing")
                } else {
                    XCTAssertEqual(try XCTUnwrap(got.threshold), try number(want["threshold"]), accuracy: 1e-12, "\(name) floor \(key)")
                }
            }
        }
    }

    /// With the labels' log-likelihoods the loss is their log-softmax: here log(1 + e) by hand.
    func testLossFromLabelLogprobs() throws {
        let c = ValidationCase(label: "blocked", pBlocked: 1 / (1 + M_E), labelLogprobs: ["patent": -1, "blocked": -2])
        let m = try ValidationMetrics(cases: [c, ValidationCase(label: "patent", pBlocked: 0.5)], threshold: 0.5)
        XCTAssertEqual(try XCTUnwrap(m.meanLoss), (1.3132616875182228 + 0.6931471805599453) / 2, accuracy: 1e-12)
    }

    func testOneClassValidationSetHasNoAUROCAndScoresLowest() throws {
        let m = try ValidationMetrics(cases: cases(["patent", "patent"], [0.2, 0.7]), threshold: 0.5)
        XCTAssertNil(m.auroc)
        XCTAssertNil(m.sensitivity)
        XCTAssertEqual(m.specificity, 0.5)
        XCTAssertNil(m.sensitivity(atSpecificity: 0.8))
        let good = try ValidationMetrics(cases: cases(["patent", "blocked"], [0.9, 0.1]), threshold: 0.5)
        for criterion in [SelectionCriterion.default, .auroc, .balancedAccuracy] {
            XCTAssertLessThan(criterion.score(m), criterion.score(good), "\(criterion)")
        }
    }

    func testSensitivityAtSpecificityBreaksTiesBySpecificityThenLoss() throws {
        let c = SelectionCriterion.default
        // A: 2 of 3 positives above every negative; B: the same 2 found, one negative above them (spec 4/5).
        let a = try ValidationMetrics(cases: cases(["blocked", "blocked", "blocked", "patent", "patent", "patent", "patent", "patent"],
                                                   [0.9, 0.8, 0.1, 0.3, 0.2, 0.15, 0.05, 0.02]), threshold: 0.5)
        let b = try ValidationMetrics(cases: cases(["blocked", "blocked", "blocked", "patent", "patent", "patent", "patent", "patent"],
                                                   [0.9, 0.8, 0.1, 0.95, 0.3, 0.2, 0.15, 0.05]), threshold: 0.5)
        XCTAssertEqual(c.score(a).keys[0], 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(c.score(a).keys[1], 1.0, accuracy: 1e-12)
        XCTAssertEqual(c.score(b).keys[0], 2.0 / 3.0, accuracy: 1e-12, "0.9 and 0.8 flagged with the negative 0.95: spec 4/5")
        XCTAssertEqual(c.score(b).keys[1], 0.8, accuracy: 1e-12)
        XCTAssertGreaterThan(c.score(a), c.score(b), "same sensitivity, higher specificity wins")
        // Same ranking, sharper probabilities: same sensitivity and specificity, lower loss wins.
        let sharper = try ValidationMetrics(cases: cases(["blocked", "blocked", "blocked", "patent", "patent", "patent", "patent", "patent"],
                                                         [0.99, 0.98, 0.14, 0.2, 0.17, 0.15, 0.02, 0.01]), threshold: 0.5)
        XCTAssertEqual(Array(c.score(sharper).keys[0..<2]), Array(c.score(a).keys[0..<2]))
        XCTAssertLessThan(try XCTUnwrap(sharper.meanLoss), try XCTUnwrap(a.meanLoss))
        XCTAssertGreaterThan(c.score(sharper), c.score(a))
        XCTAssertTrue(c.score(a).ties(c.score(a)))
        XCTAssertTrue(c.score(a).summary.hasPrefix("sensitivity 0.6667, specificity 1.0000 at threshold 0.8000 (the best with specificity ≥ 0.8), label loss "),
                      c.score(a).summary)
        // Without a floor B finds every positive, at the threshold 0.1 that flags 4 of 5 negatives.
        let unfloored = SelectionCriterion.sensitivityAtSpecificity(floor: 0).score(b).keys
        XCTAssertEqual(unfloored[0], 1)
        XCTAssertEqual(unfloored[1], 0.2, accuracy: 1e-12)
        // Balanced accuracy at 0.5: A (2/3 + 1) / 2, B (2/3 + 4/5) / 2.
        XCTAssertEqual(SelectionCriterion.balancedAccuracy.score(a).keys[0], (2.0 / 3.0 + 1) / 2, accuracy: 1e-12)
        XCTAssertEqual(SelectionCriterion.balancedAccuracy.score(b).keys[0], (2.0 / 3.0 + 0.8) / 2, accuracy: 1e-12)
        XCTAssertGreaterThan(SelectionCriterion.balancedAccuracy.score(a), SelectionCriterion.balancedAccuracy.score(b))
        // Loss alone: the negative mean loss, higher better.
        XCTAssertEqual(SelectionCriterion.loss.score(a).keys, [-(try XCTUnwrap(a.meanLoss))])
        XCTAssertEqual(SelectionCriterion.auroc.score(a).keys[0], try XCTUnwrap(a.auroc))
    }

    func testCriterionParsingAndCoding() throws {
        XCTAssertEqual(try SelectionCriterion(parsing: "sensitivity_at_specificity"), .sensitivityAtSpecificity(floor: 0.8))
        XCTAssertEqual(try SelectionCriterion(parsing: "Sensitivity_at_specificity:0.9"), .sensitivityAtSpecificity(floor: 0.9))
        XCTAssertEqual(try SelectionCriterion(parsing: "balanced_accuracy"), .balancedAccuracy)
        XCTAssertEqual(try SelectionCriterion(parsing: "auroc"), .auroc)
        XCTAssertEqual(try SelectionCriterion(parsing: "loss"), .loss)
        for bad in ["f1", "sensitivity_at_specificity:1.5", "sensitivity_at_specificity:x", "auroc:0.5", ""] {
            XCTAssertThrowsError(try SelectionCriterion(parsing: bad), bad)
        }
        for c in [SelectionCriterion.default, .sensitivityAtSpecificity(floor: 0.95), .balancedAccuracy, .auroc, .loss] {
            XCTAssertEqual(try SelectionCriterion(parsing: c.name), c)
            let json = try JSONEncoder().encode([c])
            XCTAssertEqual(try JSONDecoder().decode([SelectionCriterion].self, from: json), [c])
            XCTAssertFalse(c.description.isEmpty)
        }
        XCTAssertEqual(String(data: try JSONEncoder().encode([SelectionCriterion.default]), encoding: .utf8),
                       "[\"sensitivity_at_specificity:0.8\"]")
    }

    func testBadValidationInputs() throws {
        XCTAssertThrowsError(try ValidationMetrics(cases: [], threshold: 0.5))
        XCTAssertThrowsError(try ValidationMetrics(cases: cases(["blocked"], [1.5]), threshold: 0.5))
        XCTAssertThrowsError(try ValidationMetrics(cases: cases(["blocked"], [.nan]), threshold: 0.5))
        XCTAssertThrowsError(try ValidationMetrics(cases: cases(["blocked"], [0.5]), threshold: .infinity))
    }

    func testMetricsEncodeWithSnakeCaseKeys() throws {
        let m = try ValidationMetrics(cases: cases(["blocked", "patent"], [0.7, 0.2]), threshold: 0.5)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(m)) as? [String: Any])
        XCTAssertEqual((obj["balanced_accuracy"] as? NSNumber)?.doubleValue, 1)
        XCTAssertNotNil(obj["mean_loss"])
        XCTAssertEqual(try JSONDecoder().decode(ValidationMetrics.self, from: try JSONEncoder().encode(m)), m)
    }
}
