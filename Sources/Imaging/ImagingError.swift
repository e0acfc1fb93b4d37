import Foundation

/// Everything that can go wrong reading, converting, preprocessing or writing an image. Each case names the file
/// (or the caller's label for in-memory data) and what was wrong.
public enum ImagingError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    /// The leading bytes match no supported format (PNG or JPEG).
    case notAnImage(source: String, detail: String)
    case emptyImage(source: String, width: Int, height: Int)
    /// Refused from the header alone, before any pixel memory is allocated.
    case tooLarge(source: String, width: Int, height: Int, limit: String)
    /// Truncated or damaged data, as reported by the codec.
    case corrupt(source: String, format: String, reason: String)
    case unsupported(source: String, format: String, feature: String)
    /// A preprocessor config that cannot be parsed or has an invalid value.
    case invalidConfig(file: String, option: String, reason: String)
    /// A valid preprocessor config option this implementation does not reproduce.
    case unsupportedConfig(file: String, option: String, value: String, reason: String)
    case invalidArgument(String)
    case encodeFailed(destination: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file"
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .notAnImage(let source, let detail):
            return "\(source): not a PNG or JPEG image (\(detail))"
        case .emptyImage(let source, let width, let height):
            return "\(source): empty image (\(width)x\(height))"
        case .tooLarge(let source, let width, let height, let limit):
            return "\(source): image of \(width)x\(height) pixels is larger than the limit (\(limit)); refused before decoding"
        case .corrupt(let source, let format, let reason):
            return "\(source): corrupt or truncated \(format) data: \(reason)"
        case .unsupported(let source, let format, let feature):
            return "\(source): unsupported \(format): \(feature)"
        case .invalidConfig(let file, let option, let reason):
            return "\(file): invalid '\(option)': \(reason)"
        case .unsupportedConfig(let file, let option, let value, let reason):
            return "\(file): '\(option)' = \(value) is not supported: \(reason)"
        case .invalidArgument(let message):
            return message
        case .encodeFailed(let destination, let reason):
            return "\(destination): PNG encoding failed: \(reason)"
        case .writeFailed(let path, let reason):
            return "\(path): cannot write: \(reason)"
        }
    }
}
