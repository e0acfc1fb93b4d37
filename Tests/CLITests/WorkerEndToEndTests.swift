import Foundation
import TestSupport
import XCTest

/// `dsa-triage serve` against a real Orthanc (Debian's package, started by the test on loopback ports):
/// series sent by C-STORE (dcmtk's storescu) are triaged once with the demo model, out-of-scope and
/// pediatric series are skipped with their reasons, SRs land in Orthanc under the right studies and pass
/// dciodvfy, the decisions equal `dsa-triage triage`'s on the same files, and no planted identifier
/// appears in any log line, metric or API answer.
final class WorkerEndToEndTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try CLI.tempDir()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private var demoModel: String { CLI.packageRoot.appendingPathComponent("models/demo").path }

    func testSeriesThroughOrthancAreTriagedOnceWithSRsBack() throws {
        let orthanc = try OrthancServer(stableAge: 1)
        defer { orthanc.stop(); orthanc.removeFolder() }
        let input = folder.appendingPathComponent("send")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        // Three adult XA runs (three studies), one pediatric XA run, one CT.
        // (storescu cannot offer RLE, so the RLE-coded samples stay out.)
        let adults = ["case_0001_subtracted.dcm", "case_0003_subtracted.dcm", "case_0002_subtracted.dcm"]
        for name in adults { try PlantedSeries.make(sample: name, to: input.appendingPathComponent(name)) }
        let child = input.appendingPathComponent("child.dcm")
        try PlantedSeries.make(sample: "case_0004_subtracted.dcm", to: child, birthDate: "20050101", newUIDs: true)
        let ct = input.appendingPathComponent("ct.dcm")
        try PlantedSeries.make(sample: "case_0001_native.dcm", to: ct, newUIDs: true,
                               extra: ["-m", "(0008,0016)=1.2.840.10008.5.1.4.1.1.2", "-m", "(0008,0060)=CT"])
        let files = adults.map { input.appendingPathComponent($0).path } + [child.path, ct.path]
        let sent = try orthanc.storescu(files)
        XCTAssertEqual(sent.status, 0, sent.output)

        // What `dsa-triage triage` decides on the same files.
        var expected: [String: String] = [:]
        for name in adults {
            let r = try CLI.run(["triage", "--model", demoModel, input.appendingPathComponent(name).path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            expected[try XCTUnwrap(record["series_uid_hash"] as? String)] = try XCTUnwrap(record["decision"] as? String)
        }

        let worker = try WorkerProcess(arguments: [
            "--model", demoModel, "--db", "sqlite:" + folder.appendingPathComponent("queue.sqlite").path,
            "--spool", folder.appendingPathComponent("spool").path, "--listen", "127.0.0.1:0",
            "--orthanc", orthanc.baseURL, "--destination", "orthanc", "--settle-seconds", "1", "--poll-seconds", "0.3",
            "--sweep-seconds", "5", "--audit-fraction-patent", "1", "--audit-fraction-blocked", "1", "--site", "E2E site",
            "--monitor-interval-seconds", "2",
        ], logFile: folder.appendingPathComponent("worker.log"))
        try worker.waitUntilListening()
        let jobs = try worker.waitForFinishedJobs(5, timeout: 300)
        XCTAssertEqual(jobs.count, 5, "one job per series: \(jobs)")

        var done = 0, pediatric = 0, outOfScope = 0
        var apiText = ""
        for job in jobs {
            let id = try XCTUnwrap(job["id"] as? Int)
            let (status, data) = try worker.get("/api/v1/jobs/\(id)")
            XCTAssertEqual(status, 200)
            apiText += String(decoding: data, as: UTF8.self)
            let detail = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            switch job["state"] as? String {
            case "done":
                done += 1
                let result = try XCTUnwrap(detail["result"] as? [String: Any])
                let record = try XCTUnwrap(result["record"] as? [String: Any])
                let hash = try XCTUnwrap(record["series_uid_hash"] as? String)
                XCTAssertEqual(record["decision"] as? String, expected[hash], "the worker and `triage` disagree on \(hash)")
                let sr = try XCTUnwrap(result["structured_report"] as? [String: Any])
                XCTAssertEqual(sr["destination"] as? String, "orthanc")
            case "skipped":
                let reason = job["skip_reason"] as? String ?? ""
                if reason == "pediatric: not validated" { pediatric += 1 }
                if reason.contains("out-of-scope") { outOfScope += 1 }
            default:
                XCTFail("job \(id) ended \(job["state"] ?? "?"): \(job["last_error"] ?? "")")
            }
        }
        XCTAssertEqual(done, 3)
        XCTAssertEqual(pediatric, 1)
        XCTAssertEqual(outOfScope, 1)

        // One SR per triaged study, dciodvfy-clean, with the decision the API reports.
        let studies = try XCTUnwrap(try orthanc.json("/studies") as? [String])
        var srCount = 0
        for study in studies {
            let series = try XCTUnwrap(try orthanc.json("/studies/\(study)/series") as? [[String: Any]])
            let srs = series.filter { (($0["MainDicomTags"] as? [String: Any])?["Modality"] as? String) == "SR" }
            let hasXA = series.contains { (($0["MainDicomTags"] as? [String: Any])?["Modality"] as? String) == "XA" }
            let pediatricStudy = series.contains { s in
                ((s["Instances"] as? [String]) ?? []).contains { inst in
                    ((try? orthanc.json("/instances/\(inst)/simplified-tags")) as? [String: Any])?["PatientBirthDate"] as? String == "20050101"
                }
            }
            if hasXA && !pediatricStudy { XCTAssertEqual(srs.count, 1, "one SR in a triaged study") } else { XCTAssertEqual(srs.count, 0) }
            for s in srs {
                for instance in (s["Instances"] as? [String]) ?? [] {
                    srCount += 1
                    let (status, bytes) = try orthanc.request("GET", "/instances/\(instance)/file")
                    XCTAssertEqual(status, 200)
                    let file = folder.appendingPathComponent("sr-\(srCount).dcm")
                    try bytes.write(to: file)
                    let v = try ExternalTool.run("dciodvfy", [file.path], package: "dicom3tools")
                    let errors = v.output.split(separator: "\n").filter { $0.hasPrefix("Error") }
                    XCTAssertTrue(errors.isEmpty, "dciodvfy: \(errors.joined(separator: "\n"))")
                    let tags = try XCTUnwrap(try orthanc.json("/instances/\(instance)/simplified-tags") as? [String: Any])
                    XCTAssertEqual(tags["PatientID"] as? String, PlantedSeries.patientID, "the SR is filed under the same patient")
                    XCTAssertEqual(tags["VerificationFlag"] as? String, "UNVERIFIED")
                }
            }
        }
        XCTAssertEqual(srCount, 3)

        // A reviewer adjudicates one case in the pages; a verified SR follows it into Orthanc.
        let pages = try reviewAndVerify(worker: worker, orthanc: orthanc, studies: studies)

        // No identifier anywhere the worker speaks.
        let (metricsStatus, metrics) = try worker.get("/metrics")
        XCTAssertEqual(metricsStatus, 200)
        let metricsText = String(decoding: metrics, as: UTF8.self)
        XCTAssertTrue(metricsText.contains("dsa_triage_jobs_total"), metricsText)
        apiText += String(decoding: try worker.get("/api/v1/jobs?limit=1000").1, as: UTF8.self)
        let log = worker.log
        for planted in PlantedSeries.all {
            XCTAssertFalse(log.contains(planted), "log holds \(planted)")
            XCTAssertFalse(metricsText.contains(planted), "metrics hold \(planted)")
            XCTAssertFalse(apiText.contains(planted), "API holds \(planted)")
            XCTAssertFalse(pages.contains(planted), "a review page or export holds \(planted)")
        }
        for line in log.split(separator: "\n") {
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(line.utf8)), "not a JSON log line: \(line)")
        }
        XCTAssertEqual(worker.terminate(timeout: 60), 0, "graceful shutdown on SIGTERM")
        XCTAssertTrue(metricsText.contains("dsa_triage_monitor_open_alerts"), "monitoring gauges exported")
        print("end to end: \(jobs.count) jobs, \(done) done, \(pediatric) pediatric, \(outOfScope) out of scope, \(srCount) SRs in Orthanc")
    }

    /// Adds a reviewer with `dsa-triage users add`, signs in, checks the worklist holds the three triaged cases
    /// (audit fraction 1), records a verdict with a comment, and waits for the verified SR in Orthanc:
    /// dciodvfy-clean, VERIFIED, the reviewer as verifying observer, the reviewer's reading in its content.
    /// Returns every page and export read, for the identifier check.
    private func reviewAndVerify(worker: WorkerProcess, orthanc: OrthancServer, studies: [String]) throws -> String {
        let db = "sqlite:" + folder.appendingPathComponent("queue.sqlite").path
        let passwordFile = folder.appendingPathComponent("reviewer-password")
        try "correct horse battery staple\n".write(to: passwordFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passwordFile.path)
        let added = try CLI.run(["users", "add", "--db", db, "--name", "rev.one", "--role", "reviewer", "--password-file", passwordFile.path])
        XCTAssertEqual(added.status, 0, added.stderr)
        let session = ReviewSession(baseURL: worker.baseURL, folder: folder)
        XCTAssertEqual(try session.get("/worklist").0, 303, "the worklist needs a session")
        try session.signIn(name: "rev.one", password: "correct horse battery staple")
        let (status, worklist) = try session.get("/worklist")
        XCTAssertEqual(status, 200)
        var all = worklist
        let ids = worklist.components(separatedBy: "href=\"/cases/").dropFirst().compactMap { Int64($0.prefix { $0.isNumber }) }
        XCTAssertEqual(Set(ids).count, 3, "the three triaged cases are on the worklist: \(ids)")
        let id = try XCTUnwrap(ids.first)
        let (caseStatus, casePage) = try session.get("/cases/\(id)")
        XCTAssertEqual(caseStatus, 200)
        all += casePage
        let token = try XCTUnwrap(ReviewSession.csrf(in: casePage))
        let (posted, _) = try session.post("/cases/\(id)/verdict", [("csrf", token), ("verdict", "blocked"), ("comment", "occlusion confirmed")])
        XCTAssertEqual(posted, 303, "verdict answered \(posted)")
        all += try session.get("/cases/\(id)").1
        all += try session.get("/dashboard").1
        all += try session.get("/dashboard/export.json").1
        all += try session.get("/dashboard/export.csv").1

        // The verified SR: one more SR instance in the case's study, VERIFIED.
        let deadline = Date().addingTimeInterval(60)
        var verified: [String] = []
        while verified.isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            for study in studies {
                let series = (try? orthanc.json("/studies/\(study)/series") as? [[String: Any]]) ?? []
                for s in series where ((s["MainDicomTags"] as? [String: Any])?["Modality"] as? String) == "SR" {
                    for instance in (s["Instances"] as? [String]) ?? [] {
                        let tags = (try? orthanc.json("/instances/\(instance)/simplified-tags")) as? [String: Any]
                        if tags?["VerificationFlag"] as? String == "VERIFIED" { verified.append(instance) }
                    }
                }
            }
        }
        XCTAssertEqual(verified.count, 1, "one verified SR after one verdict")
        if let instance = verified.first {
            let (status, bytes) = try orthanc.request("GET", "/instances/\(instance)/file")
            XCTAssertEqual(status, 200)
            let file = folder.appendingPathComponent("verified.dcm")
            try bytes.write(to: file)
            let v = try ExternalTool.run("dciodvfy", [file.path], package: "dicom3tools")
            let errors = v.output.split(separator: "\n").filter { $0.hasPrefix("Error") }
            XCTAssertTrue(errors.isEmpty, "dciodvfy on the verified SR: \(errors.joined(separator: "\n"))")
            let dump = try ExternalTool.run("dcmdump", [file.path], package: "dcmtk").output
            XCTAssertTrue(dump.contains("rev.one"), "the reviewer is the verifying observer")
            XCTAssertTrue(dump.contains("Reviewer assessment of vessel patency"), "the reviewer's reading is in the content")
            XCTAssertTrue(dump.contains("occlusion confirmed"), "the comment is in the content")
            XCTAssertTrue(dump.contains(PlantedSeries.patientID), "filed under the same patient")
        }
        return all
    }
}
