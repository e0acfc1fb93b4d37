import Foundation
import Support

/// The `normalizer` of a tokenizer.json: how text is rewritten before BPE (per segment between added tokens).
indirect enum TextNormalizer: Sendable {
    /// Every occurrence of a literal string replaced (Gemma: " " → "▁").
    case replace(pattern: [UInt8], content: [UInt8])
    /// A prefix added to non-empty text (Llama-style tokenizers prepend "▁").
    case prepend([UInt8])
    case sequence([TextNormalizer])
    case unicode(UnicodeForm)
    /// Unicode whitespace removed from the ends.
    case strip(left: Bool, right: Bool)

    enum UnicodeForm: Sendable { case nfc, nfd, nfkc, nfkd }

    func normalize(_ text: [UInt8]) -> [UInt8] {
        switch self {
        case let .replace(pattern, content):
            return ByteSearch.replacingAll(pattern, with: content, in: text)
        case let .prepend(prefix):
            return text.isEmpty ? text : prefix + text
        case let .sequence(steps):
            return steps.reduce(text) { $1.normalize($0) }
        case let .unicode(form):
            let s = String(decoding: text, as: UTF8.self)
            switch form {
            case .nfc: return Array(s.precomposedStringWithCanonicalMapping.utf8)
            case .nfd: return Array(s.decomposedStringWithCanonicalMapping.utf8)
            case .nfkc: return Array(s.precomposedStringWithCompatibilityMapping.utf8)
            case .nfkd: return Array(s.decomposedStringWithCompatibilityMapping.utf8)
            }
        case let .strip(left, right):
            return text.withUnsafeBufferPointer { buffer in
                var start = 0, end = buffer.count
                if left {
                    while start < end {
                        let (v, length) = UnicodeClasses.scalar(at: start, in: buffer)
                        guard UnicodeClasses.isWhitespace(v) else { break }
                        start += length
                    }
                }
                if right {
                    while end > start {
                        let p = UnicodeClasses.previousScalarStart(before: end, in: buffer)
                        guard UnicodeClasses.isWhitespace(UnicodeClasses.scalar(at: p, in: buffer).value) else { break }
                        end = p
                    }
                }
                return Array(buffer[start..<end])
            }
        }
    }

    /// The normalizer described by `json` (nil for JSON null).
    static func parse(_ json: JSONValue, source: String, field: String = "normalizer") throws -> TextNormalizer? {
        if json.isNull { return nil }
        let type = try TokenizerJSONFields.type(of: json, source: source, field: field)
        switch type {
        case "Replace":
            let (pattern, content) = try TokenizerJSONFields.replacement(json, source: source, field: field)
            return .replace(pattern: pattern, content: content)
        case "Prepend":
            guard let prefix = json["prepend"]?.string else { throw TokenizerError.missingField(source: source, field: field + ".prepend") }
            return .prepend(Array(prefix.utf8))
        case "Sequence":
            guard let list = json["normalizers"]?.array else { throw TokenizerError.missingField(source: source, field: field + ".normalizers") }
            return .sequence(try list.enumerated().compactMap { try parse($1, source: source, field: "\(field).normalizers[\($0)]") })
        case "NFC": return .unicode(.nfc)
        case "NFD": return .unicode(.nfd)
        case "NFKC": return .unicode(.nfkc)
        case "NFKD": return .unicode(.nfkd)
        case "Strip":
            return .strip(left: json["strip_left"]?.bool ?? true, right: json["strip_right"]?.bool ?? true)
        default:
            throw TokenizerError.unsupported(source: source, component: field, type: type)
        }
    }
}

/// Field readers shared by the component parsers.
enum TokenizerJSONFields {
    static func type(of json: JSONValue, source: String, field: String) throws -> String {
        guard case .object = json else {
            throw TokenizerError.invalidField(source: source, field: field, reason: "expected an object or null, found \(json.kindName)")
        }
        guard let type = json["type"]?.string else { throw TokenizerError.missingField(source: source, field: field + ".type") }
        return type
    }

    /// The literal pattern and content of a `Replace` normalizer or decoder.
    static func replacement(_ json: JSONValue, source: String, field: String) throws -> (pattern: [UInt8], content: [UInt8]) {
        let pattern = try literalPattern(json, source: source, field: field)
        guard let content = json["content"]?.string else { throw TokenizerError.missingField(source: source, field: field + ".content") }
        return (pattern, Array(content.utf8))
    }

    /// Metaspace's `prepend_scheme` (default "always"); a legacy `add_prefix_space: false` means "never".
    static func prependScheme(_ json: JSONValue, source: String, field: String) throws -> PreTokenizer.PrependScheme {
        var scheme = PreTokenizer.PrependScheme.always
        if let name = json["prepend_scheme"]?.string {
            guard let parsed = PreTokenizer.PrependScheme(rawValue: name) else {
                throw TokenizerError.invalidField(source: source, field: field + ".prepend_scheme", reason: "unknown scheme '\(name)'")
            }
            scheme = parsed
        }
        if json["add_prefix_space"]?.bool == false { scheme = .never }
        return scheme
    }

    /// A `{"String": "…"}` pattern's bytes; regex patterns are refused (their engine is Oniguruma's).
    static func literalPattern(_ json: JSONValue, source: String, field: String) throws -> [UInt8] {
        guard let pattern = json["pattern"] else { throw TokenizerError.missingField(source: source, field: field + ".pattern") }
        if let literal = pattern["String"]?.string {
            guard !literal.isEmpty else {
                throw TokenizerError.invalidField(source: source, field: field + ".pattern", reason: "empty string pattern")
            }
            return Array(literal.utf8)
        }
        if pattern["Regex"] != nil { throw TokenizerError.unsupported(source: source, component: field + ".pattern", type: "Regex") }
        throw TokenizerError.invalidField(source: source, field: field + ".pattern", reason: "expected {\"String\": …}")
    }
}
