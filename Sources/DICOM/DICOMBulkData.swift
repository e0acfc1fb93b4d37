#if canImport(Glibc)
import Glibc
#endif
import FileAccess
import Foundation

/// A large value left in its file: the byte range of a Pixel Data value that is read a frame at a time when
/// decoded, so that a 100-frame run never sits in memory whole. The file is opened per read (a series of a
/// thousand instances must not hold a thousand descriptors); a file that shrank or vanished since it was
/// parsed is a clear error, never a crash.
public final class DICOMBulkData: Sendable {
    /// The file's path.
    public let path: String
    /// The file as messages name it.
    public let source: String
    /// Offset of the value's first byte in the file.
    public let offset: Int
    /// Length of the value in bytes.
    public let count: Int

    init(path: String, source: String, offset: Int, count: Int) {
        self.path = path
        self.source = source
        self.offset = offset
        self.count = count
    }

    /// Reads `range` (relative to the value's start, clamped to it).
    public func read(_ range: Range<Int>) throws -> [UInt8] {
        let lower = max(0, min(range.lowerBound, count)), upper = max(lower, min(range.upperBound, count))
        let wanted = upper - lower
        guard wanted > 0 else { return [] }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DICOMError.unreadable(file: source, reason: "cannot reopen for its pixel data: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: wanted)
        var filled = 0
        let failure: Int32? = buffer.withUnsafeMutableBytes { out -> Int32? in
            guard let base = out.baseAddress else { return nil }
            while filled < wanted {
                let n = pread(fd, base + filled, wanted - filled, off_t(offset + lower + filled))
                if n > 0 { filled += n } else if n < 0 && errno == EINTR { continue } else if n < 0 { return errno } else { break }
            }
            return nil
        }
        if let failure {
            throw DICOMError.unreadable(file: source, reason: "cannot read its pixel data: \(String(cString: strerror(failure)))")
        }
        guard filled == wanted else {
            throw DICOMError.pixelData(file: source, reason:
                "the file is shorter than when it was read (pixel data byte \(offset + lower + filled) missing); was it changed?")
        }
        return buffer
    }
}

/// A file whose large values may be left on disk: its path, and its name in messages.
struct BulkSource {
    let path: String
    let source: String
}

/// Native pixel bytes: in memory, or left in the file and read a frame at a time.
public enum NativePixelBytes: Sendable {
    case memory([UInt8])
    case file(DICOMBulkData)

    /// Length of the value in bytes.
    public var count: Int {
        switch self {
        case let .memory(b): return b.count
        case let .file(f): return f.count
        }
    }

    /// The bytes in `range` (clamped to the value).
    public func read(_ range: Range<Int>) throws -> [UInt8] {
        switch self {
        case let .memory(b):
            let lower = max(0, min(range.lowerBound, b.count)), upper = max(lower, min(range.upperBound, b.count))
            return Array(b[lower..<upper])
        case let .file(f):
            return try f.read(range)
        }
    }

    /// Every byte (reads the whole value: for small values and tests).
    public func all() throws -> [UInt8] { try read(0..<count) }
}
