import Foundation

/// Whether the connection to PostgreSQL is encrypted; the names are libpq's `sslmode` values.
public enum PostgresTLSMode: String, Sendable, Hashable, CaseIterable {
    /// Plain TCP (a private network or a local socket-like loopback).
    case disable
    /// TLS when the server offers it, plain otherwise (libpq's default).
    case prefer
    /// TLS with a verified server certificate, or no connection.
    case require
}

/// A PostgreSQL queue database, as written in `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]`.
/// Its text forms (`description`, `debugDescription`, reflection) never contain the password.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    public var tls: PostgresTLSMode
    /// The password written in the URL, if any; it wins over a password file and `PGPASSWORD`.
    public var password: String?

    /// A location; `port` 5432 and `tls` `.prefer` are PostgreSQL's defaults.
    public init(user: String, host: String, port: Int = 5432, database: String, tls: PostgresTLSMode = .prefer, password: String? = nil) {
        self.user = user
        self.host = host
        self.port = port
        self.database = database
        self.tls = tls
        self.password = password
    }

    /// The URL without its password: what logs and error messages name.
    public var description: String {
        let hostText = host.contains(":") ? "[\(host)]" : host
        let mode = tls == .prefer ? "" : "?sslmode=\(tls.rawValue)"
        return "postgres://\(user)@\(hostText):\(port)/\(database)\(mode)"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["url": description, "password": password == nil ? "none" : "(hidden)"])
    }

    /// The password to connect with: the URL's, else the first line of `passwordFile`, else `PGPASSWORD`
    /// from `environment`, else none (trust or peer authentication).
    public func resolvedPassword(passwordFile: String?,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) throws(JobStoreError) -> String? {
        if let password { return password }
        if let passwordFile {
            let text: String
            do {
                text = try String(contentsOf: URL(fileURLWithPath: passwordFile), encoding: .utf8)
            } catch {
                throw .invalidArgument(location: description, message: "cannot read the password file \(passwordFile): \(Self.reason(error))")
            }
            // The first line, without its line ending: `echo secret > file` must not add a newline to it.
            let line = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).first.map(String.init) ?? ""
            guard !line.isEmpty else {
                throw .invalidArgument(location: description, message: "the password file \(passwordFile) is empty")
            }
            return line
        }
        if let fromEnvironment = environment["PGPASSWORD"], !fromEnvironment.isEmpty { return fromEnvironment }
        return nil
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
           let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        return nsError.localizedDescription
    }
}
