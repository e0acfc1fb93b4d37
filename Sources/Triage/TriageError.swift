/// Errors of the triage pipeline; each names the file or the field at fault.
public enum TriageError: Error, CustomStringConvertible, Sendable {
    case invalidProfile(file: String, field: String, reason: String)
    case unreadableInput(path: String, reason: String)
    case unsupportedInput(path: String, reason: String)
    case scoring(String)
    case invalidArgument(String)
    /// A manifest row the pipeline cannot run (a missing or unreadable input).
    case badManifestRow(file: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case .invalidProfile(let file, let field, let reason): return "task profile \(file): field \(field): \(reason)"
        case .unreadableInput(let path, let reason): return "\(path): cannot be read: \(reason)"
        case .unsupportedInput(let path, let reason): return "\(path): \(reason)"
        case .scoring(let s): return "label scoring: \(s)"
        case .invalidArgument(let s): return s
        case .badManifestRow(let f, let l, let r): return "\(f):\(l): \(r)"
        }
    }
}
