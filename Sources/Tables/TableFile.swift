import FileAccess
import Foundation

/// Why a table file could not be read; evaluation and training restate these in their own error types.
public enum TableError: Error, CustomStringConvertible, Equatable, Sendable {
    case unreadable(file: String, reason: String)
    case badRow(file: String, line: Int, reason: String)
    case empty(file: String)

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "\(f): \(r)"
        case .badRow(let f, let l, let r): return "\(f):\(l): \(r)"
        case .empty(let f): return "\(f): no data rows"
        }
    }
}

/// A CSV (header row, RFC 4180 quoting) or JSONL (one object per line) file as rows of named text fields,
/// each with its 1-based line number.
public struct TableFile: Sendable {
    public struct Row: Sendable {
        public var line: Int
        public var fields: [String: String]
    }

    public var path: String
    public var columns: Set<String>
    public var rows: [Row]

    /// Reads the file; JSONL when the name ends in .jsonl/.ndjson or the first non-blank character is "{".
    public static func read(path: String) throws -> TableFile {
        if let reason = FileKind.notAFileReason(path) { throw TableError.unreadable(file: path, reason: reason) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TableError.unreadable(file: path, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TableError.unreadable(file: path, reason: "not UTF-8 text")
        }
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        let first = text.first { !$0.isWhitespace }
        if ext == "jsonl" || ext == "ndjson" || first == "{" { return try jsonl(text, path: path) }
        return try csv(text, path: path)
    }

    static func jsonl(_ text: String, path: String) throws -> TableFile {
        var rows: [Row] = [], cols = Set<String>()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) as? [String: Any] else {
                throw TableError.badRow(file: path, line: i + 1, reason: "not a JSON object")
            }
            var f: [String: String] = [:]
            for (k, v) in obj {
                switch v {
                case is NSNull: continue
                case let s as String: f[k] = s
                case let n as NSNumber: f[k] = "\(n.doubleValue)"
                default: throw TableError.badRow(file: path, line: i + 1, reason: "\"\(k)\" is not a string or number")
                }
                cols.insert(k)
            }
            rows.append(Row(line: i + 1, fields: f))
        }
        return TableFile(path: path, columns: cols, rows: rows)
    }

    /// Splits CSV text into records of fields with the line each record starts on.
    static func csvRecords(_ text: String, path: String) throws -> [(Int, [String])] {
        var out: [(Int, [String])] = []
        var field = "", record: [String] = [], inQuotes = false, line = 1, start = 1, afterQuote = false
        var chars = Array(text.unicodeScalars)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        func endRecord() {
            record.append(field)
            if !(record.count == 1 && record[0].trimmingCharacters(in: .whitespaces).isEmpty) { out.append((start, record)) }
            record = []; field = ""
        }
        while i < chars.count {
            let c = chars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { inQuotes = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" && field.isEmpty && !afterQuote {
                inQuotes = true
            } else if c == "," {
                record.append(field); field = ""; afterQuote = false
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < chars.count && chars[i + 1] == "\n" { i += 1 }
                endRecord(); afterQuote = false
                line += 1; start = line
            } else {
                field.unicodeScalars.append(c)
            }
            i += 1
        }
        if inQuotes { throw TableError.badRow(file: path, line: start, reason: "unterminated quoted field") }
        if !field.isEmpty || !record.isEmpty { endRecord() }
        return out
    }

    static func csv(_ text: String, path: String) throws -> TableFile {
        let recs = try csvRecords(text, path: path)
        guard let header = recs.first else { throw TableError.empty(file: path) }
        let names = header.1.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var rows: [Row] = []
        for (line, r) in recs.dropFirst() {
            guard r.count == names.count else {
                throw TableError.badRow(file: path, line: line, reason: "\(r.count) fields where the header has \(names.count)")
            }
            var f: [String: String] = [:]
            for (k, v) in zip(names, r) {
                let t = v.trimmingCharacters(in: .whitespaces)
                if !t.isEmpty { f[k] = t }
            }
            rows.append(Row(line: line, fields: f))
        }
        return TableFile(path: path, columns: Set(names), rows: rows)
    }
}
