import AsyncHTTPClient
import FileAccess
import Foundation
import NIOCore

/// Orthanc's REST API, the parts the worker uses: the change feed, series and instance resources,
/// streamed instance downloads, uploads (the SR write-back). Works with Debian's Orthanc 1.10 and later.
/// Basic auth when a user is configured; the password never appears in errors or logs.
public struct OrthancClient: Sendable {
    public let baseURL: String
    private let authorization: String?
    private let http: HTTPClient
    public var timeout: TimeAmount = .seconds(30)

    public init(baseURL: String, user: String?, password: String?, http: HTTPClient) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        if let user {
            authorization = "Basic " + Data("\(user):\(password ?? "")".utf8).base64EncodedString()
        } else {
            authorization = nil
        }
        self.http = http
    }

    public struct Change: Sendable, Equatable {
        public var seq: Int64
        public var changeType: String
        public var resourceID: String
        public var resourceType: String
    }

    public struct Changes: Sendable, Equatable {
        public var changes: [Change]
        public var done: Bool
        public var last: Int64
    }

    public struct Series: Sendable, Equatable {
        public var id: String
        public var seriesInstanceUID: String?
        public var modality: String?
        public var manufacturer: String?
        public var instances: [String]
        /// Orthanc's completeness status ("Complete", "Missing", "Inconsistent", "Unknown").
        public var status: String?
        public var isStable: Bool
        public var expectedInstances: Int?
    }

    public struct Instance: Sendable, Equatable {
        public var id: String
        public var sopInstanceUID: String
        public var frames: Int
    }

    /// GET /changes?since=&limit=.
    public func changes(since: Int64, limit: Int) async throws(OrthancError) -> Changes {
        let object = try await getJSON("/changes?since=\(since)&limit=\(limit)")
        guard let dict = object as? [String: Any], let list = dict["Changes"] as? [[String: Any]] else {
            throw .badResponse(path: "/changes", reason: "no Changes list")
        }
        let changes = list.compactMap { c -> Change? in
            guard let seq = (c["Seq"] as? NSNumber)?.int64Value, let type = c["ChangeType"] as? String,
                  let id = c["ID"] as? String else { return nil }
            return Change(seq: seq, changeType: type, resourceID: id, resourceType: c["ResourceType"] as? String ?? "")
        }
        return Changes(changes: changes, done: dict["Done"] as? Bool ?? true, last: (dict["Last"] as? NSNumber)?.int64Value ?? since)
    }

    /// GET /series/{id}; nil when Orthanc no longer has it.
    public func series(_ id: String) async throws(OrthancError) -> Series? {
        let (status, body) = try await send(request("/series/\(id)"), path: "/series")
        if status == 404 { return nil }
        guard status == 200 else { throw .http(status: status, path: "/series", message: Self.message(body)) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) else {
            throw .badResponse(path: "/series", reason: "not JSON")
        }
        return Self.parseSeries(object, id: id)
    }

    /// GET /series?expand&since=&limit= (the sweep pages through every series).
    public func listSeries(since: Int, limit: Int) async throws(OrthancError) -> [Series] {
        let object = try await getJSON("/series?expand&since=\(since)&limit=\(limit)")
        guard let list = object as? [Any] else { throw .badResponse(path: "/series", reason: "not a list") }
        return list.compactMap { Self.parseSeries($0, id: nil) }
    }

    static func parseSeries(_ object: Any, id: String?) -> Series? {
        guard let d = object as? [String: Any], let sid = id ?? (d["ID"] as? String) else { return nil }
        let tags = d["MainDicomTags"] as? [String: Any] ?? [:]
        return Series(id: sid, seriesInstanceUID: tags["SeriesInstanceUID"] as? String, modality: tags["Modality"] as? String, manufacturer: tags["Manufacturer"] as? String,
                      instances: d["Instances"] as? [String] ?? [], status: d["Status"] as? String,
                      isStable: d["IsStable"] as? Bool ?? false,
                      expectedInstances: (d["ExpectedNumberOfInstances"] as? NSNumber)?.intValue)
    }

    /// GET /series/{id}/instances: each instance's SOP Instance UID and frame count.
    public func instances(ofSeries id: String) async throws(OrthancError) -> [Instance] {
        let object = try await getJSON("/series/\(id)/instances")
        guard let list = object as? [[String: Any]] else { throw .badResponse(path: "/series/…/instances", reason: "not a list") }
        return list.compactMap { d in
            guard let iid = d["ID"] as? String, let tags = d["MainDicomTags"] as? [String: Any],
                  let sop = tags["SOPInstanceUID"] as? String else { return nil }
            let frames = (tags["NumberOfFrames"] as? String).flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 1
            return Instance(id: iid, sopInstanceUID: sop, frames: max(1, frames))
        }
    }

    /// GET /instances/{id}/file streamed into `destination` (fsynced); returns the byte count.
    public func download(instance id: String, to destination: URL) async throws(OrthancError) -> Int64 {
        let path = "/instances/\(id)/file"
        do {
            let response = try await http.execute(request(path), timeout: timeout)
            guard response.status.code == 200 else {
                let body = try await response.body.collect(upTo: 64 * 1024)
                throw OrthancError.http(status: Int(response.status.code), path: path, message: Self.message(body))
            }
            let file = try DurableFile(destination: destination)
            do {
                for try await var chunk in response.body {
                    try chunk.withUnsafeReadableBytes { try file.write($0) }
                    chunk.moveReaderIndex(forwardBy: chunk.readableBytes)
                }
                try file.commit()
            } catch {
                file.discard()
                throw error
            }
            return file.byteCount
        } catch let e as OrthancError {
            throw e
        } catch {
            throw .transport(path: path, reason: "\(error)")
        }
    }

    /// POST /instances (the SR write-back). Returns Orthanc's status ("Success" or "AlreadyStored").
    public func upload(_ dicom: Data) async throws(OrthancError) -> String {
        var req = request("/instances")
        req.method = .POST
        req.headers.add(name: "Content-Type", value: "application/dicom")
        req.body = .bytes(ByteBuffer(bytes: dicom))
        let (status, body) = try await send(req, path: "/instances")
        guard (200..<300).contains(status) else { throw .http(status: status, path: "/instances", message: Self.message(body)) }
        let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))
        return (object as? [String: Any])?["Status"] as? String ?? "Success"
    }

    /// GET /system: reachability and version.
    public func systemVersion() async throws(OrthancError) -> String {
        let object = try await getJSON("/system")
        return ((object as? [String: Any])?["Version"] as? String) ?? "unknown"
    }

    // MARK: plumbing

    private func request(_ path: String) -> HTTPClientRequest {
        var req = HTTPClientRequest(url: baseURL + path)
        if let authorization { req.headers.add(name: "Authorization", value: authorization) }
        return req
    }

    private func send(_ req: HTTPClientRequest, path: String) async throws(OrthancError) -> (Int, ByteBuffer) {
        do {
            let response = try await http.execute(req, timeout: timeout)
            let body = try await response.body.collect(upTo: 256 * 1024 * 1024)
            return (Int(response.status.code), body)
        } catch {
            throw .transport(path: Self.pathOnly(path), reason: "\(error)")
        }
    }

    func getJSON(_ path: String) async throws(OrthancError) -> Any {
        let (status, body) = try await send(request(path), path: path)
        guard status == 200 else { throw .http(status: status, path: Self.pathOnly(path), message: Self.message(body)) }
        do {
            return try JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: [.fragmentsAllowed])
        } catch {
            throw .badResponse(path: Self.pathOnly(path), reason: "not JSON")
        }
    }

    static func pathOnly(_ path: String) -> String { String(path.split(separator: "?").first ?? "") }

    /// Orthanc's error text, short, without echoing anything long.
    static func message(_ body: ByteBuffer) -> String {
        let text = String(buffer: body)
        if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
            return (object["Message"] as? String) ?? (object["Details"] as? String) ?? "error"
        }
        return String(text.prefix(200))
    }
}

public enum OrthancError: Error, Sendable, Equatable, CustomStringConvertible {
    case http(status: Int, path: String, message: String)
    case transport(path: String, reason: String)
    case badResponse(path: String, reason: String)

    public var description: String {
        switch self {
        case .http(let status, let path, let message): return "Orthanc answered \(status) to \(path): \(message)"
        case .transport(let path, let reason): return "Orthanc unreachable (\(path)): \(reason)"
        case .badResponse(let path, let reason): return "Orthanc's answer to \(path) is not understood: \(reason)"
        }
    }
}
