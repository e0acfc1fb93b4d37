/// What is wrong with a monitoring request: a configuration out of range or a reference that cannot be used.
public enum MonitoringError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A configuration field out of its allowed range (field name, value, what is allowed).
    case invalidConfiguration(field: String, value: String, expected: String)
    /// A reference distribution field that cannot be used (field name, what is wrong).
    case invalidReference(field: String, problem: String)
    /// An output file could not be written (file name, the system's reason).
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(field, value, expected):
            return "monitoring configuration: \(field) is \(value), expected \(expected)"
        case let .invalidReference(field, problem):
            return "reference distribution: \(field) \(problem)"
        case let .writeFailed(file, reason):
            return "monitoring output \(file) could not be written: \(reason)"
        }
    }
}
