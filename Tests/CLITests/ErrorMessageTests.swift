import Foundation
import TestSupport
import XCTest

/// Errors name the path and the cause in words, never a raw Foundation error, and usage errors exit 64 as
/// the help texts say (issue 15, item 12).
final class ErrorMessageTests: XCTestCase {
    func inspectFails(_ path: String, saying needle: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try MeasuredRun.run(["inspect", path])
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr, "error: \(path): \(needle)\n", file: file, line: line)
        XCTAssertTrue(r.stdout.isEmpty, r.stdout, file: file, line: line)
    }

    /// A missing file, a folder and a FIFO given to inspect say what they are (before: "not a DICOM file
    /// (… NSCocoaErrorDomain error 256)" for a folder, "… You don't have permission" for a FIFO).
    func testInspectSaysWhatThePathIs() throws {
        let dir = try CLI.tempDir()
        try inspectFails(dir.appendingPathComponent("absent.dcm").path, saying: "no such file or folder")
        try inspectFails(dir.path, saying: "is a folder, not a file")
        let fifo = dir.appendingPathComponent("pipe").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        // Never opened, so never blocks waiting for a writer.
        try inspectFails(fifo, saying: "is a FIFO (named pipe), not a regular file")
    }

    /// --model that does not exist is called a missing model (before: "missing file: PATH").
    func testMissingModelIsNamed() throws {
        let missing = try CLI.tempDir().appendingPathComponent("no-model").path
        let png = TestPaths.fixture("triage/images/dsa-64.png").path
        let r = try MeasuredRun.run(["triage", "--model", missing, png])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(missing): model not found"), r.stderr)
    }

    /// evaluate --out under a regular file, and a predictions path that is a folder: path and cause.
    func testEvaluatePathsNamePathAndCause() throws {
        let dir = try CLI.tempDir()
        let blocker = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: blocker)
        let preds = TestPaths.fixture("evaluation/predictions.csv").path
        let out = blocker.appendingPathComponent("out").path
        let r = try MeasuredRun.run(["evaluate", "--predictions", preds, "--out", out, "--bootstrap", "0"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(blocker.path) && r.stderr.contains("not a folder"), r.stderr)
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain"), r.stderr)
        let folder = try MeasuredRun.run(["evaluate", "--predictions", dir.path, "--out", dir.appendingPathComponent("o").path])
        XCTAssertEqual(folder.status, 1, folder.stderr)
        XCTAssertEqual(folder.stderr, "error: \(dir.path): is a folder, not a file\n")
    }

    /// Usage errors exit 64 (EX_USAGE), and every command's help says so.
    func testUsageErrorsExit64AsHelpSays() throws {
        let bad = try MeasuredRun.run(["triage", "--format", "xml", "x.png", "--model", "m"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--format must be jsonl or table"), bad.stderr)
        XCTAssertEqual(try MeasuredRun.run(["inspect"]).status, 64)
        for command in ["triage", "evaluate", "inspect", "synth", "merge", "generate", "bench", "train"] {
            let help = try MeasuredRun.run([command, "--help"])
            XCTAssertEqual(help.status, 0, command)
            let text = help.stdout.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: " ")
            XCTAssertTrue(text.contains("64 bad command-line arguments"), "\(command): \(help.stdout)")
            XCTAssertTrue(text.contains("74 standard output or standard error could not be written"), "\(command): \(help.stdout)")
        }
    }
}
