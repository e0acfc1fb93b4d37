import Foundation

/// A site's secret for keyed hashes of UIDs and paths (`UIDHash`, `PathDisplay`). Read from
/// `--site-key-file FILE` or `$DSA_SITE_KEY_FILE`; without one, hashes are plain SHA-256 (stable across
/// sites, so they can be linked by anyone who holds the same UID).
public struct SiteKey: Sendable, Equatable {
    public let bytes: [UInt8]

    /// Fewer bytes than this are refused: a short key can be guessed.
    public static let minimumLength = 16
    /// The environment variable naming the key file when no option does.
    public static let environmentVariable = "DSA_SITE_KEY_FILE"

    public init(bytes: [UInt8]) throws {
        guard bytes.count >= Self.minimumLength else {
            throw TriageError.invalidArgument("site key: \(bytes.count) bytes, at least \(Self.minimumLength) needed")
        }
        self.bytes = bytes
    }

    /// The key in `path`: its bytes, without trailing line breaks (so `echo` or an editor's last newline does
    /// not change it).
    public static func load(path: String) throws -> SiteKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            throw TriageError.invalidArgument("site key file \(path): " + (!exists ? "no such file" : isDir.boolValue ? "is a folder" : "cannot be read"))
        }
        var b = [UInt8](data)
        while let last = b.last, last == 10 || last == 13 { b.removeLast() }
        do { return try SiteKey(bytes: b) } catch {
            throw TriageError.invalidArgument("site key file \(path): \(b.count) bytes, at least \(minimumLength) needed")
        }
    }

    /// The key from `option` when given, else from the file `$DSA_SITE_KEY_FILE` names, else none.
    public static func resolve(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SiteKey? {
        if let option { return try load(path: option) }
        if let env = environment[environmentVariable], !env.isEmpty { return try load(path: env) }
        return nil
    }
}
