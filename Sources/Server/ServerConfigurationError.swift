import Foundation

/// Why the HTTP listener cannot start: each case names the setting or file and what was expected, so the
/// operator can fix it without reading the code.
public enum ServerConfigurationError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// A non-loopback address without bearer tokens would expose the worker's API and ingest to the network.
    case unauthenticatedListen(host: String)
    case emptyHost
    case invalidPort(Int)
    case invalidMaxBodySize(Int)
    /// Only one of the certificate and the key was given.
    case incompleteTLS(given: String, missing: String)
    /// A TLS certificate or key that cannot be read or parsed.
    case tlsFile(path: String, what: String, reason: String)
    case tokenFileUnreadable(path: String, reason: String)
    case tokenFileEmpty(path: String)
    /// The token file is readable or writable by group or others (mode shown in octal).
    case tokenFilePermissions(path: String, mode: Int)
    /// A line that is not a usable token (never quoted: it may be a secret).
    case tokenFileBadLine(path: String, line: Int, reason: String)
    case invalidBaseURL(String)

    public var description: String {
        switch self {
        case .unauthenticatedListen(let host):
            return "refusing to listen on \(host) without authentication: give --token-file"
        case .emptyHost:
            return "the listen host is empty: give an address such as 127.0.0.1"
        case .invalidPort(let port):
            return "listen port \(port) is outside 0...65535"
        case .invalidMaxBodySize(let size):
            return "maximum STOW-RS body size \(size) must be positive"
        case .incompleteTLS(let given, let missing):
            return "TLS needs both a certificate and a private key: the \(given) is given but the \(missing) is missing"
        case .tlsFile(let path, let what, let reason):
            return "TLS \(what) \(path): \(reason)"
        case .tokenFileUnreadable(let path, let reason):
            return "token file \(path): cannot read it: \(reason)"
        case .tokenFileEmpty(let path):
            return "token file \(path) holds no token (one token per line; blank lines and # comments are ignored)"
        case .tokenFilePermissions(let path, let mode):
            return "token file \(path) has mode \(String(mode, radix: 8)), open to group or others: run chmod 600 on it "
                + "(in Kubernetes, mount the secret with defaultMode 0400)"
        case .tokenFileBadLine(let path, let line, let reason):
            return "token file \(path), line \(line): \(reason)"
        case .invalidBaseURL(let url):
            return "public base URL \(url) is not an absolute http or https URL"
        }
    }

    public var errorDescription: String? { description }
}
