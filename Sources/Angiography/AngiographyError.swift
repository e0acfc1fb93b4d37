/// Why a file could not be turned into a model image; names the file and what was wrong.
public enum AngiographyError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An attribute the pipeline needs has a value it cannot use.
    case invalidAttribute(file: String, attribute: String, reason: String)
    /// The image is of a kind the display pipeline does not handle (colour, no pixel data).
    case unsupportedImage(file: String, reason: String)
    /// Decoded frames disagree with the header or with each other.
    case inconsistentFrames(file: String, reason: String)
    /// A file or folder that cannot be opened or read (the system's reason).
    case unreadable(file: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidAttribute(f, a, r): return "\(f): \(a): \(r)"
        case let .unsupportedImage(f, r): return "\(f): unsupported image: \(r)"
        case let .inconsistentFrames(f, r): return "\(f): frames: \(r)"
        case let .unreadable(f, r): return "\(f): cannot read: \(r)"
        }
    }
}
