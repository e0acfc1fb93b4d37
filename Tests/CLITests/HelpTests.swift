import Foundation
import XCTest

/// The top-level help a new user reads first, and the predictions format as README and help spell it.
final class HelpTests: XCTestCase {
    func testTriageIsTheFirstSubcommandListed() throws {
        let r = try CLI.run(["--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("SUBCOMMANDS:") })
        // Subcommand entries are indented by two spaces; wrapped descriptions by many more.
        let section = lines[(start + 1)...].prefix { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let names = section.compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first else { return nil }
            return String(name)
        }
        XCTAssertEqual(names.first, "triage", "\(names)")
        XCTAssertEqual(Set(names), ["triage", "evaluate", "inspect", "synth", "train", "domain", "merge", "generate", "bench", "serve", "queue", "users", "monitor"])
    }

    /// One spelling of the --predictions columns: README and `evaluate --help` say the same.
    func testPredictionsColumnsAreSpelledAlikeInReadmeAndHelp() throws {
        let spelling = "path,p_blocked[,label][,decision]"
        let readme = try String(contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains("`\(spelling)`"), "README")
        let help = try CLI.run(["help", "evaluate"])
        // The help text wraps: compare with line breaks and indentation removed.
        let flat = help.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        XCTAssertTrue(flat.contains("(\(spelling))"), flat)
    }
}

/// The README's main command, `scripts/demo`, as a user runs it from elsewhere.
final class DemoScriptTests: XCTestCase {
    /// With the tool already built, the script neither installs nor builds, and a relative input is read from
    /// the caller's directory (not the checkout's).
    func testRelativeInputFromTheCallersDirectoryWithoutARebuild() throws {
        let root = CLI.packageRoot
        let bin = root.appendingPathComponent(".build/release/dsa-triage")
        guard bin.resolvingSymlinksInPath().path == CLI.binary.resolvingSymlinksInPath().path else {
            throw XCTSkip("the tests' binary is not the one scripts/demo runs (\(CLI.binary.path))")
        }
        let dir = try CLI.tempDir()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("runs"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("samples/angiograms/dicom/case_0001_subtracted.dcm"),
                                         to: dir.appendingPathComponent("runs/one.dcm"))
        let p = Process()
        p.executableURL = root.appendingPathComponent("scripts/demo")
        p.arguments = ["runs/one.dcm"]
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env["DSA_TRIAGE_CACHE"] = FileManager.default.temporaryDirectory.appendingPathComponent("dsa-triage-cli-cache").path
        // A PATH without swift or apt-get: the script must not need them when the tool is built.
        env["PATH"] = "/usr/bin:/bin"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let stdout = String(decoding: o, as: UTF8.self), stderr = String(decoding: e, as: UTF8.self)
        if stderr.contains("swift: command not found") || stderr.contains("bootstrap:") {
            XCTFail("scripts/demo tried to install or build although the tool is built: \(stderr)")
            return
        }
        XCTAssertEqual(p.terminationStatus, 0, stderr)
        let rows = stdout.split(separator: "\n").dropFirst()
        XCTAssertEqual(rows.count, 1, stdout)
        XCTAssertTrue(rows.first?.hasPrefix("blocked ") == true, "case_0001 is a blocked sample: \(stdout)")
    }
}
