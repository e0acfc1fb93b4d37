import Foundation
import Server
import TestSupport
import WorkerQueue
import XCTest

/// The review UI in a real browser: the listener runs as `serve` runs it (on a loopback port, over a seeded
/// SQLite worker database) and tests/browser/review_ui.py drives headless chromium through Selenium.
/// Screenshots go to $REVIEW_UI_ARTIFACTS, else .build/review-ui-artifacts.
final class ReviewBrowserTests: ServerTestCase {
    func testReviewerClearsACaseWithTheKeyboardInChromium() async throws {
        for tool in ["python3", "chromium", "chromedriver"] where ExternalTool.locate(tool) == nil {
            throw XCTSkip("\(tool) is missing: apt-get install chromium chromium-driver (and python3)")
        }
        let probe = try await runTool("python3", ["-c", "import selenium"], logIn: folder)
        if probe.status != 0 { throw XCTSkip("Python's selenium is missing: pip install selenium") }

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let artifacts = ProcessInfo.processInfo.environment["REVIEW_UI_ARTIFACTS"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent(".build/review-ui-artifacts")
        try? FileManager.default.removeItem(at: artifacts)
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)

        let world = try await ReviewWorld.make(in: folder)
        let passwordFile = folder.appendingPathComponent("password.txt")
        try Data((ReviewWorld.password + "\n").utf8).write(to: passwordFile)
        let server = try makeReviewServer(world)
        let task = Task { try await server.run() }
        defer { task.cancel() }
        guard let port = await server.waitUntilListening(timeout: .seconds(30)) else {
            XCTFail("the listener did not start")
            return
        }
        let before = try await world.store.worklistCounts()
        let result = try await runTool("python3", [root.appendingPathComponent("tests/browser/review_ui.py").path,
                                                   "--base-url", "http://127.0.0.1:\(port)", "--name", "rev.one",
                                                   "--password-file", passwordFile.path, "--expect-first-case", "\(world.manualOld)",
                                                   "--artifacts", artifacts.path], logIn: folder)
        task.cancel()
        _ = await task.result
        print(result.output)
        if result.status == 77 { throw XCTSkip(result.output) }
        XCTAssertEqual(result.status, 0, result.output)
        // The verdict the browser entered is in the database, with the escaped comment stored as typed.
        let verdicts = try await world.store.verdicts(caseJobID: world.manualOld)
        XCTAssertEqual(verdicts.map(\.verdict), [.blocked])
        XCTAssertEqual(verdicts.first?.userName, "rev.one")
        XCTAssertEqual(verdicts.first?.comment?.hasPrefix("<script>"), true)
        let after = try await world.store.worklistCounts()
        XCTAssertEqual(after.reviewed, before.reviewed + 1)
        let shots = files(in: artifacts).filter { $0.hasSuffix(".png") }
        XCTAssertTrue(shots.contains("05-dashboard.png") && shots.contains("03-case.png"), "\(shots)")
        XCTAssertFalse(shots.contains("failure.png"))
    }
}
