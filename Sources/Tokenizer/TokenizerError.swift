import Foundation

/// Why a tokenizer could not be built. Every case names its source (a file path, or a label such as
/// "GGUF metadata") and says what was expected.
public enum TokenizerError: Error, CustomStringConvertible {
    /// The file could not be read at all.
    case unreadableFile(path: String, reason: String)
    /// The bytes are not well-formed JSON (or not UTF-8); `offset` is the byte where reading stopped.
    case malformedJSON(source: String, offset: Int, reason: String)
    /// A field the tokenizer needs is absent.
    case missingField(source: String, field: String)
    /// A field is present but its value cannot be used.
    case invalidField(source: String, field: String, reason: String)
    /// A component type (model, normalizer, pre-tokenizer, decoder, post-processor) this implementation does not run.
    case unsupported(source: String, component: String, type: String)
    /// Entry `index` of the merges list cannot be used.
    case malformedMerge(source: String, index: Int, reason: String)
    /// The vocabulary itself is inconsistent (sizes, ids, duplicates).
    case invalidVocabulary(source: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "tokenizer file \(path): cannot be read (\(reason))"
        case let .malformedJSON(source, offset, reason):
            return "tokenizer file \(source): malformed JSON at byte \(offset): \(reason)"
        case let .missingField(source, field):
            return "tokenizer \(source): required field '\(field)' is missing"
        case let .invalidField(source, field, reason):
            return "tokenizer \(source): field '\(field)' is invalid: \(reason)"
        case let .unsupported(source, component, type):
            return "tokenizer \(source): \(component) type '\(type)' is not supported"
        case let .malformedMerge(source, index, reason):
            return "tokenizer \(source): merge #\(index) is malformed: \(reason)"
        case let .invalidVocabulary(source, reason):
            return "tokenizer \(source): invalid vocabulary: \(reason)"
        }
    }
}
