import Foundation
import TestSupport
import XCTest

/// What a person sees in a terminal during `triage --format table`: the progress bar (stderr) and the rows
/// (stdout) share one screen, and the run ends with a summary of the decisions.
final class TriageConsoleTests: XCTestCase {
    /// The lines a terminal shows for `bytes`: carriage return moves to column 0, CSI K erases to the end of
    /// the line, other characters overwrite from the cursor.
    static func screenLines(_ text: String) -> [String] {
        var lines: [String] = []
        var line: [Character] = []
        var cursor = 0
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            switch c {
            case "\n":
                lines.append(String(line)); line = []; cursor = 0
            case "\r":
                cursor = 0
            case "\u{1B}":
                // Only CSI K (erase to end of line) is expected; anything else is kept visible so a test sees it.
                if chars.first == "[", chars.dropFirst().first == "K" {
                    chars = chars.dropFirst(2)
                    line = Array(line.prefix(cursor))
                } else {
                    line.append("^")
                    cursor = line.count
                }
            default:
                if cursor < line.count { line[cursor] = c } else { line.append(c) }
                cursor += 1
            }
        }
        if !line.isEmpty { lines.append(String(line)) }
        return lines
    }

    func testEmulatorOverwritesAndErases() {
        XCTAssertEqual(Self.screenLines("[##..] 1/2\r\u{1B}[Kpatent 0.1\n"), ["patent 0.1"])
        XCTAssertEqual(Self.screenLines("[##..] 1/2 ETA\rpatent\n"), ["patent 1/2 ETA"], "without the erase the bar's tail stays")
    }

    /// Both streams into one pipe, as a terminal receives them: every table row starts at column 0 on a clean
    /// line, never after the bar's "ETA 0:00:01", and the closing summary counts every decision.
    func testProgressBarIsErasedBeforeEachRowAndTheRunEndsWithASummary() throws {
        let model = try TriageCommandTests.model()
        let pngs = try CLI.tempDir()
        let src = TestPaths.fixture("triage/images/dsa-64.png")
        var inputs: [String] = []
        for i in 0..<4 {
            let dst = pngs.appendingPathComponent("img\(i).png")
            try FileManager.default.copyItem(at: src, to: dst)
            inputs.append(dst.path)
        }
        let cmd = ([CLI.binary.path, "triage", "--model", model, "--format", "table", "--progress", "always"] + inputs)
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd + " 2>&1"]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in TriageCommandTests.env { env[k] = v }
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let screen = Self.screenLines(String(decoding: data, as: UTF8.self))
        let rows = screen.filter { l in ["patent ", "blocked ", "manual_review "].contains { l.hasPrefix($0) } }
        XCTAssertEqual(rows.count, 4, screen.joined(separator: "\n"))
        for l in screen where l.contains("img") {
            XCTAssertFalse(l.contains("ETA"), "a row shares its line with the progress bar: \(l)")
        }
        XCTAssertFalse(screen.contains { $0.contains("ETA") }, "the bar is erased at the end: \(screen)")
        let counts = ["blocked", "manual_review", "patent"].map { d in rows.filter { $0.hasPrefix(d + " ") }.count }
        let summary = "4 units: \(counts[0]) blocked, \(counts[1]) manual_review, \(counts[2]) patent; 0 skipped; 0 failed."
        XCTAssertTrue(screen.contains(summary), "expected \(summary) in \(screen)")
        XCTAssertTrue(screen.contains { $0.hasPrefix("Decision support only") }, screen.joined(separator: "\n"))
    }
}
