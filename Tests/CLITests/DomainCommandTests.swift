import Foundation
import TestSupport
import XCTest

/// `dsa-triage domain`: the input-domain record of a model from its training manifest, and what triage
/// does with it.
final class DomainCommandTests: XCTestCase {
    func testRecordFromAManifestAndTriageAgainstIt() throws {
        let dir = try CLI.tempDir()
        let syn = dir.appendingPathComponent("synth")
        let s = try CLI.run(["synth", "--out", syn.path, "--count", "3", "--size", "64", "--frames", "3", "--runs", "both",
                             "--transfer-syntax", "explicit-le", "--seed", "11"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let out = dir.appendingPathComponent("input_domain.json")
        // A path,label manifest of both runs of each case (labels.csv: case_id,label,native_dicom,subtracted_dicom,…).
        var manifest = "path,label\n"
        for line in try String(contentsOf: syn.appendingPathComponent("labels.csv"), encoding: .utf8).split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            manifest += "\(f[2]),\(f[1])\n\(f[3]),\(f[1])\n"
        }
        let manifestURL = syn.appendingPathComponent("runs.csv")
        try Data(manifest.utf8).write(to: manifestURL)
        let r = try CLI.run(["domain", "--data", manifestURL.path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("6 image(s) (dicom_native 3, dicom_subtracted 3)"), r.stderr)
        let rec = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        XCTAssertEqual(rec["images"] as? Int, 6)
        XCTAssertEqual(rec["rule"] as? Int, 1)
        let kinds = try XCTUnwrap(rec["source_kinds"] as? [[String: Any]])
        XCTAssertEqual(kinds.compactMap { $0["kind"] as? String }, ["dicom_native", "dicom_subtracted"])
        for k in kinds {
            let stats = try XCTUnwrap(k["statistics"] as? [[String: Any]])
            let frames = try XCTUnwrap(stats.first { $0["statistic"] as? String == "frames" })
            // Every run has 3 frames: percentiles all 3, margin the minimum 1.
            XCTAssertEqual(frames["percentiles"] as? [Double], [3, 3, 3, 3, 3, 3, 3])
            XCTAssertEqual(frames["allowed"] as? [Double], [2, 4])
        }

        // The same model images, measured by triage's own quality checks: each record's mean gray lies inside
        // the recorded min–max of its kind.
        let model = try TriageCommandTests.model()
        let withRecord = dir.appendingPathComponent("model")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: model), to: withRecord)
        try FileManager.default.copyItem(at: out, to: withRecord.appendingPathComponent("input_domain.json"))
        let t = try CLI.run(["triage", "--model", withRecord.path, "--paths", "relative", syn.appendingPathComponent("dicom").path,
                             TestPaths.fixture("triage/images/dsa-64.png").path], environment: TriageCommandTests.env)
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertFalse(t.stderr.contains("no input-domain record"), t.stderr)
        let recs = try t.stdout.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(recs.count, 7)
        for rec in recs {
            XCTAssertEqual(rec["domain_checked"] as? Bool, true)
            let isPicture = (rec["input"] as? String)?.hasSuffix(".png") == true
            // The training runs themselves are inside; a picture (a kind never trained on) is outside and never patent.
            XCTAssertEqual(rec["in_training_domain"] as? Bool, !isPicture, "\(rec["input"] ?? "") \(rec["reasons"] ?? "")")
            if !isPicture {
                let kind = (rec["files"] as? [String])?.first?.contains("_native") == true ? "dicom_native" : "dicom_subtracted"
                let stats = try XCTUnwrap(kinds.first { $0["kind"] as? String == kind }?["statistics"] as? [[String: Any]])
                let mean = try XCTUnwrap(stats.first { $0["statistic"] as? String == "mean_gray" })
                let seen = try XCTUnwrap(((rec["images"] as? [[String: Any]])?.first?["quality"] as? [String: Any])?["mean_gray"] as? Double)
                XCTAssertGreaterThanOrEqual(seen, try XCTUnwrap(mean["min"] as? Double) - 1e-9)
                XCTAssertLessThanOrEqual(seen, try XCTUnwrap(mean["max"] as? Double) + 1e-9)
            }
            if isPicture {
                XCTAssertNotEqual(rec["decision"] as? String, "patent")
                XCTAssertTrue((rec["reasons"] as? [String])?.contains { $0.hasPrefix("outside the training domain: source kind picture") } == true)
            }
        }

        // A folder as --out gets the record under its standard name.
        let folder = try CLI.run(["domain", "--data", manifestURL.path, "--out", withRecord.path])
        XCTAssertEqual(folder.status, 0, folder.stderr)
        XCTAssertEqual(try Data(contentsOf: withRecord.appendingPathComponent("input_domain.json")), try Data(contentsOf: out))

        let missing = try CLI.run(["domain", "--data", dir.appendingPathComponent("none.csv").path, "--out", out.path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("none.csv"), missing.stderr)
    }
}
