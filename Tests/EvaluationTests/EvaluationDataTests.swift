import Evaluation
import Foundation
import XCTest

/// Reading manifests and predictions: CSV quoting, JSONL, joins and the errors that name file and line.
final class EvaluationDataTests: XCTestCase {
    func file(_ text: String, _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dsa-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let u = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: u)
        return u.path
    }

    func testCSVQuotingAndOptionalColumns() throws {
        let f = try file("\u{FEFF}path,Label,site,date,split\r\n\"a, \"\"x\"\".png\",blocked,north,2025-02-03,TEST\r\nb.png,Patent,,2024-12,\n\n", "m.csv")
        let m = try EvaluationData.manifest(path: f)
        XCTAssertEqual(m.count, 2)
        XCTAssertEqual(m[0].path, "a, \"x\".png")
        XCTAssertTrue(m[0].blocked)
        XCTAssertEqual(m[0].split, "test")
        XCTAssertEqual(m[0].line, 2)
        XCTAssertFalse(m[1].blocked)
        XCTAssertNil(m[1].site)
        XCTAssertEqual(m[1].line, 3)
        XCTAssertEqual(EvaluationData.month("2024-12"), "2024-12")
        XCTAssertEqual(EvaluationData.month("2025-02-03T10:00:00Z"), "2025-02")
        XCTAssertNil(EvaluationData.month("2025-13-01"))
        XCTAssertNil(EvaluationData.month("03/02/2025"))
    }

    func testErrorsNameFileAndLine() throws {
        func fails(_ text: String, _ name: String = "m.csv", manifest: Bool = true, _ expected: (String) -> EvaluationError) throws {
            let f = try file(text, name)
            XCTAssertThrowsError(try { if manifest { _ = try EvaluationData.manifest(path: f) } else { _ = try EvaluationData.predictions(path: f) } }()) {
                XCTAssertEqual($0 as? EvaluationError, expected(f), "\($0)")
            }
        }
        try fails("path,label\na,patent\nb,maybe\n") { .badRow(file: $0, line: 3, reason: "unknown label \"maybe\" (expected patent or blocked)") }
        try fails("path,label\na,patent\na,blocked\n") { .badRow(file: $0, line: 3, reason: "duplicate path \"a\" (first on line 2)") }
        try fails("path\na\n") { .missingColumn(file: $0, column: "label") }
        try fails("path,label\n") { .empty(file: $0) }
        try fails("") { .empty(file: $0) }
        try fails("path,label\na,patent,extra\n") { .badRow(file: $0, line: 2, reason: "3 fields where the header has 2") }
        try fails("path,label,date\na,patent,yesterday\n") { .badRow(file: $0, line: 2, reason: "date \"yesterday\" is not YYYY-MM or YYYY-MM-DD") }
        try fails("{\"path\": \"a\", \"p_blocked\": -0.1}\n", "p.jsonl", manifest: false) { .badRow(file: $0, line: 1, reason: "p_blocked -0.1 is outside [0, 1]") }
        try fails("{\"path\": \"a\", \"p_blocked\": 0.1}\nnot json\n", "p.jsonl", manifest: false) { .badRow(file: $0, line: 2, reason: "not a JSON object") }
        try fails("path,p_blocked\na,\n", "p.csv", manifest: false) { .badRow(file: $0, line: 2, reason: "neither p_blocked nor decision") }
        try fails("path,p_blocked\na,inf\n", "p.csv", manifest: false) { .badRow(file: $0, line: 2, reason: "p_blocked \"inf\" is not a finite number") }
        let missing = "/nonexistent/m.csv"
        XCTAssertThrowsError(try EvaluationData.manifest(path: missing)) {
            XCTAssertEqual($0 as? EvaluationError, .unreadable(file: missing, reason: "no such file or folder"))
        }
    }

    func testJoinUsesDecisionColumnElseThreshold() throws {
        let m = try EvaluationData.manifest(path: try file("path,label,split\na,blocked,test\nb,patent,test\nc,patent,validation\n", "m.csv"))
        let pf = try file("path,p_blocked,decision\na,0.2,manual_review\nb,0.5,\nc,,patent\n", "p.csv")
        let p = try EvaluationData.predictions(path: pf)
        let s = try EvaluationData.samples(manifest: m, manifestPath: "m.csv", predictions: p, predictionsPath: pf, threshold: 0.5)
        XCTAssertEqual(s.map(\.decision), ["manual_review", "blocked", "patent"])
        XCTAssertEqual(s.map(\.flagged), [true, true, false])
        XCTAssertNil(s[2].pBlocked)
        // A label that disagrees with the manifest, and a prediction for a path the manifest lacks.
        let bad = try file("path,label,p_blocked\na,patent,0.1\nb,patent,0.1\nc,patent,0.1\n", "p.csv")
        XCTAssertThrowsError(try EvaluationData.samples(manifest: m, manifestPath: "m.csv", predictions: try EvaluationData.predictions(path: bad),
                                                        predictionsPath: bad, threshold: 0.5)) {
            XCTAssertEqual($0 as? EvaluationError, .badRow(file: bad, line: 2, reason: "label of \"a\" disagrees with the manifest (line 2)"))
        }
        let extra = try file("path,p_blocked\na,0.1\nb,0.1\nc,0.1\nd,0.3\n", "p.csv")
        XCTAssertThrowsError(try EvaluationData.samples(manifest: m, manifestPath: "m.csv", predictions: try EvaluationData.predictions(path: extra),
                                                        predictionsPath: extra, threshold: 0.5)) {
            XCTAssertEqual($0 as? EvaluationError, .badRow(file: extra, line: 5, reason: "\"d\" is not in the manifest m.csv"))
        }
    }

    func testEvaluationJSONHasNullsWhereUndefined() throws {
        let s = [EvaluationSample(path: "a", blocked: true, pBlocked: 0.7, decision: "blocked")]
        let r = try Evaluator.evaluate(samples: s, options: EvaluationOptions(threshold: 0.35, decisionSource: "threshold",
                                                                            bootstrap: BootstrapSettings(resamples: 50, seed: 1)),
                                       provenance: Provenance(softwareVersion: "t", mode: "predictions", profile: "p", profileFingerprint: "f"))
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: try Artifacts.json(r)) as? [String: Any])
        let m = try XCTUnwrap(obj["metrics"] as? [String: [String: Any]])
        XCTAssertEqual(m["sensitivity"]?["value"] as? Double, 1)
        XCTAssertTrue(m["specificity"]?["value"] is NSNull)
        XCTAssertTrue(m["auroc"]?["ci"] is NSNull)
        XCTAssertTrue(obj["operating_point"] is NSNull)
        // Nested undefined values are written as null too, never left out.
        let baseline = try XCTUnwrap((obj["imbalance"] as? [String: Any])?["baseline"] as? [String: Any])
        XCTAssertTrue(baseline["specificity"] is NSNull)
        let pr = try XCTUnwrap((obj["curves"] as? [String: Any])?["pr"] as? [[String: Any]])
        XCTAssertTrue(pr[0]["threshold"] is NSNull)
        XCTAssertTrue((obj["provenance"] as? [String: Any])?["model"] is NSNull)
        XCTAssertTrue(r.warnings.contains { $0.contains("no patent case") })
        XCTAssertThrowsError(try Evaluator.evaluate(samples: [], options: EvaluationOptions(threshold: 0.35, decisionSource: "t"),
                                                    provenance: Provenance(softwareVersion: "t", mode: "p", profile: "p", profileFingerprint: "f")))
    }
}
