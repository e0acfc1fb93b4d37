import Foundation
import TestSupport
import XCTest

/// A `dsa-triage serve` process for a test: its JSON log lines go to a file; the listening port is read
/// from its "listening" line.
final class WorkerProcess {
    let process = Process()
    let logFile: URL
    private(set) var port = 0
    let token: String?

    init(arguments: [String], logFile: URL, token: String? = nil, environment: [String: String] = [:]) throws {
        self.logFile = logFile
        self.token = token
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.executableURL = CLI.binary
        process.arguments = ["serve"] + arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
    }

    /// Waits for the "listening" log line; fails with the log when the process ends first.
    func waitUntilListening(timeout: Double = 120) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            for line in log.split(separator: "\n") where line.contains("\"msg\":\"listening\"") {
                if let data = line.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                   let p = (o["port"] as? Int) ?? (o["port"] as? String).flatMap(Int.init) {
                    port = p
                    return
                }
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw ExternalTool.Missing(description: "the worker did not start listening; its log:\n" + String(log.suffix(4000)))
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func get(_ path: String, token: String? = nil) throws -> (Int, Data) {
        try HTTP.get(baseURL + path, token: token ?? self.token)
    }

    func json(_ path: String) throws -> Any {
        let (status, data) = try get(path)
        guard status == 200 else {
            throw ExternalTool.Missing(description: "GET \(path) answered \(status): \(String(decoding: data, as: UTF8.self))")
        }
        return try JSONSerialization.jsonObject(with: data)
    }

    /// Jobs as the API lists them.
    func jobs() throws -> [[String: Any]] { (try json("/api/v1/jobs?limit=1000") as? [[String: Any]]) ?? [] }

    /// Waits until `count` jobs exist and every one is finished (done, skipped, dead or superseded).
    func waitForFinishedJobs(_ count: Int, timeout: Double) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [[String: Any]] = []
        while Date() < deadline {
            last = (try? jobs()) ?? last
            let finished = last.filter { ["done", "skipped", "dead", "superseded"].contains($0["state"] as? String ?? "") }
            if last.count >= count, finished.count == last.count { return last }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        throw ExternalTool.Missing(description: "jobs not finished in time: \(last.map { "\($0["id"] ?? "?"): \($0["state"] ?? "?")" }); log:\n" + String(log.suffix(4000)))
    }

    /// SIGTERM, then the exit status (nil when it did not exit within `timeout`).
    func terminate(timeout: Double = 60) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func kill9() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { kill9() }
}

/// Synthetic XA runs with planted patient identifiers (which must never surface) from the shipped samples.
enum PlantedSeries {
    static let name = "PLANTEDNAME^Zebulon"
    static let patientID = "PLANTEDID4471"
    static let birthDate = "19510314"
    static let accession = "ACCPLANT77"
    static var all: [String] { [name, "PLANTEDNAME", patientID, birthDate, accession] }

    /// The shipped samples regenerated (same command, same seed) in explicit VR little endian: storescu cannot
    /// offer RLE, and the samples cycle through RLE and JPEG codings.
    static let uncompressedSamples: Result<URL, Error> = Result {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("dsa-worker-samples-\(ProcessInfo.processInfo.processIdentifier)")
        if FileManager.default.fileExists(atPath: out.appendingPathComponent("dicom/case_0004_subtracted.dcm").path) { return out.appendingPathComponent("dicom") }
        try? FileManager.default.removeItem(at: out)
        let r = try CLI.run(["synth", "--out", out.path, "--count", "4", "--prevalence", "0.5", "--seed", "7", "--size", "256", "--frames", "8",
                             "--occlusion-generations", "0-0", "--collaterals", "0", "--transfer-syntax", "explicit-le"])
        guard r.status == 0 else { throw ExternalTool.Missing(description: "synth failed: \(r.stderr)") }
        return out.appendingPathComponent("dicom")
    }

    /// Copies a sample run (explicit VR little endian) and plants identifiers; `newUIDs` gives it fresh
    /// study/series/instance UIDs.
    static func make(sample: String, to url: URL, birthDate: String = birthDate, newUIDs: Bool = false,
                     extra: [String] = []) throws {
        let source = try uncompressedSamples.get().appendingPathComponent(sample)
        try FileManager.default.copyItem(at: source, to: url)
        var args = ["-nb", "-i", "(0010,0010)=\(name)", "-i", "(0010,0020)=\(patientID)", "-i", "(0010,0030)=\(birthDate)",
                    "-i", "(0008,0050)=\(accession)"]
        if newUIDs { args += ["-gst", "-gse", "-gin"] }
        args += extra
        let r = try ExternalTool.run("dcmodify", args + [url.path], package: "dcmtk")
        guard r.status == 0 else { throw ExternalTool.Missing(description: "dcmodify failed: \(r.output)") }
    }
}
