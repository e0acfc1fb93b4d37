import Foundation
import Logging

/// The worker's database in both its roles: the job queue and the review/monitoring data, one connection
/// or pool for both (`JobStoreLocation.open`).
public typealias WorkerDatabase = JobStore & ReviewStore

/// Where the worker's queue lives, as the command line names it (`--db sqlite:PATH` or
/// `--db postgres://USER@HOST:PORT/DB`), so that one option picks the store.
public enum JobStoreLocation: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// One SQLite file (one worker host).
    case sqlite(path: String)
    /// A PostgreSQL database (several worker processes sharing the load).
    case postgres(PostgresLocation)

    /// Parses `sqlite:PATH` or `postgres[ql]://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=disable|prefer|require]`.
    /// User, password and database are percent-decoded; an IPv6 host is written in brackets. Errors quote
    /// the text without its password.
    public init(parsing text: String) throws(JobStoreError) {
        let shown = Self.redacted(text)
        func refuse(_ message: String) -> JobStoreError { .invalidArgument(location: shown, message: message) }
        guard let colon = text.firstIndex(of: ":") else {
            throw refuse("no scheme: expected sqlite:PATH or postgres://USER@HOST:PORT/DB")
        }
        let scheme = text[..<colon].lowercased()
        let rest = text[text.index(after: colon)...]
        switch scheme {
        case "sqlite":
            guard !rest.isEmpty else { throw refuse("missing path after sqlite:") }
            self = .sqlite(path: String(rest))
        case "postgres", "postgresql":
            guard rest.hasPrefix("//") else { throw refuse("expected \(scheme)://USER@HOST:PORT/DB") }
            self = .postgres(try Self.parsePostgres(rest.dropFirst(2), refuse: refuse))
        default:
            throw refuse("unknown scheme '\(scheme)': expected sqlite:PATH or postgres://USER@HOST:PORT/DB")
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let location): return location.description
        }
    }

    public var debugDescription: String { description }

    /// Opens (and migrates) the store, jobs and review tables alike. The PostgreSQL password comes from the URL, else `passwordFile`,
    /// else `PGPASSWORD`, else none; it is never logged.
    public func open(retryPolicy: RetryPolicy = RetryPolicy(), passwordFile: String? = nil,
                     logger: Logger = Logger(label: "dsa-triage.worker-queue")) async throws(JobStoreError) -> any WorkerDatabase {
        switch self {
        case .sqlite(let path):
            let store = try SQLiteJobStore(path: path, retryPolicy: retryPolicy)
            logger.info("job queue opened", metadata: ["store": "sqlite", "location": "\(path)"])
            return store
        case .postgres(let location):
            let password = try location.resolvedPassword(passwordFile: passwordFile)
            let store = try await PostgresJobStore(location: location, password: password, retryPolicy: retryPolicy, logger: logger)
            logger.info("job queue opened", metadata: ["store": "postgres", "location": "\(location)"])
            return store
        }
    }

    // MARK: Parsing

    private static func parsePostgres(_ text: Substring, refuse: (String) -> JobStoreError) throws(JobStoreError) -> PostgresLocation {
        var body = text
        var tls = PostgresTLSMode.prefer
        if let question = body.firstIndex(of: "?") {
            let query = body[body.index(after: question)...]
            body = body[..<question]
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(parts[0])
                let value = parts.count > 1 ? String(parts[1]) : ""
                guard name == "sslmode" else { throw refuse("unknown parameter '\(name)' (only sslmode is understood)") }
                guard let mode = PostgresTLSMode(rawValue: value) else {
                    throw refuse("sslmode '\(value)' is not one of \(PostgresTLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            }
        }
        guard let slash = body.firstIndex(of: "/") else { throw refuse("missing database: expected postgres://USER@HOST:PORT/DB") }
        let authority = body[..<slash]
        let databaseText = body[body.index(after: slash)...]
        guard !databaseText.isEmpty else { throw refuse("missing database name after the host") }
        guard !databaseText.contains("/") else { throw refuse("the database name cannot contain '/'") }
        guard let database = decode(databaseText) else { throw refuse("the database name is not valid percent-encoding") }

        guard let at = authority.lastIndex(of: "@") else { throw refuse("missing user: expected postgres://USER@HOST:PORT/DB") }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]
        let userText: Substring
        var password: String?
        if let colon = userInfo.firstIndex(of: ":") {
            userText = userInfo[..<colon]
            guard let decoded = decode(userInfo[userInfo.index(after: colon)...]) else {
                throw refuse("the password is not valid percent-encoding")
            }
            password = decoded
        } else {
            userText = userInfo
        }
        guard let user = decode(userText), !user.isEmpty else { throw refuse("missing user before '@'") }

        let host: String
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw refuse("unclosed '[' in the host") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw refuse("unexpected text after the bracketed host") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw refuse("missing host: expected postgres://USER@HOST:PORT/DB") }
        var port = 5432
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw refuse("bad port '\(portText)': expected a number from 1 to 65535")
            }
            port = value
        }
        return PostgresLocation(user: user, host: host, port: port, database: database, tls: tls, password: password)
    }

    private static func decode(_ text: Substring) -> String? { String(text).removingPercentEncoding }

    /// `text` with the password of a `scheme://user:password@…` URL replaced, for error messages.
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        let afterScheme = text[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return text }
        return String(text[..<authority.index(after: colon)]) + "***" + String(text[at...])
    }
}
