import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file or folder that could not be written, with the system's reason in words.
public struct FileWriteError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): cannot write: \(reason)" }
}
