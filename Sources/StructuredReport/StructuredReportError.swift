import DICOM

/// Why a structured report could not be built or written. Messages name the attribute or input field and what
/// is wrong; they quote UIDs only (which cannot hold a name) and never a patient attribute's value.
public enum StructuredReportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The source dataset lacks an attribute the report needs (e.g. StudyInstanceUID).
    case missingSourceAttribute(name: String, tag: DICOMTag)
    /// The source dataset has the attribute but its value cannot be used.
    case invalidSourceAttribute(name: String, tag: DICOMTag, reason: String)
    /// A field of the report input is missing or out of range.
    case invalidInput(field: String, reason: String)
    /// The DICOM encoder refused the dataset.
    case encodingFailed(reason: String)
    /// The file could not be written.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingSourceAttribute(name, tag):
            return "structured report: the source dataset lacks \(name) \(tag)"
        case let .invalidSourceAttribute(name, tag, reason):
            return "structured report: the source's \(name) \(tag) is unusable: \(reason)"
        case let .invalidInput(field, reason):
            return "structured report: \(field): \(reason)"
        case let .encodingFailed(reason):
            return "structured report: cannot encode: \(reason)"
        case let .writeFailed(path, reason):
            return "\(path): cannot write the structured report: \(reason)"
        }
    }
}
