import Tables

/// Problems with evaluation inputs; each names the file and, where there is one, the line.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case badRow(file: String, line: Int, reason: String)
    case missingColumn(file: String, column: String)
    case empty(file: String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "\(f): \(r)"
        case .badRow(let f, let l, let r): return "\(f):\(l): \(r)"
        case .missingColumn(let f, let c): return "\(f): no \"\(c)\" column"
        case .empty(let f): return "\(f): no data rows"
        case .invalid(let s): return s
        }
    }
}

extension EvaluationError {
    /// The same failure of a manifest or prediction table, as evaluation reports it.
    init(_ e: TableError) {
        switch e {
        case .unreadable(let f, let r): self = .unreadable(file: f, reason: r)
        case .badRow(let f, let l, let r): self = .badRow(file: f, line: l, reason: r)
        case .empty(let f): self = .empty(file: f)
        }
    }

    /// Reads a table file, its failures as evaluation errors.
    static func readTable(path: String) throws -> TableFile {
        do { return try TableFile.read(path: path) } catch let e as TableError { throw EvaluationError(e) }
    }
}
