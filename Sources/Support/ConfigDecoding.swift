/// Why a configuration file (config.json, adapter_config.json, generation_config.json) was refused, thrown
/// from inside `Decodable` initialisers. Each target restates it in its own error type, naming the file;
/// `path` is where in the file the offending object sits (e.g. ["text_config"]), empty at the top level.
public struct ConfigIssue: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The value is malformed or contradicts another.
        case invalid
        /// The value is well-formed but asks for something this implementation does not do.
        case unsupported
    }

    public var kind: Kind
    public var reason: String
    public var path: [String]

    public init(_ reason: String, kind: Kind = .invalid, path: [String] = []) {
        self.kind = kind
        self.reason = reason
        self.path = path
    }

    /// The issue for a value under `path` (a decoder's coding path).
    public init(_ reason: String, kind: Kind = .invalid, at path: [any CodingKey]) {
        self.init(reason, kind: kind, path: path.map(\.stringValue))
    }
}

/// Reading configuration values the way transformers and peft read them: a missing key and a `null` both
/// leave the default, numbers must have the right shape, and the keys whose type the Python side never
/// checks (`tie_word_embeddings`, `hidden_act`, …) fall back to the default when they hold something else.
extension KeyedDecodingContainer {
    /// The value exactly as written; nil when the key is missing (a `null` is `.null`).
    public func json(_ key: Key) throws -> JSONValue? {
        guard contains(key) else { return nil }
        return try decode(JSONValue.self, forKey: key)
    }

    /// An integer; nil when missing or null. Integral numbers only (2.0 is 2; 2.5, "2" and true are refused).
    public func integer(_ key: Key) throws -> Int? {
        guard let v = try json(key), !v.isNull else { return nil }
        guard case .number(let d) = v, d == d.rounded(), abs(d) < 1e15 else {
            throw issue("'\(key.stringValue)' must be an integer, found \(v)")
        }
        return Int(d)
    }

    /// A number; nil when missing or null.
    public func number(_ key: Key) throws -> Double? {
        guard let v = try json(key), !v.isNull else { return nil }
        guard case .number(let d) = v else { throw issue("'\(key.stringValue)' must be a number, found \(v)") }
        return d
    }

    /// The value when it has type `T`, otherwise nil (missing, null or of another type).
    public func lenient<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        (try? decodeIfPresent(T.self, forKey: key)) ?? nil
    }

    /// An issue located at this container.
    public func issue(_ reason: String, kind: ConfigIssue.Kind = .invalid) -> ConfigIssue {
        ConfigIssue(reason, kind: kind, at: codingPath)
    }
}
