import Angiography
import Foundation
import ModelFiles

/// How the names of files and sub-folders found under a folder input appear in records, tables,
/// predictions and caches. The user typed the folder, not what lies beneath it, and hospital shares name
/// folders and files after patients (`Smith^John_19330303/…`): the default, `hashed`, keeps the folder as
/// typed and replaces the rest by a (keyed) hash. Paths typed directly (files, manifest rows) stay as given.
public struct PathDisplay: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// The path as found: the folder as typed, then the names beneath it.
        case asGiven = "as-given"
        /// Only the part beneath the folder input.
        case relative
        /// The folder as typed, then a hash of the part beneath it (the file extension kept).
        case hashed
    }

    public var mode: Mode
    /// Keys the hash (`--site-key-file`); nil: plain SHA-256.
    public var key: SiteKey?

    public init(mode: Mode, key: SiteKey? = nil) {
        self.mode = mode
        self.key = key
    }

    public static let asGiven = PathDisplay(mode: .asGiven)

    /// How `path`, found beneath the folder input `root`, is shown; `path` itself when it does not lie
    /// beneath `root` (a path typed directly).
    public func show(_ path: String, under root: String) -> String {
        guard mode != .asGiven, let relative = Self.relative(path, under: root) else { return path }
        switch mode {
        case .asGiven: return path
        case .relative: return relative
        case .hashed:
            let prefix = root.hasSuffix("/") ? root : root + "/"
            return prefix + hashedName(relative)
        }
    }

    /// `path` without the leading `root/`, nil when it does not start with it.
    static func relative(_ path: String, under root: String) -> String? {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        guard path.count > prefix.count, path.hasPrefix(prefix) else { return nil }
        return String(path.dropFirst(prefix.count))
    }

    /// 16 hex digits of sha256("dsa-triage-path:" + relative path) (HMAC with a site key), plus the
    /// extension when it is a short plain one (`.dcm`, `.png`): a longer one may itself be a name.
    public func hashedName(_ relative: String) -> String {
        let text = Array("dsa-triage-path:".utf8) + EscapedPath.bytes(relative)
        let digest = key.map { HMACSHA256.hex(key: $0.bytes, message: text) } ?? SHA256Hasher.hex(of: Data(text))
        let name = relative.split(separator: "/").last.map(String.init) ?? relative
        var ext = ""
        if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            let e = name[name.index(after: dot)...]
            if (1...5).contains(e.count), e.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) { ext = "." + e }
        }
        return String(digest.prefix(16)) + ext
    }

    /// A function that rewrites, in any text, each of `files` found beneath `root` as this display shows it.
    public func rewriter(files: [String], root: String) -> (String) -> String {
        guard mode != .asGiven else { return { $0 } }
        // Longest first, so that a path which is a prefix of another never rewrites part of it.
        let replacements = files.compactMap { f -> (String, String)? in
            let shown = show(f, under: root)
            return shown == f ? nil : (f, shown)
        }.sorted { $0.0.count > $1.0.count }
        guard !replacements.isEmpty else { return { $0 } }
        return { text in
            var s = text
            for (from, to) in replacements where s.contains(from) { s = s.replacingOccurrences(of: from, with: to) }
            return s
        }
    }

    /// The record with every file found beneath its folder input shown this way, in its fields and in its
    /// messages.
    public func apply(_ record: TriageRecord) -> TriageRecord {
        guard mode != .asGiven else { return record }
        let fix = rewriter(files: record.files, root: record.input)
        var r = record
        r.files = record.files.map(fix)
        r.error = record.error.map(fix)
        r.reasons = record.reasons.map(fix)
        r.routeReason = record.routeReason.map(fix)
        r.images = record.images.map { img in
            var i = img
            i.reasons = img.reasons.map(fix)
            return i
        }
        return r
    }
}
