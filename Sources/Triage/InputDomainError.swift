/// Errors of input-domain records; each names the file at fault.
public enum InputDomainError: Error, CustomStringConvertible, Sendable {
    /// No model image to summarise.
    case noImages(source: String)
    /// A record file that cannot be read or does not hold a valid record.
    case invalid(file: String, reason: String)
    /// A record that could not be written.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .noImages(let s): return "\(s): no model image to compute an input-domain record from"
        case .invalid(let f, let r): return "input-domain record \(f): \(r)"
        case .writeFailed(let p, let r): return "cannot write the input-domain record \(p): \(r)"
        }
    }
}
