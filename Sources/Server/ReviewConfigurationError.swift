import Foundation

/// Why the review UI's settings cannot be used; each case names the setting and what is expected.
public enum ReviewConfigurationError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The viewer URL template is not an absolute http(s) URL or lacks the study placeholder.
    case invalidViewerTemplate(String, reason: String)
    /// The image folder does not exist or is not a folder.
    case imageDirectory(path: String, reason: String)
    case invalidDuration(setting: String, seconds: Double)
    case invalidLimit(setting: String, value: Int)

    public var description: String {
        switch self {
        case .invalidViewerTemplate(let template, let reason):
            return "viewer URL template \(template): \(reason)"
        case .imageDirectory(let path, let reason):
            return "image folder \(path): \(reason)"
        case .invalidDuration(let setting, let seconds):
            return "\(setting) must be a positive number of seconds (got \(seconds))"
        case .invalidLimit(let setting, let value):
            return "\(setting) must be at least 1 (got \(value))"
        }
    }

    public var errorDescription: String? { description }
}
