import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The command's standard output and standard error, written with write(2) so that a write that fails
/// (a full disk, a closed terminal) becomes an error with a message instead of a trap.
///
/// swift-corelibs-foundation's `FileHandle.write(_:)` traps on any write error, and `print` loses the
/// error in its buffer; every command writes through here instead.
enum Console {
    /// The exit status when standard output or standard error could not be written (EX_IOERR, sysexits.h).
    static let ioErrorStatus: Int32 = 74

    /// Set when a write to standard error failed: the messages are lost, and the process must not report
    /// plain success.
    static let diagnosticsLost = Atomic<Bool>(false)

    /// Writes `text` to standard output; throws when it cannot be written.
    static func out(_ text: String) throws {
        if let code = write(text, to: STDOUT_FILENO) {
            throw ConsoleError.writeFailed(stream: "standard output", reason: String(cString: strerror(code)))
        }
    }

    /// Writes `text` to standard error. A failure is remembered (`diagnosticsLost`), not thrown: there is
    /// nowhere left to say it, and the command's real output may still be fine.
    static func err(_ text: String) {
        if write(text, to: STDERR_FILENO) != nil { diagnosticsLost.store(true, ordering: .relaxed) }
    }

    /// Writes all of `text` to `fd`, retrying after EINTR and waiting out EAGAIN; returns errno on failure.
    static func write(_ text: String, to fd: Int32) -> Int32? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer -> Int32? in
            guard let base = buffer.baseAddress else { return nil }
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, base + offset, buffer.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    // A non-blocking descriptor inherited from the caller: wait until it takes more.
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, -1)
                } else {
                    return n < 0 ? errno : EIO
                }
            }
            return nil
        }
    }
}

/// A standard stream that could not be written.
enum ConsoleError: Error, CustomStringConvertible {
    case writeFailed(stream: String, reason: String)

    var description: String {
        switch self {
        case let .writeFailed(stream, reason): return "cannot write to \(stream): \(reason)"
        }
    }
}
