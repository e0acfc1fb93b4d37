import Foundation
import HummingbirdTesting
import Prometheus
import Server
import TestSupport
import WorkerQueue
import XCTest

/// A browser's cookie handling for HummingbirdTesting clients: Set-Cookie answers are kept (Max-Age=0
/// removes), and sent back as one Cookie header. Shared by reference, so the @Sendable test closures can
/// use it.
final class CookieJar: @unchecked Sendable {
    private let lock = NSLock()
    private var cookies: [String: String] = [:]

    subscript(_ name: String) -> String? {
        get { lock.withLock { cookies[name] } }
        set { lock.withLock { cookies[name] = newValue } }
    }

    func take(_ response: TestResponse) {
        for line in response.headers[values: .setCookie] {
            let first = line.split(separator: ";", maxSplits: 1)[0]
            let pair = first.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { continue }
            let removed = line.lowercased().contains("max-age=0")
            self[String(pair[0])] = removed ? nil : String(pair[1])
        }
    }

    var header: String? {
        lock.withLock { cookies.isEmpty ? nil : cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
    }

    func get(_ client: some TestClientProtocol, _ uri: String) async throws -> TestResponse {
        let response: TestResponse
        if let header {
            response = try await client.execute(uri: uri, method: .get, headers: [.cookie: header])
        } else {
            response = try await client.execute(uri: uri, method: .get)
        }
        take(response)
        return response
    }

    func post(_ client: some TestClientProtocol, _ uri: String, _ fields: [(String, String)]) async throws -> TestResponse {
        let body = fields.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
        let response: TestResponse
        if let header {
            response = try await client.execute(uri: uri, method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: header],
                                                body: .init(string: body))
        } else {
            response = try await client.execute(uri: uri, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                body: .init(string: body))
        }
        take(response)
        return response
    }

    /// Signs in through the form, as a browser does: GET /login for the form token, then POST it.
    @discardableResult
    func signIn(_ client: some TestClientProtocol, name: String, password: String) async throws -> TestResponse {
        let form = try await get(client, "/login")
        let token = try XCTUnwrap(hiddenField("csrf", in: bodyText(form)))
        return try await post(client, "/login", [("csrf", token), ("name", name), ("password", password), ("next", "/worklist")])
    }

    /// The CSRF token of the page's forms.
    func csrf(_ client: some TestClientProtocol, page: String = "/worklist") async throws -> String {
        let answer = try await get(client, page)
        return try XCTUnwrap(hiddenField("csrf", in: bodyText(answer)), "no CSRF field on \(page)")
    }
}

/// `application/x-www-form-urlencoded` as a browser writes it (written here, independently of the server's parser).
func formEncode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        case UInt8(ascii: " "):
            out += "+"
        default:
            out += String(format: "%%%02X", byte)
        }
    }
    return out
}

/// The value of the first `<input type="hidden" name="NAME" value="…">` in a page.
func hiddenField(_ name: String, in html: String) -> String? {
    guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
    let rest = html[range.upperBound...]
    guard let end = rest.firstIndex(of: "\"") else { return nil }
    return String(rest[..<end])
}

/// SHA-256 of a string by coreutils' sha256sum: an implementation independent of the server's.
func sha256sum(_ text: String, folder: URL) async throws -> String {
    let file = folder.appendingPathComponent("sha-input-\(UUID().uuidString)")
    try Data(text.utf8).write(to: file)
    let result = try await runTool("sha256sum", [file.path], logIn: folder)
    XCTAssertEqual(result.status, 0, result.output)
    return String(result.output.prefix(64))
}

/// A small real PNG (8-bit gray gradient, stored deflate blocks), written byte by byte with its CRCs.
func grayPNG(width: Int = 64, height: Int = 64) -> Data {
    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
        }
        return ~crc
    }
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }
    var raw: [UInt8] = []
    for y in 0..<height {
        raw.append(0)
        for x in 0..<width { raw.append(UInt8((x * 255 / max(1, width - 1) + y * 2) % 256)) }
    }
    var zlib: [UInt8] = [0x78, 0x01]
    var offset = 0
    while offset < raw.count {
        let n = min(65535, raw.count - offset)
        let last: UInt8 = offset + n == raw.count ? 1 : 0
        zlib += [last, UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
        zlib += raw[offset..<(offset + n)]
        offset += n
    }
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    zlib += be32(b << 16 | a)
    let header = be32(UInt32(width)) + be32(UInt32(height)) + [8, 0, 0, 0, 0]
    let png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
    return Data(png)
}

/// The review world of a test: a real SQLite worker database with accounts and cases, an image folder.
struct ReviewWorld {
    static let password = "correct horse battery"
    static let studyUID = "1.2.826.0.1.3680043.8.498.7331"
    static let seriesUID = "1.2.826.0.1.3680043.8.498.7332"
    static let viewer = "http://pacs.example/ohif/viewer?StudyInstanceUIDs={StudyInstanceUID}"

