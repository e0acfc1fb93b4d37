import Foundation
import TestSupport
import XCTest

/// `dsa-triage evaluate`: predictions mode end to end, bad input, the sensitivity floor's exit code, the
/// operating point and profile, comparisons, and model mode on the tiny test model with resume.
final class EvaluateCommandTests: XCTestCase {
    static let metricKeys: Set<String> = ["accuracy", "sensitivity", "specificity", "ppv", "npv", "balanced_accuracy", "f1", "mcc",
                                          "auroc", "auprc", "brier", "ece"]
    static let env = ["DSA_TRIAGE_CACHE": FileManager.default.temporaryDirectory.appendingPathComponent("dsa-triage-cli-cache").path]

    func fixture(_ name: String) -> String { TestPaths.fixture("evaluation/" + name).path }

    func evaluation(_ dir: URL) throws -> [String: Any] {
        let d = try Data(contentsOf: dir.appendingPathComponent("evaluation.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: d) as? [String: Any])
    }

    func write(_ text: String, _ name: String) throws -> String {
        let u = try CLI.tempDir().appendingPathComponent(name)
        try Data(text.utf8).write(to: u)
        return u.path
    }

    func testPredictionsEndToEndMatchesScikitLearn() throws {
        let out = try CLI.tempDir()
        let r = try CLI.run(["evaluate", "--predictions", fixture("predictions.csv"), "--out", out.path, "--bootstrap", "300"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ev = try evaluation(out)
        let metrics = try XCTUnwrap(ev["metrics"] as? [String: [String: Any]])
        XCTAssertEqual(Set(metrics.keys), Self.metricKeys)
        for (k, m) in metrics {
            XCTAssertEqual(Set(m.keys), ["value", "ci"], k)
            let v = try XCTUnwrap(m["value"] as? Double, k)
            let ci = try XCTUnwrap(m["ci"] as? [Double], k)
            XCTAssertEqual(ci.count, 2, k)
            XCTAssertTrue(ci[0] <= v && v <= ci[1], "\(k) \(v) \(ci)")
        }
        XCTAssertEqual(ev["threshold"] as? Double, 0.35)
        XCTAssertEqual(ev["evaluated_split"] as? String, "all")
        // No manifest: every row counts; the numbers are the main set's scikit-learn values.
        let exp = try TestPaths.json("evaluation/expectations.json")
        let main = ((exp["sets"] as! [String: Any])["main"] as! [String: Any])["expected"] as! [String: Any]
        XCTAssertEqual(ev["confusion"] as? [String: Int], main["confusion"] as? [String: Int])
        for k in Self.metricKeys {
            XCTAssertEqual(metrics[k]!["value"] as! Double, main[k] as! Double, accuracy: 1e-9, k)
        }
        for f in ["predictions.csv", "report.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
        let csv = try String(contentsOf: out.appendingPathComponent("predictions.csv"), encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 81)
        XCTAssertTrue(csv.hasPrefix("path,label,p_blocked,decision,flagged,split,site,scanner,date\n"))
        // The written predictions read back to the same numbers.
        let again = try CLI.tempDir()
        XCTAssertEqual(try CLI.run(["evaluate", "--predictions", out.appendingPathComponent("predictions.csv").path, "--out", again.path,
                                    "--bootstrap", "300"]).status, 0)
        XCTAssertEqual(try evaluation(again)["metrics"] as? NSDictionary, ev["metrics"] as? NSDictionary)
    }

    func testManifestSplitsOperatingPointProfileSubgroupsAndComparison() throws {
        let out = try CLI.tempDir()
        let profile = out.appendingPathComponent("chosen-profile.json").path
        let r = try CLI.run(["evaluate", "--data", fixture("manifest.csv"), "--predictions", fixture("predictions.csv"), "--out", out.path,
                             "--bootstrap", "200", "--target-sensitivity", "0.95", "--write-profile", profile,
                             "--compare", fixture("predictions-b.csv")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ev = try evaluation(out)
        XCTAssertEqual(ev["evaluated_split"] as? String, "test")
        XCTAssertEqual(ev["n"] as? Int, 40)
        let op = try XCTUnwrap(ev["operating_point"] as? [String: Any])
        XCTAssertEqual(op["chosen_on"] as? String, "validation")
        let t = try XCTUnwrap(op["threshold"] as? Double)
        let chosen = try XCTUnwrap(op["chosen"] as? [String: Any])
        XCTAssertGreaterThanOrEqual(try XCTUnwrap((chosen["sensitivity"] as? [String: Any])?["value"] as? Double), 0.95)
        XCTAssertEqual((op["reported"] as? [String: Any])?["split"] as? String, "test")
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: profile))) as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(written["threshold"] as? Double), t, accuracy: 1e-12)
        let band = try XCTUnwrap(written["review_band"] as? [Double])
        XCTAssertGreaterThanOrEqual(band[1], t, "no probability below the written threshold is called patent without review")
        let sub = try XCTUnwrap(ev["subgroups"] as? [String: [[String: Any]]])
        XCTAssertEqual(sub["month"]?.map { $0["group"] as? String }, ["2025-01", "2025-02", "2025-03"])
        XCTAssertEqual(sub["scanner"]?.count, 3)
        XCTAssertEqual(sub["site"]?.compactMap { ($0["table"] as? [String: Any])?["n"] as? Int }.reduce(0, +), 40)
        let cmp = try XCTUnwrap((ev["comparisons"] as? [[String: Any]])?.first)
        XCTAssertEqual((cmp["mcnemar"] as? [String: Any])?["method"] as? String, "exact")
        XCTAssertNotNil((cmp["delong"] as? [String: Any])?["p_value"] as? Double)
        XCTAssertEqual(cmp["n"] as? Int, 40)
        // The report page carries the four figures, the confusion matrix with this run's counts, and the
        // subgroup, operating-point and comparison tables.
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        for id in ["fig-roc", "fig-pr", "fig-calibration", "fig-threshold", "confusion-matrix"] {
            XCTAssertTrue(html.contains("id=\"\(id)\""), "report lacks \(id)")
        }
        XCTAssertEqual(html.components(separatedBy: "<polyline").count - 1 >= 4, true, "curves are drawn")
        let confusion = try XCTUnwrap(ev["confusion"] as? [String: Int])
        // Manual reviews have a column of their own; the caption keeps the headline TP and FP (reviews counted as flags).
        for key in ["tn", "fn"] { XCTAssertTrue(html.contains("\(key.uppercased()) \(confusion[key] ?? -1)</td>"), key) }
        for key in ["tp", "fp"] { XCTAssertTrue(html.contains("\(key.uppercased()) = \(confusion[key] ?? -1)"), key) }
        let review = try XCTUnwrap(ev["review"] as? [String: Any])
        let reviewBlocked = try XCTUnwrap(review["actually_blocked"] as? Int), reviewPatent = try XCTUnwrap(review["actually_patent"] as? Int)
        XCTAssertEqual(reviewBlocked + reviewPatent, review["count"] as? Int)
        XCTAssertTrue(html.contains("TP \((confusion["tp"] ?? 0) - reviewBlocked)</td><td class=\"review\">review \(reviewBlocked)</td>"), html)
        for title in ["Per site", "Per scanner", "Over time (by month)", "Operating point for target sensitivity", "Comparison with other runs"] {
            XCTAssertTrue(html.contains(title), "report lacks \(title)")
        }
        XCTAssertFalse(html.contains("<script"))
    }

    func testBadInputNamesFileAndLine() throws {
        let out = try CLI.tempDir().path
        let cases: [(String, String)] = [
            ("path,label,p_blocked\na.png,patent,0.2\nb.png,occluded,0.9\n", ":3: unknown label \"occluded\""),
            ("path,label,p_blocked\na.png,patent,0.2\na.png,blocked,0.9\n", ":3: duplicate path \"a.png\" (first on line 2)"),
            ("path,label,p_blocked\na.png,patent,1.2\n", ":2: p_blocked 1.2 is outside [0, 1]"),
            ("path,label,p_blocked\na.png,patent,nan\n", ":2: p_blocked \"nan\" is not a finite number"),
            ("path,label,p_blocked\n", ": no data rows"),
            ("path,label,p_blocked,decision\na.png,patent,0.2,maybe\n", ":2: unknown decision \"maybe\""),
        ]
        for (text, message) in cases {
            let f = try write(text, "preds.csv")
            let r = try CLI.run(["evaluate", "--predictions", f, "--out", out])
            XCTAssertEqual(r.status, 1, text)
            XCTAssertTrue(r.stderr.contains(f + message), "\(r.stderr) lacks \(message)")
        }
        let emptyManifest = try write("path,label\n", "manifest.csv")
        let r = try CLI.run(["evaluate", "--data", emptyManifest, "--predictions", fixture("predictions.csv"), "--out", out])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains(emptyManifest + ": no data rows"), r.stderr)
        let partial = try write("path,label\ncase_000.dcm,patent\nmissing.dcm,blocked\n", "manifest.csv")
        let p = try CLI.run(["evaluate", "--data", partial, "--predictions", fixture("predictions.csv"), "--out", out])
        XCTAssertEqual(p.status, 1)
        XCTAssertTrue(p.stderr.contains(fixture("predictions.csv") + ":"), p.stderr)
    }

    func testFailUnderSensitivityExitsWith5AndFlagsTheMajorityClassFailure() throws {
        var text = "path,label,p_blocked\n"
        for i in 0..<36 { text += "n\(i).png,patent,0.05\n" }
        for i in 0..<4 { text += "b\(i).png,blocked,\(i == 0 ? "0.5" : "0.1")\n" }
        let f = try write(text, "preds.jsonl.csv")
        let out = try CLI.tempDir()
        let r = try CLI.run(["evaluate", "--predictions", f, "--out", out.path, "--bootstrap", "100", "--fail-under-sensitivity", "0.8"])
        XCTAssertEqual(r.status, 5, r.stderr)
        XCTAssertTrue(r.stderr.contains("IMBALANCE FAILURE"), r.stderr)
        XCTAssertTrue(r.stderr.contains("FAIL: sensitivity 0.2500 is below 0.8"), r.stderr)
        let ev = try evaluation(out)
        let imb = try XCTUnwrap(ev["imbalance"] as? [String: Any])
        XCTAssertEqual(imb["majority_class_failure"] as? Bool, true)
        XCTAssertEqual((imb["baseline"] as? [String: Any])?["accuracy"] as? Double, 0.9)
        let ok = try CLI.run(["evaluate", "--predictions", f, "--out", out.path, "--bootstrap", "0", "--fail-under-sensitivity", "0.2"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    func testJSONLPredictionsWithUndefinedMetricsGiveNulls() throws {
        let f = try write("{\"path\": \"a.png\", \"label\": \"patent\", \"p_blocked\": 0.1}\n{\"path\": \"b.png\", \"label\": \"patent\", \"p_blocked\": 0.7}\n", "p.jsonl")
        let out = try CLI.tempDir()
        let r = try CLI.run(["evaluate", "--predictions", f, "--out", out.path, "--bootstrap", "50"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try XCTUnwrap(try evaluation(out)["metrics"] as? [String: [String: Any]])
        XCTAssertTrue(m["sensitivity"]?["value"] is NSNull)
        XCTAssertTrue(m["sensitivity"]?["ci"] is NSNull)
        XCTAssertTrue(m["auroc"]?["value"] is NSNull)
        XCTAssertEqual(m["specificity"]?["value"] as? Double, 0.5)
        XCTAssertTrue(r.stderr.contains("no blocked case"), r.stderr)
    }

    func testModelModeResumesFromTheCache() throws {
        let dir = try CLI.tempDir()
        let syn = dir.appendingPathComponent("synth")
        XCTAssertEqual(try CLI.run(["synth", "--out", syn.path, "--count", "6", "--size", "64", "--frames", "4"]).status, 0)
        let labels = try String(contentsOf: syn.appendingPathComponent("labels.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        var manifest = "path,label,site\n"
        for (i, l) in labels.enumerated() {
            let f = l.split(separator: ",", omittingEmptySubsequences: false)
            manifest += "\(f[4]),\(f[1]),\(i % 2 == 0 ? "north" : "south")\n"
        }
        let m = syn.appendingPathComponent("manifest.csv")
        try Data(manifest.utf8).write(to: m)
        let out = dir.appendingPathComponent("out")
        let model = try TriageCommandTests.model()
        let first = try CLI.run(["evaluate", "--data", m.path, "--model", model, "--out", out.path, "--limit", "2", "--bootstrap", "100"], environment: Self.env)
        XCTAssertEqual(first.status, 3, first.stderr)
        XCTAssertTrue(first.stderr.contains("computed 2, cached 0, remaining 4"), first.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("evaluation.json").path))
        let second = try CLI.run(["evaluate", "--data", m.path, "--model", model, "--out", out.path, "--bootstrap", "100"], environment: Self.env)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("computed 4, cached 2, remaining 0"), second.stderr)
        let ev = try evaluation(out)
        XCTAssertEqual(ev["run"] as? [String: Int], ["computed": 4, "cached": 2, "remaining": 0])
        XCTAssertEqual(ev["n"] as? Int, 6)
        XCTAssertEqual(Set((ev["metrics"] as? [String: Any])?.keys.map { $0 } ?? []), Self.metricKeys)
        let prov = try XCTUnwrap(ev["provenance"] as? [String: Any])
        XCTAssertEqual((prov["model_fingerprint"] as? String)?.count, 64)
        XCTAssertEqual(prov["mode"] as? String, "model")
        XCTAssertEqual(prov["test_model_decisions_meaningless"] as? Bool, true)
        XCTAssertEqual(prov["demo_model_no_clinical_meaning"] as? Bool, false)
        XCTAssertTrue(try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8).contains("TEST MODEL:"))
        let third = try CLI.run(["evaluate", "--data", m.path, "--model", model, "--out", out.path, "--bootstrap", "100"], environment: Self.env)
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertTrue(third.stderr.contains("computed 0, cached 6, remaining 0"), third.stderr)
        XCTAssertEqual(try evaluation(out)["metrics"] as? NSDictionary, ev["metrics"] as? NSDictionary)
        // A missing input is an error naming the manifest line, before any model work.
        try Data((manifest + "png/nope.png,patent,north\n").utf8).write(to: m)
        let missing = try CLI.run(["evaluate", "--data", m.path, "--model", model, "--out", out.path], environment: Self.env)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains(m.path + ":8: no such file \"png/nope.png\""), missing.stderr)
    }

    /// A run killed part-way keeps what it finished: the next run computes only the rest.
    func testKilledRunContinuesWhereItStopped() throws {
        let dir = try CLI.tempDir()
        let syn = dir.appendingPathComponent("synth")
        XCTAssertEqual(try CLI.run(["synth", "--out", syn.path, "--count", "6", "--size", "64", "--frames", "4"]).status, 0)
        var manifest = "path,label\n"
        for l in try String(contentsOf: syn.appendingPathComponent("labels.csv"), encoding: .utf8).split(separator: "\n").dropFirst() {
            let f = l.split(separator: ",", omittingEmptySubsequences: false)
            manifest += "\(f[3]),\(f[1])\n"   // the subtracted DICOM runs
        }
        let m = syn.appendingPathComponent("manifest.csv")
        try Data(manifest.utf8).write(to: m)
        let out = dir.appendingPathComponent("out")
        let cache = out.appendingPathComponent("cache")
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["evaluate", "--data", m.path, "--model", try TriageCommandTests.model(), "--out", out.path, "--bootstrap", "50"]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in Self.env { env[k] = v }
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        func cachedCount() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []).filter { $0.hasSuffix(".json") }.count
        }
        while cachedCount() < 1 && p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        let before = cachedCount()
        XCTAssertGreaterThanOrEqual(before, 1)
        let again = try CLI.run(["evaluate", "--data", m.path, "--model", try TriageCommandTests.model(), "--out", out.path,
                                 "--bootstrap", "50", "--progress", "always"], environment: Self.env)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("computed \(6 - before), cached \(before), remaining 0"), again.stderr)
        if before < 6 { XCTAssertTrue(again.stderr.contains("ETA"), again.stderr) }
        XCTAssertEqual(try evaluation(out)["n"] as? Int, 6)
    }
}
