/// Problems with training data; each names the manifest file and, where there is one, the line.
public enum TrainingDataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A row that cannot be used (missing file, label outside the vocabulary, duplicate, …).
    case badRow(file: String, line: Int, reason: String)
    /// Several rows that cannot be used, each with its line and reason, in file order.
    case badRows(file: String, rows: [SkippedRow], total: Int)
    /// Every row of the manifest has one label: nothing to tell apart.
    case oneClass(file: String, label: String, rows: Int)
    /// The manifest (or a setting applied to it) is unusable as a whole.
    case invalid(file: String, reason: String)
    /// A value outside its allowed range (selection criterion, balance mode, sampler state).
    case invalidArgument(String)

    /// Bad rows named one by one in a message; the rest are counted.
    static let listedRows = 20

    public var description: String {
        switch self {
        case .badRow(let f, let l, let r): return "\(f):\(l): \(r)"
        case .badRows(let f, let rows, let total):
            let listed = rows.prefix(Self.listedRows).map { "  \(f):\($0.line): \($0.reason)" }
            let more = rows.count > Self.listedRows ? ["  … and \(rows.count - Self.listedRows) more"] : []
            return (["\(f): \(rows.count) of \(total) rows cannot be used (fix them, or pass --skip-bad-rows to train without them):"]
                + listed + more).joined(separator: "\n")
        case .oneClass(let f, let label, let n):
            return "\(f): all \(n) usable row(s) are labelled \"\(label)\"; training needs examples of both classes"
        case .invalid(let f, let r): return "\(f): \(r)"
        case .invalidArgument(let s): return s
        }
    }
}
