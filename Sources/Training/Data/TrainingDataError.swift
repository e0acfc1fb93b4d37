/// Problems with training data; each names the manifest file and, where there is one, the line.
public enum TrainingDataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A row that cannot be used (missing file, label outside the vocabulary, duplicate, …).
    case badRow(file: String, line: Int, reason: String)
    /// Every row of the manifest has one label: nothing to tell apart.
    case oneClass(file: String, label: String, rows: Int)
    /// The manifest (or a setting applied to it) is unusable as a whole.
    case invalid(file: String, reason: String)
    /// A value outside its allowed range (selection criterion, balance mode, sampler state).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .badRow(let f, let l, let r): return "\(f):\(l): \(r)"
        case .oneClass(let f, let label, let n):
            return "\(f): all \(n) usable row(s) are labelled \"\(label)\"; training needs examples of both classes"
        case .invalid(let f, let r): return "\(f): \(r)"
        case .invalidArgument(let s): return s
        }
    }
}
