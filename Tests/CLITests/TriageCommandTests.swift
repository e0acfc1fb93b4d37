import Foundation
import TestSupport
import XCTest

/// `dsa-triage triage` on mixed batches: one record per unit, exit codes, the test-model warning, and no
/// patient identifiers anywhere in stdout or stderr.
final class TriageCommandTests: XCTestCase {
    nonisolated(unsafe) static var modelDir: URL?

    static func model() throws -> String {
        if modelDir == nil { modelDir = try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model")) }
        return modelDir!.path
    }

    /// Two synthetic cases (native and subtracted runs each), uncompressed, 64×64, 4 frames.
    func synth() throws -> URL {
        let dir = try CLI.tempDir().appendingPathComponent("synth")
        let r = try CLI.run(["synth", "--out", dir.path, "--count", "2", "--size", "64", "--frames", "4", "--transfer-syntax", "explicit-le"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return dir
    }

    /// Fingerprints are remembered in a scratch cache, not the user's.
    static let env = ["DSA_TRIAGE_CACHE": FileManager.default.temporaryDirectory.appendingPathComponent("dsa-triage-cli-cache").path]

    func records(_ stdout: String) throws -> [[String: Any]] {
        try stdout.split(separator: "\n").map { line in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
        }
    }

    func testMixedBatchGivesOneRecordEachAndExitCode3() throws {
        let syn = try synth()
        let junk = try CLI.tempDir().appendingPathComponent("junk.bin")
        try Data("this is not an image".utf8).write(to: junk)
        let png = TestPaths.fixture("triage/images/dsa-64.png").path
        let xa = syn.appendingPathComponent("dicom/case_0001_subtracted.dcm").path
        let ct = TestPaths.fixture("angiography/ct.dcm").path
        let r = try CLI.run(["triage", "--model", try Self.model(), png, xa, ct, junk.path], environment: Self.env)
        XCTAssertEqual(r.status, 3, r.stderr)
        let recs = try records(r.stdout)
        XCTAssertEqual(recs.count, 4, r.stdout)
        XCTAssertEqual(recs.map { $0["status"] as? String }, ["processed", "processed", "skipped", "error"])
        XCTAssertEqual(recs.map { $0["input"] as? String }, [png, xa, ct, junk.path])
        for rec in recs[0..<2] {
            XCTAssertNotNil(rec["decision"] as? String)
            let p = try XCTUnwrap(rec["p_blocked"] as? Double)
            XCTAssertTrue(p >= 0 && p <= 1)
            XCTAssertEqual(rec["test_model_decisions_meaningless"] as? Bool, true)
            XCTAssertEqual(rec["demo_model_no_clinical_meaning"] as? Bool, false)
            XCTAssertEqual((rec["model_fingerprint"] as? String)?.count, 64)
            XCTAssertNotNil(rec["timings"] as? [String: Any])
        }
        XCTAssertEqual(recs[1]["modality"] as? String, "XA")
        XCTAssertEqual((recs[1]["frames_used"] as? [[Int]])?.first?.isEmpty, false)
        XCTAssertEqual((recs[1]["study_uid_hash"] as? String)?.count, 32)
        XCTAssertEqual(recs[2]["route_reason"] as? String, "out-of-scope modality")
        XCTAssertTrue((recs[3]["error"] as? String)?.contains(junk.path) == true)
        XCTAssertTrue(r.stderr.contains("tiny test model; its decisions are meaningless"), r.stderr)
        XCTAssertTrue(r.stderr.contains("1 of 4 input(s) failed"), r.stderr)
    }

    /// A `DEMO_MODEL` file marks a trained demo model: not a test model, but every record and the stderr
    /// notice say its decisions have no clinical meaning.
    func testDemoModelIsFlagged() throws {
        let demo = try CLI.tempDir().appendingPathComponent("demo")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: try Self.model()), to: demo)
        try Data("trained on synthetic angiograms only; no clinical meaning\n".utf8).write(to: demo.appendingPathComponent("DEMO_MODEL"))
        let png = TestPaths.fixture("triage/images/dsa-64.png").path
        let r = try CLI.run(["triage", "--model", demo.path, png], environment: Self.env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let rec = try XCTUnwrap(try records(r.stdout).first)
        XCTAssertEqual(rec["test_model_decisions_meaningless"] as? Bool, false)
        XCTAssertEqual(rec["demo_model_no_clinical_meaning"] as? Bool, true)
        XCTAssertTrue(r.stderr.contains("demo model — trained on synthetic angiograms only; no clinical meaning"), r.stderr)
        let t = try CLI.run(["triage", "--model", demo.path, "--format", "table", png], environment: Self.env)
        XCTAssertTrue(t.stdout.contains("[demo model: no clinical meaning]"), t.stdout)
    }

    func testExitCodesZeroAndFour() throws {
        let ok = try CLI.run(["triage", "--model", try Self.model(), TestPaths.fixture("triage/images/dsa-64.png").path,
                              TestPaths.fixture("angiography/ct.dcm").path], environment: Self.env)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try records(ok.stdout).count, 2)
        let junk = try CLI.tempDir().appendingPathComponent("junk.dcm")
        try Data("x".utf8).write(to: junk)
        let none = try CLI.run(["triage", "--model", try Self.model(), junk.path, "/nonexistent/file.png"], environment: Self.env)
        XCTAssertEqual(none.status, 4, none.stderr)
        XCTAssertEqual(try records(none.stdout).count, 2)
        let empty = try CLI.run(["triage", "--model", try Self.model(), try CLI.tempDir().path], environment: Self.env)
        XCTAssertEqual(empty.status, 4, empty.stderr)
        XCTAssertTrue(empty.stdout.isEmpty)
    }

    func testBadArgumentsAndProfileExitWith1() throws {
        let bad = try CLI.tempDir().appendingPathComponent("profile.json")
        try Data(#"{"version": 1}"#.utf8).write(to: bad)
        let r = try CLI.run(["triage", "--model", try Self.model(), "--profile", bad.path, TestPaths.fixture("triage/images/dsa-64.png").path], environment: Self.env)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains(bad.path), r.stderr)
        XCTAssertTrue(r.stdout.isEmpty)
        let m = try CLI.run(["triage", "--model", "/nonexistent/model", TestPaths.fixture("triage/images/dsa-64.png").path], environment: Self.env)
        XCTAssertEqual(m.status, 1)
        XCTAssertTrue(m.stderr.contains("/nonexistent/model"), m.stderr)
        XCTAssertNotEqual(try CLI.run(["triage", "--model", try Self.model(), "--mode", "fast", "x.png"], environment: Self.env).status, 0)
        XCTAssertNotEqual(try CLI.run(["triage", "--model", try Self.model()], environment: Self.env).status, 0)
    }

    /// A model without an input-domain record: one notice for the whole run (not one per input), and every
    /// record says nothing was checked.
    func testModelWithoutAnInputDomainRecordGetsOneNotice() throws {
        let png = TestPaths.fixture("triage/images/dsa-64.png").path
        let xa = try synth().appendingPathComponent("dicom/case_0001_subtracted.dcm").path
        let r = try CLI.run(["triage", "--model", try Self.model(), png, xa, png], environment: Self.env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let notice = "no input-domain record: the tool cannot tell inputs unlike the training data"
        XCTAssertEqual(r.stderr.components(separatedBy: notice).count - 1, 1, r.stderr)
        let recs = try records(r.stdout)
        XCTAssertEqual(recs.count, 3)
        for rec in recs {
            XCTAssertEqual(rec["domain_checked"] as? Bool, false)
            XCTAssertNil(rec["in_training_domain"])
        }
    }

    /// A profile key with a typo is refused with the nearest known key (it used to be ignored, the default
    /// threshold used); the profile `--write-profile` writes loads back as it is.
    func testMisspeltProfileKeyIsRefusedAndAWrittenProfileLoads() throws {
        let dir = try CLI.tempDir()
        let png = TestPaths.fixture("triage/images/dsa-64.png").path
        var d = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.packageRoot.appendingPathComponent("profiles/default-task-profile.json"))) as? [String: Any])
        d.removeValue(forKey: "threshold")
        d["treshold"] = 0.5
        let typo = dir.appendingPathComponent("typo.json")
        try JSONSerialization.data(withJSONObject: d).write(to: typo)
        let r = try CLI.run(["triage", "--model", try Self.model(), "--profile", typo.path, png], environment: Self.env)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(#"unknown key "treshold" at the top level; did you mean "threshold"?"#), r.stderr)
        XCTAssertTrue(r.stderr.contains(typo.path), r.stderr)
        XCTAssertTrue(r.stdout.isEmpty)
        let written = dir.appendingPathComponent("written.json")
        let w = try CLI.run(["triage", "--model", try Self.model(), "--write-profile", written.path, png], environment: Self.env)
        XCTAssertEqual(w.status, 0, w.stderr)
        let again = try CLI.run(["triage", "--model", try Self.model(), "--profile", written.path, png], environment: Self.env)
        XCTAssertEqual(again.status, 0, again.stderr)
    }

