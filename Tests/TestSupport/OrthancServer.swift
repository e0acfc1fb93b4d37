import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A private Orthanc (Debian's `orthanc` package) for one test: its own folder, free ports, the HTTP API
/// accepting loopback only (RemoteAccessAllowed false) and C-STORE accepted only from the AE title
/// DSASCU at 127.0.0.1. The configuration is `Tests/Fixtures/orthanc/orthanc-test.json` with the
/// placeholders filled in.
public final class OrthancServer: @unchecked Sendable {
    public let folder: URL
    public let httpPort: Int
    public let dicomPort: Int
    public let user: (name: String, password: String)?
    private let process: Process
    private let logFile: URL

    public var baseURL: String { "http://127.0.0.1:\(httpPort)" }

    /// - Parameter httpPort: the REST port to use (a test that first lets the worker find Orthanc down picks it);
    ///   nil for a free one.
    public init(stableAge: Int = 1, user: (String, String)? = nil, httpPort: Int? = nil) throws {
        guard let exe = ExternalTool.locate("Orthanc") ?? (FileManager.default.isExecutableFile(atPath: "/usr/sbin/Orthanc") ? "/usr/sbin/Orthanc" : nil) else {
            throw ExternalTool.Missing(description: "Orthanc not found: install the package `orthanc` (scripts/bootstrap installs it)")
        }
        folder = ExternalTool.temporaryPath("orthanc")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        self.httpPort = try httpPort ?? FreePort.find()
        dicomPort = try FreePort.find()
        self.user = user
        let template = try String(contentsOf: TestPaths.fixture("orthanc/orthanc-test.json"), encoding: .utf8)
        let config = template
            .replacingOccurrences(of: "@DIR@", with: folder.path)
            .replacingOccurrences(of: "@HTTP_PORT@", with: "\(self.httpPort)")
            .replacingOccurrences(of: "@DICOM_PORT@", with: "\(dicomPort)")
            .replacingOccurrences(of: "@STABLE_AGE@", with: "\(stableAge)")
            .replacingOccurrences(of: "@AUTH@", with: user == nil ? "false" : "true")
            .replacingOccurrences(of: "@USERS@", with: user.map { "\"\($0.0)\" : \"\($0.1)\"" } ?? "")
        let configURL = folder.appendingPathComponent("orthanc.json")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        logFile = folder.appendingPathComponent("orthanc.log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = [configURL.path]
        let log = try FileHandle(forWritingTo: logFile)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let (status, _) = try? request("GET", "/system"), status == 200 { return }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        stop()
        throw ExternalTool.Missing(description: "Orthanc did not start on port \(self.httpPort):\n" + String(text.suffix(2000)))
    }

    deinit { stop() }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Stops the server but keeps its folder (to restart the same Orthanc: `restart()`).
    public var isRunning: Bool { process.isRunning }

    public func removeFolder() { try? FileManager.default.removeItem(at: folder) }

    /// One HTTP request to the REST API (synchronous; for tests).
    public func request(_ method: String, _ path: String, body: Data? = nil, contentType: String? = nil) throws -> (Int, Data) {
        var req = URLRequest(url: URL(string: baseURL + path)!)
        req.httpMethod = method
        req.httpBody = body
        req.timeoutInterval = 30
        if let contentType { req.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        if let user {
            req.setValue("Basic " + Data("\(user.name):\(user.password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        }
        return try HTTP.send(req)
    }

    /// The parsed JSON answer of a GET.
    public func json(_ path: String) throws -> Any {
        let (status, data) = try request("GET", path)
        guard status == 200 else { throw ExternalTool.Missing(description: "Orthanc GET \(path) answered \(status)") }
        return try JSONSerialization.jsonObject(with: data)
    }

    /// Sends files by C-STORE with dcmtk's storescu (AE title DSASCU).
    public func storescu(_ files: [String]) throws -> (status: Int32, output: String) {
        try ExternalTool.run("storescu", ["-aet", "DSASCU", "-aec", "ORTHANC", "127.0.0.1", "\(dicomPort)"] + files, package: "dcmtk")
    }
}

/// Synchronous HTTP for tests (URLSession under a semaphore).
public enum HTTP {
    public static func send(_ request: URLRequest) throws -> (Int, Data) {
        final class Box: @unchecked Sendable { var result: Result<(Int, Data), Error> = .failure(URLError(.unknown)) }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { box.result = .failure(error) } else {
                box.result = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
            }
            done.signal()
        }.resume()
        done.wait()
        return try box.result.get()
    }

    public static func get(_ url: String, token: String? = nil) throws -> (Int, Data) {
        var req = URLRequest(url: URL(string: url)!)
        req.timeoutInterval = 30
        if let token { req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        return try send(req)
    }
}

/// A TCP port nobody listens on right now (bound to port 0 on loopback, then released).
public enum FreePort {
    public static func find() throws -> Int {
        let (fd, port) = try bindLoopback(listening: false)
        close(fd)
        return port
    }

    /// A socket bound to 127.0.0.1 on a port the system picks, listening when asked; the caller closes it.
    public static func bindLoopback(listening: Bool) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ExternalTool.Missing(description: "socket() failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, !listening || listen(fd, 16) == 0 else {
            close(fd)
            throw ExternalTool.Missing(description: listening ? "bind() or listen() failed" : "bind() failed")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }
}
