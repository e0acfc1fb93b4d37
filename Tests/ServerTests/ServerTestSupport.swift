import Foundation
import Prometheus
import Server
import TestSupport
import WorkerQueue
import XCTest

/// Test material built independently of the code under test: DICOM Part 10 files written byte by byte,
/// multipart bodies assembled by hand, a spool sink with its own small file-meta reader.
enum Fixture {
    static let boundary = "dsa-boundary-7f3a"
    static let ctClass = "1.2.840.10008.5.1.4.1.1.12.1"  // X-Ray Angiographic Image Storage

    /// A minimal Part 10 file: preamble, `DICM`, file meta group (explicit VR little endian) with SOP
    /// class, SOP instance and transfer syntax, then `payload` bytes of a dataset.
    static func part10(sopClass: String = ctClass, sopInstance: String, payload: Int = 2000, seed: UInt8 = 1) -> [UInt8] {
        var meta: [UInt8] = []
        meta += element(group: 2, element: 1, vr: "OB", value: [0, 1])
        meta += element(group: 2, element: 2, vr: "UI", value: uid(sopClass))
        meta += element(group: 2, element: 3, vr: "UI", value: uid(sopInstance))
        meta += element(group: 2, element: 0x10, vr: "UI", value: uid("1.2.840.10008.1.2.1"))
        var file = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        file += element(group: 2, element: 0, vr: "UL", value: le32(UInt32(meta.count)))
        file += meta
        file += element(group: 0x7FE0, element: 0x10, vr: "OB", value: noise(count: payload, seed: seed))
        return file
    }

    /// Bytes that look like multipart trouble: CR, LF and dashes are frequent, but never the full delimiter.
    static func noise(count: Int, seed: UInt8) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var state = UInt32(seed) &* 2_654_435_761 &+ 12345
        let tricky: [UInt8] = Array("\r\n--dsa-bound".utf8)
        for i in 0..<count {
            state = state &* 1_103_515_245 &+ 12345
            let r = UInt8(truncatingIfNeeded: state >> 16)
            out[i] = r < 40 ? tricky[Int(r) % tricky.count] : r
        }
        return out
    }

    static func element(group: UInt16, element: UInt16, vr: String, value: [UInt8]) -> [UInt8] {
        var out = le16(group) + le16(element) + Array(vr.utf8)
        if ["OB", "OW", "SQ", "UN", "UT", "UR", "UC"].contains(vr) {
            out += [0, 0] + le32(UInt32(value.count))
        } else {
            out += le16(UInt16(value.count))
        }
        return out + value
    }

    static func uid(_ text: String) -> [UInt8] {
        var bytes = Array(text.utf8)
        if bytes.count % 2 == 1 { bytes.append(0) }
        return bytes
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }

    /// A multipart/related body: each part with its header lines, CRLF framing, closing delimiter unless `close` is false.
    static func multipart(_ parts: [(headers: [String], body: [UInt8])], boundary: String = boundary, close: Bool = true,
                          preamble: String = "") -> [UInt8] {
        var out = Array(preamble.utf8)
        for (index, part) in parts.enumerated() {
            out += Array(((index == 0 && preamble.isEmpty ? "" : "\r\n") + "--\(boundary)\r\n").utf8)
            for line in part.headers { out += Array("\(line)\r\n".utf8) }
            out += Array("\r\n".utf8)
            out += part.body
        }
        if close { out += Array("\r\n--\(boundary)--\r\n".utf8) }
        return out
    }

    static func dicomPart(_ bytes: [UInt8]) -> (headers: [String], body: [UInt8]) {
        (["Content-Type: application/dicom"], bytes)
    }

    static var stowContentType: String { #"multipart/related; type="application/dicom"; boundary=\#(boundary)"# }
}

/// A spool as the lead's sink will keep it: the staged file is checked for the Part 10 prefix, its SOP
/// class and instance read from the file meta group, then renamed into the spool and fsynced with its
/// folder. Anything else is deleted and failed with 0xC000.
final class SpoolSink: StowInstanceSink, @unchecked Sendable {
    let stagingDirectory: URL
    let spool: URL
    private let lock = NSLock()
    private var accepted: [String] = []

    init(root: URL) throws {
        stagingDirectory = root.appendingPathComponent("staging")
        spool = root.appendingPathComponent("spool")
        try FileManager.default.createDirectory(at: stagingDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: spool, withIntermediateDirectories: true)
    }