    func testTableFormatAndProfileWriteOut() throws {
        let out = try CLI.tempDir().appendingPathComponent("used-profile.json")
        let r = try CLI.run(["triage", "--model", try Self.model(), "--format", "table", "--write-profile", out.path,
                             TestPaths.fixture("triage/images/dsa-64.png").path], environment: Self.env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix("decision"))
        XCTAssertTrue(lines[1].contains("dsa-64.png") && lines[1].contains("[test model: meaningless]"), String(lines[1]))
        let written = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? NSDictionary
        let shipped = try JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.packageRoot.appendingPathComponent("profiles/default-task-profile.json"))) as? NSDictionary
        XCTAssertEqual(written, shipped)
    }

    /// Every output and log of a batch over synthetic DICOMs (folder scan, progress bar, both formats,
    /// generation on) is searched for the synthetic patient names and IDs: none may appear.
    func testNoPatientIdentifiersInOutputOrLogs() throws {
        let syn = try synth()
        let dicom = syn.appendingPathComponent("dicom")
        let files = try FileManager.default.contentsOfDirectory(atPath: dicom.path).filter { $0.hasSuffix(".dcm") }.sorted()
        XCTAssertEqual(files.count, 4)
        var secrets: [String] = []
        for f in files {
            let bytes = try Data(contentsOf: dicom.appendingPathComponent(f))
            let caseID = String(f.prefix(9))   // case_0001
            for s in ["SYNTHETIC^\(caseID)", "SYN-\(caseID)"] {
                XCTAssertNotNil(bytes.range(of: Data(s.utf8)), "\(f) should carry \(s) for this test to mean anything")
                secrets.append(s)
            }
        }
        var everything = ""
        for format in ["jsonl", "table"] {
            let r = try CLI.run(["triage", "--model", try Self.model(), "--mode", "both", "--keep-generated-text", "--progress", "always", "--format", format, syn.path], environment: Self.env)
            XCTAssertEqual(r.status, 0, r.stderr)
            everything += r.stdout + r.stderr
            if format == "jsonl" {
                let recs = try records(r.stdout)
                // 4 runs (2 studies × native/subtracted series) + 2 PNGs + labels.csv + manifest.csv.
                XCTAssertEqual(recs.count, 8, r.stdout)
                XCTAssertEqual(recs.filter { $0["kind"] as? String == "dicom_series" }.count, 4)
                XCTAssertTrue(r.stderr.contains("8/8"), "progress bar: \(r.stderr)")
                XCTAssertTrue(r.stderr.contains("ETA"), r.stderr)
            }
        }
        for s in Set(secrets) + ["SYNTHETIC^", "SYN-case"] {
            XCTAssertFalse(everything.contains(s), "output carries \(s)")
        }
    }
}
