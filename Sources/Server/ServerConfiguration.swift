import Foundation

/// Where and how the worker's HTTP listener serves: address, bearer tokens, TLS files and the STOW-RS body
/// limit. `validate()` is the one place that decides whether the combination is safe to start.
public struct ServerConfiguration: Sendable, Equatable {
    /// Listen address; loopback by default so that nothing is exposed until the operator asks for it.
    public var host: String
    /// Listen port; 0 asks the system for a free one (`WorkerHTTPServer.listeningPort` reports it).
    public var port: Int
    /// Accepted bearer tokens (from `loadTokens(file:)`); empty means no authentication, loopback only.
    public var bearerTokens: [String]
    /// PEM certificate chain; with `tlsPrivateKeyPath`, the listener speaks HTTPS only.
    public var tlsCertificatePath: String?
    /// PEM private key of the certificate.
    public var tlsPrivateKeyPath: String?
    /// Largest STOW-RS request body accepted (413 beyond it); the body is streamed to disk, never held in memory.
    public var maxStowBodyBytes: Int
    /// The address senders use to reach the worker (`https://worker.example:8443`), for the RetrieveURL of
    /// STOW-RS answers; nil: built from the request's Host header.
    public var publicBaseURL: String?

    /// The default STOW-RS body limit: 4 GiB, room for a long multi-frame series in one request.
    public static let defaultMaxStowBodyBytes = 4 << 30
    /// Tokens shorter than this are refused: a guessable token is no authentication.
    public static let minimumTokenLength = 16

    public init(host: String = "127.0.0.1", port: Int = 8080, bearerTokens: [String] = [],
                tlsCertificatePath: String? = nil, tlsPrivateKeyPath: String? = nil,
                maxStowBodyBytes: Int = ServerConfiguration.defaultMaxStowBodyBytes, publicBaseURL: String? = nil) {
        self.host = host
        self.port = port
        self.bearerTokens = bearerTokens
        self.tlsCertificatePath = tlsCertificatePath
        self.tlsPrivateKeyPath = tlsPrivateKeyPath
        self.maxStowBodyBytes = maxStowBodyBytes
        self.publicBaseURL = publicBaseURL
    }

    /// Whether requests must carry a bearer token.
    public var requiresAuthentication: Bool { !bearerTokens.isEmpty }

    /// Whether HTTPS is configured (both files given).
    public var usesTLS: Bool { tlsCertificatePath != nil && tlsPrivateKeyPath != nil }

    /// Refuses unsafe or inconsistent settings before anything is bound: a non-loopback host without tokens,
    /// half a TLS configuration, a port or body limit out of range. TLS files are read by `WorkerHTTPServer`.
    public func validate() throws(ServerConfigurationError) {
        let trimmed = host.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .emptyHost }
        guard (0...65535).contains(port) else { throw .invalidPort(port) }
        guard maxStowBodyBytes > 0 else { throw .invalidMaxBodySize(maxStowBodyBytes) }
        if !LoopbackAddress.isLoopback(trimmed) && bearerTokens.isEmpty {
            throw .unauthenticatedListen(host: trimmed)
        }
        switch (tlsCertificatePath, tlsPrivateKeyPath) {
        case (.some, nil): throw .incompleteTLS(given: "certificate", missing: "private key")
        case (nil, .some): throw .incompleteTLS(given: "private key", missing: "certificate")
        default: break
        }
        if let base = publicBaseURL {
            guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  url.host != nil else { throw .invalidBaseURL(base) }
        }
    }

    /// Reads bearer tokens: one per line, surrounding blanks trimmed, blank lines and `#` comments ignored.
    ///
    /// The file must not be open to group or others (`mode & 0o077 == 0`): a token that any local user
    /// can read protects nothing, so this is an error rather than a warning. Each token must be at least
    /// `minimumTokenLength` characters of RFC 6750's token68 alphabet; a bad line is named by its number,
    /// never quoted.
    public static func loadTokens(file: URL) throws(ServerConfigurationError) -> [String] {
        let path = file.path
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw .tokenFileUnreadable(path: path, reason: Self.reason(error))
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw .tokenFilePermissions(path: path, mode: mode)
        }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw .tokenFileUnreadable(path: path, reason: Self.reason(error))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .tokenFileUnreadable(path: path, reason: "not UTF-8 text")
        }
        var tokens: [String] = []
        // Split on Character newlines: "\r\n" is one Character in Swift, so this handles CRLF files too.
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.allSatisfy(Self.isToken68) else {
                throw .tokenFileBadLine(path: path, line: index + 1,
                                        reason: "a token may hold only letters, digits and -._~+/= (no spaces)")
            }
            guard line.count >= minimumTokenLength else {
                throw .tokenFileBadLine(path: path, line: index + 1,
                                        reason: "a token needs at least \(minimumTokenLength) characters")
            }
            if !tokens.contains(line) { tokens.append(line) }
        }
        guard !tokens.isEmpty else { throw .tokenFileEmpty(path: path) }
        return tokens
    }

    private static func isToken68(_ c: Character) -> Bool {
        guard c.isASCII, let v = c.asciiValue else { return false }
        switch v {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-._~+/=".utf8.contains(v)
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError, let underlying = cocoa.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if let cocoa = error as? CocoaError {
            switch cocoa.code {
            case .fileReadNoSuchFile, .fileNoSuchFile: return "no such file"
            case .fileReadNoPermission: return "permission denied"
            default: break
            }
        }
        return (error as NSError).localizedDescription
    }
}