    let store: SQLiteJobStore
    let images: URL
    let reviewer: UserAccount
    let admin: UserAccount
    /// Job ids: the two manual-review cases (older first), the blocked and patent audit samples, a patent
    /// case the model decided alone (not on the worklist).
    let manualOld: Int64, manualNew: Int64, blockedAudit: Int64, patentAudit: Int64, patentAlone: Int64

    static func make(in folder: URL) async throws -> ReviewWorld {
        let store = try SQLiteJobStore(path: folder.appendingPathComponent("worker.sqlite").path,
                                       retryPolicy: RetryPolicy(maxAttempts: 1, baseDelay: 1, maxDelay: 1))
        let images = folder.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        // One bcrypt hash (cost 12) for both accounts: hashing is deliberately slow.
        let hash = try await PasswordHashing.hash(password)
        let reviewer = try await store.addUser(name: "rev.one", role: .reviewer, passwordHash: hash, actor: "test", now: nil)
        let admin = try await store.addUser(name: "admin", role: .admin, passwordHash: hash, actor: "test", now: nil)
        let base = Date(timeIntervalSince1970: 1_750_000_000)
        func make(_ id: Int64, _ decision: CaseDecision, p: Double?, reason: WorklistReason?, sampling: Double, days: Double,
                  site: String, maker: String, model: String, image: String? = nil) -> ReviewCase {
            ReviewCase(jobID: id, seriesKey: String(repeating: "\(id % 10)", count: 64), studyInstanceUID: "\(studyUID).\(id)",
                       seriesInstanceUID: "\(seriesUID).\(id)", decidedAt: base.addingTimeInterval(days * 86_400), decision: decision,
                       reasons: decision == .manualReview ? ["p_blocked_in_review_band"] : [], pBlocked: p, threshold: 0.5,
                       reviewBandLow: 0.35, reviewBandHigh: 0.65, site: site, manufacturer: maker, manufacturerModel: model,
                       softwareVersions: "VD11", protocolName: "Cerebral DSA", meanGray: 101.5, dynamicRange: 212, frameCount: 24,
                       framesUsed: [7, 8, 9], worklistReason: reason, samplingProbability: sampling, imageFile: image)
        }
        let cases = [
            make(11, .patent, p: 0.12, reason: .auditSample, sampling: 0.1, days: 0, site: "north", maker: "Siemens", model: "Artis Q",
                 image: "case-11.png"),
            make(12, .blocked, p: 0.91, reason: .auditSample, sampling: 0.2, days: 1, site: "south", maker: "Philips", model: "Azurion"),
            make(13, .manualReview, p: 0.47, reason: .manualReview, sampling: 1, days: 2, site: "north", maker: "Siemens", model: "Artis Q",
                 image: "case-13.png"),
            make(14, .manualReview, p: 0.58, reason: .manualReview, sampling: 1, days: 3, site: "south", maker: "GE", model: "Innova"),
            make(15, .patent, p: 0.05, reason: nil, sampling: 0, days: 4, site: "north", maker: "Siemens", model: "Artis Q"),
        ]
        for c in cases { _ = try await store.recordCase(c) }
        try grayPNG().write(to: images.appendingPathComponent("case-13.png"))
        try grayPNG(width: 32, height: 32).write(to: images.appendingPathComponent("case-11.png"))
        return ReviewWorld(store: store, images: images, reviewer: reviewer, admin: admin,
                           manualOld: 13, manualNew: 14, blockedAudit: 12, patentAudit: 11, patentAlone: 15)
    }

    func configuration(dashboard: (any DashboardSource)? = nil, onVerdict: ReviewConfiguration.VerdictHook? = nil,
                       maxFailedLogins: Int = 5) throws -> ReviewConfiguration {
        try ReviewConfiguration(store: store, imageDirectory: images, viewerLink: try ViewerLink(template: Self.viewer),
                                dashboard: dashboard, onVerdict: onVerdict, maxFailedLogins: maxFailedLogins, failedLoginDelay: 0)
    }
}

extension ServerTestCase {
    /// A listener with the review pages over `world`'s database.
    func makeReviewServer(_ world: ReviewWorld, review: ReviewConfiguration? = nil,
                          configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> WorkerHTTPServer {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, bearerTokens: [testToken])
        configure(&configuration)
        let registry = PrometheusCollectorRegistry()
        return try WorkerHTTPServer(configuration: configuration, jobStore: world.store, stowSink: nil,
                                    readiness: FixedReadiness(checks: []), registry: registry, logger: .init(label: "ReviewTests"),
                                    metricsFactory: PrometheusMetricsFactory(registry: registry),
                                    review: try review ?? world.configuration())
    }
}

/// Records what the verdict hook was called with.
final class VerdictHookRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [(VerdictRecord, ReviewCase)] = []

    var hook: ReviewConfiguration.VerdictHook {
        { record, reviewCase in self.lock.withLock { self.calls.append((record, reviewCase)) } }
    }

    var recorded: [(VerdictRecord, ReviewCase)] { lock.withLock { calls } }
}