    /// SOP instance UIDs stored, in order.
    var storedInstances: [String] {
        lock.withLock { accepted }
    }

    func accept(stagedFile: URL, studyInstanceUID: String?) async -> StowPartOutcome {
        defer { try? FileManager.default.removeItem(at: stagedFile) }
        guard let identity = Self.readMeta(stagedFile) else {
            return .failed(sopClassUID: nil, sopInstanceUID: nil, reason: 0xC000, message: "not a DICOM Part 10 file")
        }
        let target = spool.appendingPathComponent("\(identity.instance).dcm")
        do {
            try FileManager.default.moveItem(at: stagedFile, to: target)
        } catch {
            return .failed(sopClassUID: identity.sopClass, sopInstanceUID: identity.instance, reason: 0xA700, message: "cannot store")
        }
        Self.syncToDisk(target.path)
        Self.syncToDisk(spool.path)
        lock.withLock { accepted.append(identity.instance) }
        return .stored(sopClassUID: identity.sopClass, sopInstanceUID: identity.instance, warning: nil)
    }

    /// `DICM` at 128, then (0002,xxxx) elements in explicit VR little endian; nil unless both UIDs are found.
    static func readMeta(_ url: URL) -> (sopClass: String, instance: String)? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 8192), head.count > 132 else { return nil }
        let bytes = [UInt8](head)
        guard Array(bytes[128..<132]) == Array("DICM".utf8) else { return nil }
        var offset = 132
        var sopClass: String?
        var instance: String?
        while offset + 8 <= bytes.count {
            let group = UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
            let element = UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8
            guard group == 2 else { break }
            let vr = String(decoding: bytes[(offset + 4)..<(offset + 6)], as: UTF8.self)
            var length: Int
            var valueStart: Int
            if ["OB", "OW", "SQ", "UN", "UT", "UR", "UC"].contains(vr) {
                guard offset + 12 <= bytes.count else { return nil }
                length = (0..<4).reduce(0) { $0 | Int(bytes[offset + 8 + $1]) << (8 * $1) }
                valueStart = offset + 12
            } else {
                length = Int(bytes[offset + 6]) | Int(bytes[offset + 7]) << 8
                valueStart = offset + 8
            }
            guard valueStart + length <= bytes.count else { return nil }
            let text = String(decoding: bytes[valueStart..<(valueStart + length)], as: UTF8.self)
                .trimmingCharacters(in: CharacterSet(charactersIn: "\0 "))
            if element == 2 { sopClass = text }
            if element == 3 { instance = text }
            offset = valueStart + length
        }
        guard let sopClass, let instance, !sopClass.isEmpty, !instance.isEmpty else { return nil }
        return (sopClass, instance)
    }

    private static func syncToDisk(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = close(fd)
    }
}

/// A readiness probe with fixed answers.
struct FixedReadiness: ReadinessProbe {
    var checks: [ReadinessCheck]
    func readiness() async -> [ReadinessCheck] { checks }
}

/// The bearer token the tests configure.
let testToken = "test-token-0123456789abcdef"

/// A temporary folder per test, removed afterwards.
class ServerTestCase: XCTestCase {
    var folder: URL = FileManager.default.temporaryDirectory

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ServerTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func makeStore() throws -> SQLiteJobStore {
        try SQLiteJobStore(path: folder.appendingPathComponent("queue.sqlite").path,
                           retryPolicy: RetryPolicy(maxAttempts: 1, baseDelay: 1, maxDelay: 1))
    }

    /// A server on an ephemeral loopback port with its own registry and metrics factory.
    func makeServer(store: any JobStore, sink: (any StowInstanceSink)? = nil, tokens: [String] = [],
                    readiness: [ReadinessCheck] = [ReadinessCheck(name: "model", ok: true, detail: "loaded")],
                    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                    configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> WorkerHTTPServer {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, bearerTokens: tokens)
        configure(&configuration)
        return try WorkerHTTPServer(configuration: configuration, jobStore: store, stowSink: sink,
                                    readiness: FixedReadiness(checks: readiness), registry: registry,
                                    logger: .init(label: "ServerTests"),
                                    metricsFactory: PrometheusMetricsFactory(registry: registry))
    }
}
