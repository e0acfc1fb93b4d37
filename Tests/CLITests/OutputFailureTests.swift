import DICOM
import Foundation
import TestSupport
import XCTest

/// Output that cannot be written: every command ends with a clear message and a non-zero status, never a
/// trap, and leaves no half-written file under a real name (issue 15, item 2). Standard output goes to
/// /dev/full (every write fails with ENOSPC); files go under `ulimit -f` (writes past the limit fail with EFBIG).
final class OutputFailureTests: XCTestCase {
    static let noSpace = "cannot write to standard output: No space left on device"
    static let env = ["DSA_TRIAGE_CACHE": FileManager.default.temporaryDirectory.appendingPathComponent("dsa-triage-cli-cache").path]

    func model() throws -> String { try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model")).path }

    func synth(_ dir: URL, count: Int = 2) throws -> URL {
        let out = dir.appendingPathComponent("synth")
        let r = try MeasuredRun.run(["synth", "--out", out.path, "--count", String(count), "--size", "64", "--frames", "4",
                                     "--transfer-syntax", "explicit-le"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    func assertIOError(_ r: MeasuredRun, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(r.signal, "\(what): killed by signal \(r.signal ?? 0): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.status, 74, "\(what): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(Self.noSpace), "\(what): \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), "\(what): \(r.stderr)", file: file, line: line)
    }

    /// triage (jsonl and table), inspect, synth and help with stdout on a full device: status 74 and the
    /// message, where triage used to die of signal 4 in FileHandle.write and inspect/synth exited 0.
    func testFullStandardOutputIsAnErrorNotATrap() throws {
        let dir = try CLI.tempDir()
        let syn = try synth(dir)
        let xa = syn.appendingPathComponent("dicom/case_0001_subtracted.dcm").path
        let png = TestPaths.fixture("triage/images/dsa-64.png").path
        let model = try model()
        assertIOError(try MeasuredRun.run(["triage", "--model", model, png, xa], stdoutPath: "/dev/full"), "triage jsonl")
        assertIOError(try MeasuredRun.run(["triage", "--model", model, "--format", "table", png], stdoutPath: "/dev/full"), "triage table")
        assertIOError(try MeasuredRun.run(["inspect", xa], stdoutPath: "/dev/full"), "inspect")
        assertIOError(try MeasuredRun.run(["synth", "--out", dir.appendingPathComponent("s2").path, "--count", "1", "--size", "32",
                                           "--frames", "2"], stdoutPath: "/dev/full"), "synth")
        assertIOError(try MeasuredRun.run(["triage", "--help"], stdoutPath: "/dev/full"), "help")
    }

    /// evaluate writes its summary on stderr: a full stderr used to trap; now the artifacts are written and
    /// the status says output was lost (74), with no signal.
    func testEvaluateWithFullStandardErrorWritesArtifactsAndExits74() throws {
        let dir = try CLI.tempDir()
        let out = dir.appendingPathComponent("eval")
        let preds = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/evaluation/predictions.csv").path
        let r = try MeasuredRun.run(["evaluate", "--predictions", preds, "--out", out.path, "--bootstrap", "20"], stderrPath: "/dev/full")
        XCTAssertNil(r.signal, "killed by signal \(r.signal ?? 0)")
        XCTAssertEqual(r.status, 74)
        for f in ["evaluation.json", "predictions.csv", "report.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
    }

    /// Names in `dir` (recursively) that look like leftovers of an interrupted write.
    func temporaryLeftovers(_ dir: URL) -> [String] {
        let all = FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String] ?? []
        return all.filter { ($0 as NSString).lastPathComponent.hasPrefix(".") || $0.contains(".tmp") }
    }

    /// evaluate into a location where files cannot grow past 10 KiB: status 1 with the file and the cause,
    /// and no evaluation.json, predictions.csv or report.html that is only partly written.
    func testEvaluateIntoAFullLocationLeavesNoPartialArtifact() throws {
        let dir = try CLI.tempDir()
        let out = dir.appendingPathComponent("eval")
        let preds = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/evaluation/predictions.csv").path
        let full = try MeasuredRun.run(["evaluate", "--predictions", preds, "--out", out.path, "--bootstrap", "20"])
        XCTAssertEqual(full.status, 0, full.stderr)
        let complete = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        let limited = dir.appendingPathComponent("limited")
        let r = try MeasuredRun.run(["evaluate", "--predictions", preds, "--out", limited.path, "--bootstrap", "20"], shellPrefix: "ulimit -f 10;")
        XCTAssertNil(r.signal, "killed by signal \(r.signal ?? 0): \(r.stderr)")
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(limited.path) && r.stderr.contains("File too large"), r.stderr)
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain"), r.stderr)
        XCTAssertEqual(temporaryLeftovers(limited), [])
        // Whatever was written is byte-identical to the unlimited run's file (bootstrap seed fixed), never cut short.
        for f in (try? FileManager.default.contentsOfDirectory(atPath: limited.path)) ?? [] where f != "evaluation.json" {
            XCTAssertTrue(complete.contains(f), f)
            XCTAssertEqual(try Data(contentsOf: limited.appendingPathComponent(f)), try Data(contentsOf: out.appendingPathComponent(f)), f)
        }
        // The limit must bite for this test to mean something.
        let reportSize = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("report.html").path)[.size] as? Int
        XCTAssertGreaterThan(reportSize ?? 0, 10 << 10)
    }

    /// synth where files cannot grow past 20 KiB (each DICOM is ~34 KB): status 1 naming the file and the
    /// cause, no labels.csv, and no DICOM or PNG that is only partly written.
    func testSynthIntoAFullLocationLeavesNoPartialFile() throws {
        let dir = try CLI.tempDir()
        let out = dir.appendingPathComponent("synth")
        let r = try MeasuredRun.run(["synth", "--out", out.path, "--count", "3", "--size", "64", "--frames", "4",
                                     "--transfer-syntax", "explicit-le"], shellPrefix: "ulimit -f 20;")
        XCTAssertNil(r.signal, "killed by signal \(r.signal ?? 0): \(r.stderr)")
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("File too large"), r.stderr)
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("labels.csv").path))
        XCTAssertEqual(temporaryLeftovers(out), [])
        for name in (try? FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("dicom").path)) ?? [] {
            let file = try DICOMFile(url: out.appendingPathComponent("dicom").appendingPathComponent(name))
            XCTAssertEqual(try PixelDataReader(file: file).frames().count, 4, name)
        }
    }

    /// --write-profile into a folder that does not exist: the path and errno's text, not a Foundation error code.
    func testUnwritableProfilePathNamesPathAndCause() throws {
        let target = try CLI.tempDir().appendingPathComponent("no/such/folder/profile.json").path
        let r = try MeasuredRun.run(["triage", "--model", try model(), "--write-profile", target,
                                     TestPaths.fixture("triage/images/dsa-64.png").path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(target) && r.stderr.contains("No such file or directory"), r.stderr)
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain"), r.stderr)
    }
}
