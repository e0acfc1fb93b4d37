import Foundation
import Imaging
import Support

/// The shape a user-written configuration file must have: every key known, every value of its type. A
/// safety-relevant file (the task profile) is checked against it before decoding, so a typo such as
/// `"treshold"` is an error naming the key and the nearest known one instead of a silently used default.
public indirect enum ConfigShape: Sendable {
    case integer
    case number
    case string
    case bool
    /// The value may also be null.
    case nullable(ConfigShape)
    case array(ConfigShape)
    /// An object with exactly these keys (each required unless marked optional).
    case object([ConfigField])

    /// What a reader is told was expected.
    var expected: String {
        switch self {
        case .integer: return "an integer"
        case .number: return "a number"
        case .string: return "a string"
        case .bool: return "true or false"
        case .nullable(let s): return s.expected + " or null"
        case .array(let s): return "an array of " + s.plural
        case .object: return "an object"
        }
    }

    var plural: String {
        switch self {
        case .integer: return "integers"
        case .number: return "numbers"
        case .string: return "strings"
        case .bool: return "booleans"
        case .nullable(let s): return s.plural + " or nulls"
        case .array: return "arrays"
        case .object: return "objects"
        }
    }

    /// One violation: the key path ("quality.min_frames", "labels[1].answer", "-" for the whole file) and why.
    public struct Violation: Error, Sendable, Equatable {
        public var path: String
        public var reason: String
    }

    /// Checks `data` (JSON text) against this shape; the first violation (keys taken in sorted order, unknown keys before missing ones) throws.
    public func check(_ data: Data) throws(Violation) {
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw Violation(path: "-", reason: "not valid JSON: \(Self.shortDescription(of: error))")
        }
        try check(value, path: "")
    }

    func check(_ value: JSONValue, path: String) throws(Violation) {
        func fail(_ reason: String) -> Violation { Violation(path: path.isEmpty ? "-" : path, reason: reason) }
        func mismatch() -> Violation { fail("expected \(expected), got \(Self.quote(value))") }
        switch (self, value) {
        case (.nullable, .null): return
        case (.nullable(let inner), _):
            // A wrong value itself is reported against "… or null"; a problem deeper inside keeps its own path.
            do { try inner.check(value, path: path) } catch {
                throw error.path == (path.isEmpty ? "-" : path) && !error.reason.hasPrefix("unknown key") ? mismatch() : error
            }
        case (.integer, .number(let n)):
            guard n == n.rounded(), abs(n) < 9.0e15 else { throw mismatch() }
        case (.number, .number), (.string, .string), (.bool, .bool): return
        case (.array(let element), .array(let items)):
            for (i, item) in items.enumerated() { try element.check(item, path: "\(path)[\(i)]") }
        case (.object(let fields), .object(let members)):
            let known = fields.map(\.key)
            let place = path.isEmpty ? "at the top level" : "in \(path)"
            for key in members.keys.sorted() where !known.contains(key) {
                let keyPath = path.isEmpty ? key : "\(path).\(key)"
                let hint = Self.nearest(to: key, among: known).map { "; did you mean \"\($0)\"?" } ?? ""
                throw Violation(path: keyPath, reason: "unknown key \"\(Self.clip(key))\" \(place)\(hint)")
            }
            for f in fields {
                let keyPath = path.isEmpty ? f.key : "\(path).\(f.key)"
                guard let member = members[f.key] else {
                    if f.required { throw Violation(path: keyPath, reason: "missing key \"\(f.key)\" \(place) (expected \(f.shape.expected))") }
                    continue
                }
                try f.shape.check(member, path: keyPath)
            }
        default:
            throw mismatch()
        }
    }

    /// The known key closest to `key` by edit distance (ties: the first listed); nil when nothing is known.
    static func nearest(to key: String, among known: [String]) -> String? {
        known.min { editDistance(key, $0) < editDistance(key, $1) }
    }

    /// Levenshtein distance over characters (insertions, deletions, substitutions).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }

    /// A value as the message shows it: its kind, and the value itself when short (the file is the user's own
    /// configuration, not patient data; long strings are cut so a message stays one readable line).
    static func quote(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool, .number: return v.description
        case .string(let s): return "the string \"\(clip(s))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    static func clip(_ s: String) -> String { s.count <= 40 ? s : String(s.prefix(40)) + "…" }

    static func shortDescription(of error: Error) -> String {
        if case DecodingError.dataCorrupted(let c) = error {
            let underlying = c.underlyingError.map { " (\($0.localizedDescription))" } ?? ""
            return c.debugDescription + underlying
        }
        return "\(error)"
    }
}

/// One key of a configuration object.
public struct ConfigField: Sendable {
    public var key: String
    public var shape: ConfigShape
    /// A required key that is absent is an error; an optional one is simply left out.
    public var required: Bool

    /// A key, required unless `required` is false.
    public init(_ key: String, _ shape: ConfigShape, required: Bool = true) {
        self.key = key
        self.shape = shape
        self.required = required
    }
}
