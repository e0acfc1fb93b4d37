import Foundation
import TestSupport
import XCTest

/// Kill -9 soak: series arrive by STOW-RS while the worker is killed with SIGKILL at random points (at least
/// once during an upload and once while the model runs) and restarted. Every acknowledged series must end
/// with exactly one current result and at most one SR in Orthanc; nothing acknowledged may be lost.
final class WorkerSoakTests: XCTestCase {
    func testKilledWorkerLosesNothingAcknowledgedAndSendsOneSRPerSeries() throws {
        let folder = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: folder) }
        let orthanc = try OrthancServer(stableAge: 1)
        defer { orthanc.stop(); orthanc.removeFolder() }
        // 32 series, each its own study, from the samples with fresh UIDs.
        let samples = ["case_0001_subtracted.dcm", "case_0002_subtracted.dcm", "case_0003_subtracted.dcm", "case_0004_subtracted.dcm"]
        var files: [URL] = []
        for i in 0..<32 {
            let url = folder.appendingPathComponent("series-\(i).dcm")
            try PlantedSeries.make(sample: samples[i % 4], to: url, newUIDs: true)
            files.append(url)
        }
        let db = "sqlite:" + folder.appendingPathComponent("queue.sqlite").path
        let spool = folder.appendingPathComponent("spool").path
        let port = try FreePort.find()
        func start(_ n: Int) throws -> WorkerProcess {
            let w = try WorkerProcess(arguments: [
                "--model", CLI.packageRoot.appendingPathComponent("models/demo").path, "--db", db, "--spool", spool,
                "--listen", "127.0.0.1:\(port)", "--orthanc", orthanc.baseURL, "--destination", "orthanc",
                "--settle-seconds", "0.5", "--poll-seconds", "0.2", "--lease-seconds", "3",
            ], logFile: folder.appendingPathComponent("worker-\(n).log"))
            try w.waitUntilListening()
            return w
        }
        var acknowledged = Set<Int>()
        var next = 0
        var kills = 0, killsDuringUpload = 0, killsDuringModel = 0
        var generator = SystemRandomNumberGenerator()
        var run = 0
        var worker = try start(run)
        while next < files.count || kills < 5 {
            // A few uploads, then a kill at a chosen kind of moment.
            let burst = Int.random(in: 2...5, using: &generator)
            for _ in 0..<burst where next < files.count {
                if Stow.send(files[next], to: worker.baseURL) == 200 { acknowledged.insert(next) }
                next += 1
            }
            // Six kills, and more (up to twelve) until one has landed while a job ran.
            guard kills < 6 || (killsDuringModel == 0 && kills < 12) else { continue }
            switch kills >= 6 ? 1 : kills % 3 {
            case 0 where next < files.count:
                // During an upload: the POST is in flight when the process dies; it was not acknowledged.
                let index = next
                next += 1
                let done = DispatchSemaphore(value: 0)
                final class Box: @unchecked Sendable { var status = 0 }
                let box = Box()
                let url = files[index], base = worker.baseURL
                DispatchQueue.global().async { box.status = Stow.send(url, to: base, slowly: true); done.signal() }
                Thread.sleep(forTimeInterval: 0.3)
                worker.kill9()
                done.wait()
                if box.status == 200 { acknowledged.insert(index) }
                killsDuringUpload += 1
            case 1:
                // While the model runs: wait for a "job started" without its "job done".
                // Counted only when the log shows a job in progress at the moment of the kill.
                let deadline = Date().addingTimeInterval(20)
                var caught = false
                while Date() < deadline {
                    let log = worker.log
                    func count(_ message: String) -> Int { log.components(separatedBy: "\"msg\":\"\(message)").count - 1 }
                    if count("job started") > count("job done") + count("job skipped") + count("job failed") + count("lease lost") {
                        caught = true
                        break
                    }
                    Thread.sleep(forTimeInterval: 0.005)
                }
                worker.kill9()
                if caught { killsDuringModel += 1 }
            default:
                Thread.sleep(forTimeInterval: Double.random(in: 0.1...1.5, using: &generator))
                worker.kill9()
            }
            kills += 1
            run += 1
            worker = try start(run)
        }
        // The last worker finishes everything.
        let deadline = Date().addingTimeInterval(300)
        var results: [Int: [String: Any]] = [:]
        while Date() < deadline, results.count < acknowledged.count {
            for i in acknowledged where results[i] == nil {
                let uid = try XCTUnwrap(try dicomString(files[i], "0020,000e"))
                let (status, data) = try worker.get("/api/v1/series/\(uid)")
                if status == 200, let o = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                   let job = (o["job"] as? [String: Any]) ?? o as [String: Any]?, job["state"] as? String == "done" {
                    results[i] = job
                }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTAssertEqual(results.count, acknowledged.count, "every acknowledged series has a current, done result")
        // At most one SR per series (each series is its own study), exactly one for those triaged.
        var srs = 0, studiesWithTwo = 0
        for study in try XCTUnwrap(try orthanc.json("/studies") as? [String]) {
            let series = try XCTUnwrap(try orthanc.json("/studies/\(study)/series") as? [[String: Any]])
            let n = series.filter { (($0["MainDicomTags"] as? [String: Any])?["Modality"] as? String) == "SR" }
                .reduce(0) { $0 + (($1["Instances"] as? [String])?.count ?? 0) }
            srs += n
            if n > 1 { studiesWithTwo += 1 }
        }
        XCTAssertEqual(studiesWithTwo, 0, "no series has two SRs")
        XCTAssertEqual(srs, acknowledged.count, "one SR per acknowledged series")
        XCTAssertGreaterThanOrEqual(kills, 5)
        XCTAssertGreaterThanOrEqual(killsDuringUpload, 1)
        XCTAssertGreaterThanOrEqual(killsDuringModel, 1)
        XCTAssertEqual(worker.terminate(), 0)
        print("soak: \(files.count) series offered, \(acknowledged.count) acknowledged, \(results.count) with one current result, \(srs) SRs in Orthanc, \(kills) kills (\(killsDuringUpload) during an upload, \(killsDuringModel) while the model ran)")
    }

    private func dicomString(_ url: URL, _ tag: String) throws -> String? {
        let r = try ExternalTool.run("dcmdump", ["+P", tag, "-q", url.path], package: "dcmtk")
        guard let open = r.output.firstIndex(of: "["), let close = r.output.firstIndex(of: "]") else { return nil }
        return String(r.output[r.output.index(after: open)..<close])
    }
}

