import Foundation
import TestSupport
import XCTest

/// Two `dsa-triage serve` processes share one PostgreSQL queue (Debian's postgresql, started by the test)
/// and one Orthanc: 20 series are triaged exactly once between them, each with one SR; a worker killed
/// while holding a lease has its job taken over by the other once the lease expires.
final class WorkerPostgresTests: XCTestCase {
    func testTwoWorkersShareTheQueueAndTakeOverAKilledWorkersJob() throws {
        let folder = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: folder) }
        let postgres = try PostgresServer()
        defer { postgres.stop() }
        let db = postgres.url(database: try postgres.createDatabase())
        let orthanc = try OrthancServer(stableAge: 1)
        defer { orthanc.stop(); orthanc.removeFolder() }

        let samples = ["case_0001_subtracted.dcm", "case_0002_subtracted.dcm", "case_0003_subtracted.dcm", "case_0004_subtracted.dcm"]
        var files: [String] = []
        for i in 0..<20 {
            let url = folder.appendingPathComponent("s\(i).dcm")
            try PlantedSeries.make(sample: samples[i % 4], to: url, newUIDs: true)
            files.append(url.path)
        }
        func worker(_ name: String, lease: String = "4", destination: String = "orthanc") throws -> WorkerProcess {
            let w = try WorkerProcess(arguments: [
                "--model", CLI.packageRoot.appendingPathComponent("models/demo").path, "--db", db,
                "--spool", folder.appendingPathComponent("spool-\(name)").path, "--listen", "127.0.0.1:0",
                "--orthanc", orthanc.baseURL, "--destination", destination, "--settle-seconds", "0.5", "--poll-seconds", "0.2",
                "--lease-seconds", lease, "--worker-id", name,
            ], logFile: folder.appendingPathComponent("\(name).log"))
            try w.waitUntilListening()
            return w
        }
        let a = try worker("worker-a"), b = try worker("worker-b")
        let sent = try orthanc.storescu(files)
        XCTAssertEqual(sent.status, 0, sent.output)
        let jobs = try a.waitForFinishedJobs(20, timeout: 300)
        XCTAssertEqual(jobs.count, 20, "one job per series although both workers follow the same Orthanc")
        XCTAssertTrue(jobs.allSatisfy { $0["state"] as? String == "done" }, "\(jobs.map { $0["state"] ?? "?" })")
        let started = { (w: WorkerProcess) in w.log.components(separatedBy: "\"msg\":\"job done\"").count - 1 }
        let (doneA, doneB) = (started(a), started(b))
        XCTAssertEqual(doneA + doneB, 20, "every job completed once between the two workers")
        var srs = 0
        for study in try XCTUnwrap(try orthanc.json("/studies") as? [String]) {
            let series = try XCTUnwrap(try orthanc.json("/studies/\(study)/series") as? [[String: Any]])
            let n = series.filter { (($0["MainDicomTags"] as? [String: Any])?["Modality"] as? String) == "SR" }
                .reduce(0) { $0 + (($1["Instances"] as? [String])?.count ?? 0) }
            XCTAssertLessThanOrEqual(n, 1)
            srs += n
        }
        XCTAssertEqual(srs, 20)

        // Takeover: both stop; A comes back with an SR destination that accepts connections but never answers,
        // so it holds job 21's lease (kept alive by its heartbeat) until it is killed; B, restarted, takes the
        // job over once the lease has expired.
        XCTAssertEqual(b.terminate(), 0)
        XCTAssertEqual(a.terminate(), 0)
        let blackhole = try SilentListener()
        let a2 = try worker("worker-a", destination: "http://127.0.0.1:\(blackhole.port)/dicom-web")
        let slow = folder.appendingPathComponent("slow.dcm")
        try PlantedSeries.make(sample: samples[0], to: slow, newUIDs: true)
        _ = try orthanc.storescu([slow.path])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !a2.log.split(separator: "\n").contains(where: { $0.contains("\"msg\":\"job started\"") && $0.contains("\"job\":\"21\"") }) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 6)  // more than a lease: the heartbeat keeps it
        a2.kill9()
        let killedAt = Date()
        let b2 = try worker("worker-b", lease: "4")
        let after = try b2.waitForFinishedJobs(21, timeout: 120)
        let job21 = try XCTUnwrap(after.first { $0["id"] as? Int == 21 })
        XCTAssertEqual(job21["state"] as? String, "done")
        let took = Date().timeIntervalSince(killedAt)
        XCTAssertTrue(b2.log.contains("\"job\":\"21\""), "worker B ran job 21")
        XCTAssertEqual(job21["attempts"] as? Int, 2, "the killed attempt counts")
        XCTAssertGreaterThan(took, 2, "not before the lease expired")
        XCTAssertEqual(b2.terminate(), 0)
        print("postgres: 20 series, worker A completed \(doneA), worker B \(doneB), \(srs) SRs; job 21 taken over \(String(format: "%.1f", took)) s after worker A was killed (lease 4 s), attempts \(job21["attempts"] ?? "?")")
    }
}

/// A TCP listener that never accepts: connections complete in the kernel's backlog and nothing answers.
final class SilentListener {
    let fd: Int32
    let port: Int

    init() throws {
        (fd, port) = try FreePort.bindLoopback(listening: true)
    }

    deinit { close(fd) }
}
