import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file being written: unbuffered `write(2)` calls (callers hand over whole headers or tensors), errors
/// that name the path, and removal of the partial file when writing does not finish.
final class FileSink {
    let path: String
    private var fd: Int32
    private(set) var bytesWritten = 0
    private var finished = false

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ModelFileError.writeFailed(path: path, reason: "open: " + String(cString: strerror(errno)))
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Foundation.write(fd, p, min(left, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelFileError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
            p += n
            left -= n
            bytesWritten += n
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ string: String) throws {
        try write(Array(string.utf8))
    }

    /// Closes the file; it is complete.
    func finish() throws {
        finished = true
        let rc = close(fd)
        fd = -1
        if rc != 0 {
            throw ModelFileError.writeFailed(path: path, reason: "close: " + String(cString: strerror(errno)))
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !finished { unlink(path) }
    }
}

/// Minimal JSON string literal encoding (quotes, backslash, control characters escaped; UTF-8 kept).