/// A STOW-RS client for the tests: one file per request, multipart/related.
enum Stow {
    static func body(_ files: [Data], boundary: String) -> Data {
        var body = Data()
        for f in files {
            body.append(Data("--\(boundary)\r\nContent-Type: application/dicom\r\n\r\n".utf8))
            body.append(f)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return body
    }

    /// The HTTP status (0 when the connection failed), through curl; `slowly` limits the upload rate so the
    /// request is still in flight a while later.
    static func send(_ file: URL, to base: String, slowly: Bool = false, token: String? = nil) -> Int {
        guard let data = try? Data(contentsOf: file) else { return 0 }
        let boundary = "soak-\(UUID().uuidString)"
        let bodyFile = file.deletingLastPathComponent().appendingPathComponent(".body-\(UUID().uuidString)")
        guard (try? body([data], boundary: boundary).write(to: bodyFile)) != nil else { return 0 }
        defer { try? FileManager.default.removeItem(at: bodyFile) }
        var args = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                    "-H", "Content-Type: multipart/related; type=\"application/dicom\"; boundary=\(boundary)",
                    "-H", "Expect:", "--data-binary", "@" + bodyFile.path, base + "/dicom-web/studies"]
        if slowly { args += ["--limit-rate", "40k"] }
        if let token { args += ["-H", "Authorization: Bearer \(token)"] }
        guard let r = try? ExternalTool.run("curl", args, package: "curl") else { return 0 }
        return Int(r.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }
}
