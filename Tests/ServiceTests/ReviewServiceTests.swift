import AsyncHTTPClient
import Foundation
import Logging
import Monitoring
import DICOM
import StructuredReport
@testable import Service
import TestSupport
import WorkerQueue
import XCTest

/// The worker's side of review and monitoring: the audit draw, and the monitoring loop's alert handling
/// against a real SQLite database and a real HTTP webhook receiver (Python's http.server).
final class ReviewServiceTests: XCTestCase {
    private var dir: URL!
    override func setUpWithError() throws { dir = try ServiceFixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The draw from job keys (SHA-256 hex) is uniform enough that an audit fraction is what it says, and the
    /// same key always draws the same.
    func testAuditDrawMatchesTheFraction() {
        var rng = SystemRandomNumberGenerator()
        let keys = (0..<20_000).map { _ in JobKey(rawValue: (0..<4).map { _ in String(format: "%016llx", rng.next() as UInt64) }.joined()) }
        let draws = keys.map(CaseRecorder.draw)
        XCTAssertTrue(draws.allSatisfy { $0 >= 0 && $0 < 1 })
        for fraction in [0.02, 0.1, 0.5] {
            let share = Double(draws.filter { $0 < fraction }.count) / Double(draws.count)
            // Binomial standard error at n = 20 000 is at most 0.0036; 4 of them.
            XCTAssertEqual(share, fraction, accuracy: 0.015, "fraction \(fraction)")
        }
        XCTAssertEqual(CaseRecorder.draw(keys[7]), CaseRecorder.draw(JobKey(rawValue: keys[7].rawValue)))
        let odd = CaseRecorder.draw(JobKey(rawValue: "not hex at all"))
        XCTAssertTrue(odd >= 0 && odd < 1)
    }

    /// Forty adjudicated blocked cases of which the model called thirty patent: the sensitivity floor alert
    /// opens in the database, is posted once to the webhook as JSON, is not posted again on the next
    /// evaluation, and is resolved once its cases are out of every window.
    func testMonitorRaisesPostsAndResolvesAlerts() async throws {
        let store = try SQLiteJobStore(path: dir.appendingPathComponent("q.sqlite").path)
        let now = Date()
        let user = try await store.addUser(name: "rev", role: .reviewer, passwordHash: "x", now: now)
        var cases: [ReviewCase] = []
        var verdicts: [VerdictImport] = []
        for i in 0..<40 {
            let decided = now.addingTimeInterval(-Double(i) * 3600)
            let said: CaseDecision = i < 30 ? .patent : .blocked
            cases.append(ReviewCase(jobID: Int64(i + 1), seriesKey: "s\(i)", studyInstanceUID: "1.2.3.\(i)", seriesInstanceUID: "1.2.4.\(i)",
                                    decidedAt: decided, decision: said, pBlocked: said == .blocked ? 0.9 : 0.1, site: "North",
                                    manufacturer: "Acme", frameCount: 30, worklistReason: .auditSample, samplingProbability: 1))
            verdicts.append(VerdictImport(caseJobID: Int64(i + 1), userID: user.id, verdict: .blocked, comment: nil, at: decided.addingTimeInterval(60)))
        }
        _ = try await store.recordCases(cases)
        _ = try await store.importVerdicts(verdicts)

        let port = try FreePort.find()
        let received = dir.appendingPathComponent("webhook.jsonl")
        let receiver = try Self.startReceiver(port: port, output: received)
        defer { Self.stop(receiver) }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let monitor = AlertMonitor(store: store, reference: nil, intervalSeconds: 60, webhook: "http://127.0.0.1:\(port)/hook",
                                   site: "North", http: http, logger: Logger(label: "test"))
        let report = try await monitor.evaluate(now: now)
        let floor = try XCTUnwrap(report.conditions.first { $0.kind == "sensitivity_floor" && $0.group == "overall" },
                                  "conditions: \(report.conditions.map { "\($0.kind) \($0.group)" })")
        XCTAssertLessThan(floor.value, 0.8)
        let open = try await store.alerts(states: [.open], limit: 100)
        XCTAssertTrue(open.contains { $0.kind == "sensitivity_floor" && $0.scope == "overall" })
        XCTAssertTrue(report.alerts.contains { $0.kind == "sensitivity_floor" && $0.state == "open" })

        let posted = try String(contentsOf: received, encoding: .utf8).split(separator: "\n")
        let payloads = try posted.map { try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(payloads.count, open.count, "one POST per new alert")
        let first = try XCTUnwrap(payloads.first { $0["kind"] as? String == "sensitivity_floor" && $0["group"] as? String == "overall" })
        XCTAssertEqual(first["event"] as? String, "alert_opened")
        XCTAssertEqual(first["site"] as? String, "North")
        XCTAssertFalse(posted.joined().contains("1.2.3."), "no UIDs in the payload")

        _ = try await monitor.evaluate(now: now.addingTimeInterval(60))
        let again = try String(contentsOf: received, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(again.count, posted.count, "an alert still open is not posted again")

        _ = try await monitor.evaluate(now: now.addingTimeInterval(400 * 86_400))
        let stillOpen = try await store.alerts(states: [.open, .acknowledged], limit: 100)
        XCTAssertTrue(stillOpen.isEmpty, "every alert resolved once its cases left the windows: \(stillOpen.map(\.kind))")
        let audit = try await store.auditEvents(limit: 100)
        XCTAssertTrue(audit.contains { $0.action == "alert_opened" && $0.actor == "system" })
        try await http.shutdown()
        try await store.close()
    }

    /// A verdict whose verified SR could not be sent (the STOW-RS destination answers 503) stays pending; the
    /// sweep does not hammer the destination before the backoff pause, sends it once the destination is back
    /// (VerificationFlag VERIFIED, the reviewer as verifying observer), notes its UID on the verdict, and then
    /// has nothing left to send.
    func testPendingVerifiedReportIsSentOnceTheDestinationIsBack() async throws {
        let store = try SQLiteJobStore(path: dir.appendingPathComponent("q.sqlite").path)
        let now = Date()
        let source = dir.appendingPathComponent("source.dcm")
        try ServiceFixtures.sample("case_0001_native.dcm", to: source)
        let dataset = try DICOMFile(url: source).dataset
        let algorithm = AlgorithmIdentification(name: "dsa-triage vessel patency", version: "test",
                                                modelFingerprint: "sha256:" + String(repeating: "1", count: 64), adapterFingerprint: nil,
                                                profileName: "default", profileHash: "sha256:" + String(repeating: "3", count: 64))
        let input = PatencyReportInput(source: dataset, evidence: [try SourceInstance(dataset: dataset, frameNumbers: [1, 2])],
                                       decision: .patent, pBlocked: 0.1, reasons: ["P(blocked) 0.1 < threshold 0.5"],
                                       algorithm: algorithm, jobKey: "job-key-pending", contentDateTime: now)
        let archive = ReviewArchive(folder: dir.appendingPathComponent("review"))
        try archive.save(jobID: 1, input: input, sourceFile: source)
        let unverified = try archive.report(jobID: 1)
        let user = try await store.addUser(name: "rev", role: .reviewer, passwordHash: "x", now: now)
        _ = try await store.recordCase(ReviewCase(jobID: 1, seriesKey: "s1", studyInstanceUID: dataset.string(.studyInstanceUID) ?? "1.2",
                                                  seriesInstanceUID: dataset.string(.seriesInstanceUID) ?? "1.3", decidedAt: now,
                                                  decision: .patent, pBlocked: 0.1, worklistReason: .auditSample, samplingProbability: 0.02,
                                                  reportSOPInstanceUID: unverified.sopInstanceUID))
        let verdict = try await store.addVerdict(caseJobID: 1, userID: user.id, verdict: .blocked, comment: "late filling", now: now)

        let port = try FreePort.find()
        let received = dir.appendingPathComponent("stow.log")
        let down = dir.appendingPathComponent("down")
        FileManager.default.createFile(atPath: down.path, contents: nil)
        let receiver = try Self.startReceiver(port: port, output: received, downFlag: down)
        defer { Self.stop(receiver) }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let sender = VerifiedReportSender(archive: archive, destination: .dicomweb(base: "http://127.0.0.1:\(port)", http: http, authorization: nil),
                                          store: store, organization: "North", attempts: 1, logger: Logger(label: "test"))
        let backoff = VerifiedReportBackoff(base: 60, maximum: 3600)

        let first = try await sender.sendPending(now: now, backoff: backoff)
        XCTAssertEqual(first, 0)
        let pending = try await store.verdicts(caseJobID: 1)
        XCTAssertNil(pending.first?.verifiedReportSOPInstanceUID)
        XCTAssertEqual(try Self.posts(received).count, 1, "one refused attempt")

        let tooSoon = try await sender.sendPending(now: now.addingTimeInterval(30), backoff: backoff)
        XCTAssertEqual(tooSoon, 0)
        XCTAssertEqual(try Self.posts(received).count, 1, "no attempt inside the backoff pause")

        try FileManager.default.removeItem(at: down)
        let later = try await sender.sendPending(now: now.addingTimeInterval(61), backoff: backoff)
        XCTAssertEqual(later, 1)
        let posts = try Self.posts(received)
        XCTAssertEqual(posts.count, 2)
        let stored = try await store.verdicts(caseJobID: 1)
        let uid = try XCTUnwrap(stored.first { $0.id == verdict.id }?.verifiedReportSOPInstanceUID)
        XCTAssertNotEqual(uid, unverified.sopInstanceUID)
        // The body is multipart/related with one DICOM part: find the Part 10 preamble's DICM and parse from there.
        let body = posts[1]
        let dicm = try XCTUnwrap(body.range(of: Data("DICM".utf8)))
        let start = dicm.lowerBound - 128
        let end = body.range(of: Data("\r\n--".utf8), in: dicm.upperBound..<body.endIndex)?.lowerBound ?? body.endIndex
        let sr = try DICOMFile(data: Data(body[start..<end])).dataset
        XCTAssertEqual(sr.string(.sopInstanceUID), uid)
        XCTAssertEqual(sr.string(DICOMTag(0x0040, 0xA493))?.trimmingCharacters(in: .whitespaces), "VERIFIED")

        let nothing = try await sender.sendPending(now: now.addingTimeInterval(4000), backoff: backoff)
        XCTAssertEqual(nothing, 0)
        XCTAssertEqual(try Self.posts(received).count, 2)
        try await http.shutdown()
        try await store.close()
    }

    /// The STOW receiver's log: one base64 line per POST body.
    static func posts(_ url: URL) throws -> [Data] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { try XCTUnwrap(Data(base64Encoded: String($0))) }
    }

    /// Stops the receiver with SIGKILL: the child inherits the test process's blocked signal mask, so SIGTERM
    /// (Process.terminate) is never delivered; and Process.waitUntilExit spins Foundation's run loop, which
    /// hangs inside an async test.
    static func stop(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
    }

    /// A one-file HTTP receiver: every POST body becomes a line of `output`.
    /// With `downFlag`, it answers 503 while that file exists, and logs each body base64-encoded (binary DICOM).
    static func startReceiver(port: Int, output: URL, downFlag: URL? = nil) throws -> Process {
        let script = """
        import base64, http.server, os, sys
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
                flag = sys.argv[3] if len(sys.argv) > 3 else ''
                with open(sys.argv[2], 'ab') as f: f.write((base64.b64encode(body) if flag else body) + b'\\n')
                if flag and os.path.exists(flag):
                    self.send_response(503); self.send_header('Content-Length', '0'); self.end_headers(); return
                answer = b'{}' if flag else b''
                self.send_response(200 if flag else 204)
                if flag: self.send_header('Content-Type', 'application/dicom+json')
                self.send_header('Content-Length', str(len(answer))); self.end_headers(); self.wfile.write(answer)
            def log_message(self, *a): pass
        http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
        """
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, "\(port)", output.path] + (downFlag.map { [$0.path] } ?? [])
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Ready once it accepts a TCP connection.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { break }
            usleep(100_000)
        }
        return p
    }
}
