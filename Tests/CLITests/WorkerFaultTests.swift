import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import XCTest

/// The worker under bad input and failing neighbours: STOW-RS bodies with bad parts, an Orthanc that is
/// down and comes up later, a destination that refuses SRs, a database held locked — clear log lines,
/// retries, no crash, nothing acknowledged lost. Also its security defaults.
final class WorkerFaultTests: XCTestCase {
    private var folder: URL!
    override func setUpWithError() throws { folder = try CLI.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private var demoModel: String { CLI.packageRoot.appendingPathComponent("models/demo").path }

    private func start(_ extra: [String], name: String = "worker", token: String? = nil) throws -> WorkerProcess {
        let w = try WorkerProcess(arguments: [
            "--model", demoModel, "--db", "sqlite:" + folder.appendingPathComponent("queue.sqlite").path,
            "--spool", folder.appendingPathComponent("spool").path, "--settle-seconds", "0.5", "--poll-seconds", "0.2",
        ] + extra, logFile: folder.appendingPathComponent("\(name).log"), token: token)
        try w.waitUntilListening()
        return w
    }

    func testStowWithBadPartsTokensAndTheSpool() throws {
        let tokenFile = folder.appendingPathComponent("tokens")
        let token = "t0k3n-" + UUID().uuidString
        try ("# worker tokens\n" + token + "\n").write(to: tokenFile, atomically: true, encoding: .utf8)
        chmod(tokenFile.path, 0o600)
        let w = try start(["--listen", "127.0.0.1:0", "--token-file", tokenFile.path, "--destination", "none"], token: token)
        // No token, a wrong token: 401; /healthz stays open.
        XCTAssertEqual(try HTTP.get(w.baseURL + "/api/v1/jobs").0, 401)
        XCTAssertEqual(try HTTP.get(w.baseURL + "/api/v1/jobs", token: token + "x").0, 401)
        XCTAssertEqual(try HTTP.get(w.baseURL + "/healthz").0, 200)
        XCTAssertEqual(try w.get("/readyz").0, 200)

        let good1 = folder.appendingPathComponent("g1.dcm"), good2 = folder.appendingPathComponent("g2.dcm")
        try PlantedSeries.make(sample: "case_0001_subtracted.dcm", to: good1, newUIDs: true)
        try PlantedSeries.make(sample: "case_0003_subtracted.dcm", to: good2, newUIDs: true)
        let truncated = try Data(contentsOf: good2).prefix(3000)
        let parts = [try Data(contentsOf: good1), Data("this is not DICOM".utf8), truncated, try Data(contentsOf: good2)]
        let (status, body) = try post(w, parts, token: token)
        XCTAssertEqual(status, 202, String(decoding: body, as: UTF8.self))
        let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let referenced = ((answer["00081199"] as? [String: Any])?["Value"] as? [[String: Any]]) ?? []
        let failed = ((answer["00081198"] as? [String: Any])?["Value"] as? [[String: Any]]) ?? []
        XCTAssertEqual(referenced.count, 2)
        XCTAssertEqual(failed.count, 2)
        for item in failed {
            let reason = ((item["00081197"] as? [String: Any])?["Value"] as? [Int])?.first
            XCTAssertEqual(reason, 0xC000, "\(item)")
        }
        // Every acknowledged instance is in the spool, byte for byte.
        let spooled = try FileManager.default.subpathsOfDirectory(atPath: folder.appendingPathComponent("spool/series").path)
            .filter { $0.hasSuffix(".dcm") }.map { try Data(contentsOf: folder.appendingPathComponent("spool/series/" + $0)) }
        XCTAssertEqual(Set(spooled), Set([parts[0], parts[3]]))
        // A body that is not multipart DICOM.
        var req = URLRequest(url: URL(string: w.baseURL + "/dicom-web/studies")!)
        req.httpMethod = "POST"
        req.httpBody = Data("{}".utf8)
        req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        XCTAssertEqual(try HTTP.send(req).0, 415)
        // The two good series become jobs and finish (destination none: no SR).
        let jobs = try w.waitForFinishedJobs(2, timeout: 120)
        XCTAssertEqual(jobs.filter { $0["state"] as? String == "done" }.count, 2)
        XCTAssertEqual(w.terminate(), 0)
        for planted in PlantedSeries.all { XCTAssertFalse(w.log.contains(planted)) }
    }

    func testNonLoopbackListenWithoutTokensIsRefused() throws {
        let r = try CLI.run(["serve", "--model", demoModel, "--db", "sqlite:" + folder.appendingPathComponent("q.sqlite").path,
                             "--spool", folder.appendingPathComponent("spool").path, "--listen", "0.0.0.0:0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("refusing to listen on 0.0.0.0 without authentication"), r.stderr)
        let missing = try CLI.run(["serve", "--model", demoModel, "--spool", folder.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("missing --db"), missing.stderr)
        let printed = try CLI.run(["serve", "--print-default-config"])
        XCTAssertEqual(printed.status, 0)
        let file = folder.appendingPathComponent("worker.json")
        try printed.stdout.write(to: file, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["serve", "--config", file.path, "--settle-seconds=-1"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--settle-seconds -1.0: expected zero or more"), bad.stderr)
    }

    func testOrthancDownThenUpAndARefusingDestinationEndDeadThenRetried() throws {
        let port = try FreePort.find()
        let w = try start(["--listen", "127.0.0.1:0", "--orthanc", "http://127.0.0.1:\(port)",
                           "--destination", "http://127.0.0.1:\(port)/no-dicomweb-here", "--max-attempts", "2",
                           "--retry-base-seconds", "0.5", "--retry-max-seconds", "0.5", "--sweep-seconds", "1"])
        // Orthanc down: ready says so, the log says it once, the worker keeps running.
        Thread.sleep(forTimeInterval: 1.5)
        let (readyStatus, ready) = try w.get("/readyz")
        XCTAssertEqual(readyStatus, 503, String(decoding: ready, as: UTF8.self))
        XCTAssertEqual(w.log.components(separatedBy: "Orthanc source failing").count - 1, 1, "one line while it is down")
        XCTAssertTrue(w.process.isRunning)
        // Orthanc comes up on that port; a series arrives; the SR destination (Orthanc has no DICOMweb plugin) refuses.
        let orthanc = try OrthancServer(stableAge: 1, httpPort: port)
        defer { orthanc.stop(); orthanc.removeFolder() }
        let file = folder.appendingPathComponent("s.dcm")
        try PlantedSeries.make(sample: "case_0001_subtracted.dcm", to: file, newUIDs: true)
        XCTAssertEqual(try orthanc.storescu([file.path]).status, 0)
        let jobs = try w.waitForFinishedJobs(1, timeout: 120)
        XCTAssertEqual(jobs.first?["state"] as? String, "dead")
        XCTAssertTrue((jobs.first?["last_error"] as? String ?? "").contains("SR not delivered"), "\(jobs)")
        XCTAssertTrue(w.log.contains("Orthanc reachable again"))
        XCTAssertEqual(w.terminate(), 0)
        // The operator retries the dead letter; a worker with a working destination finishes it with one SR.
        let db = "sqlite:" + folder.appendingPathComponent("queue.sqlite").path
        let list = try CLI.run(["queue", "list", "--db", db, "--state", "dead"])
        XCTAssertEqual(list.stdout.split(separator: "\n").count, 1, list.stdout + list.stderr)
        let retry = try CLI.run(["queue", "retry", "--db", db, "--all-dead"])
        XCTAssertEqual(retry.status, 0, retry.stderr)
        XCTAssertTrue(retry.stdout.contains("pending"), retry.stdout)
        let w2 = try start(["--listen", "127.0.0.1:0", "--orthanc", orthanc.baseURL, "--destination", "orthanc"], name: "worker2")
        let after = try w2.waitForFinishedJobs(1, timeout: 120)
        XCTAssertEqual(after.first?["state"] as? String, "done")
        let status = try CLI.run(["queue", "status", "--db", db, "--json"])
        let counts = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Int])
        XCTAssertEqual(counts["done"], 1)
        XCTAssertEqual(counts["dead"], 0)
        XCTAssertEqual(w2.terminate(), 0)
    }

    func testALockedDatabaseDelaysButLosesNothing() throws {
        let w = try start(["--listen", "127.0.0.1:0", "--destination", "none"])
        // Another process holds SQLite's write lock for longer than the store's busy timeout.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute('BEGIN EXCLUSIVE')
            print('locked', flush=True)
            time.sleep(13)
            c.execute('COMMIT')
            """, folder.appendingPathComponent("queue.sqlite").path]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        _ = out.fileHandleForReading.availableData  // "locked"
        let file = folder.appendingPathComponent("s.dcm")
        try PlantedSeries.make(sample: "case_0003_subtracted.dcm", to: file, newUIDs: true)
        let status = Stow.send(file, to: w.baseURL)
        XCTAssertEqual(status, 200, "STOW-RS only needs the spool")
        holder.waitUntilExit()
        let jobs = try w.waitForFinishedJobs(1, timeout: 120)
        XCTAssertEqual(jobs.first?["state"] as? String, "done")
        XCTAssertTrue(w.process.isRunning)
        XCTAssertTrue(w.log.contains("database is locked") || w.log.contains("will retry"), String(w.log.suffix(3000)))
        XCTAssertEqual(w.terminate(), 0)
    }

    private func post(_ w: WorkerProcess, _ parts: [Data], token: String) throws -> (Int, Data) {
        let boundary = "b-\(UUID().uuidString)"
        var req = URLRequest(url: URL(string: w.baseURL + "/dicom-web/studies")!)
        req.httpMethod = "POST"
        req.httpBody = Stow.body(parts, boundary: boundary)
        req.setValue("multipart/related; type=\"application/dicom\"; boundary=\(boundary)", forHTTPHeaderField: "Content-Type")
        req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        return try HTTP.send(req)
    }
}
