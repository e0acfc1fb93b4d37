import Foundation
import Logging
import Support
#if canImport(Glibc)
import Glibc
#endif

/// Structured logs: one JSON object per line on standard error (`ts`, `level`, `logger`, `msg`, then the
/// metadata). The worker puts job ids, hashed UIDs and counts in the metadata — never patient fields or raw
/// UIDs; this handler does not (cannot) scrub, so callers keep that rule.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let sink: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level = .info, sink: (@Sendable (String) -> Void)? = nil) {
        self.label = label
        self.logLevel = level
        self.sink = sink ?? JSONLogHandler.writeToStandardError
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var metadata = event.metadata ?? [:]
        if let error = event.error, metadata["error"] == nil { metadata["error"] = "\(error)" }
        write(level: event.level, message: event.message, explicit: metadata)
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        write(level: level, message: message, explicit: explicit)
    }

    private func write(level: Logger.Level, message: Logger.Message, explicit: Logger.Metadata?) {
        var fields: [(String, String)] = [
            ("ts", JSONLogHandler.timestamp(Date())), ("level", level.rawValue), ("logger", label), ("msg", message.description),
        ]
        var merged = metadata
        if let explicit { merged.merge(explicit) { _, new in new } }
        for key in merged.keys.sorted() where !["ts", "level", "logger", "msg"].contains(key) {
            fields.append((key, JSONLogHandler.render(merged[key]!)))
        }
        var out = "{"
        for (i, (k, v)) in fields.enumerated() {
            if i > 0 { out += "," }
            out += JSONLogHandler.quote(k) + ":" + (k == "ts" || k == "level" || k == "logger" || k == "msg" ? JSONLogHandler.quote(v) : v)
        }
        out += "}\n"
        sink(out)
    }

    /// A metadata value as JSON: strings quoted, lists and dictionaries as arrays and objects.
    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return quote(s)
        case .stringConvertible(let c):
            if let n = c as? any BinaryInteger { return "\(n)" }
            if let d = c as? Double, d.isFinite { return "\(d)" }
            if let b = c as? Bool { return b ? "true" : "false" }
            return quote(c.description)
        case .array(let a): return "[" + a.map(render).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.keys.sorted().map { quote($0) + ":" + render(d[$0]!) }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String { jsonString(s) }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// One `write(2)` per line, so lines from several threads never interleave.
    @Sendable static func writeToStandardError(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }
}
