import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes that never leave a half-written file under the final name: the bytes go to a temporary name in
/// the same directory, which is then renamed over the target (rename is atomic within one file system).
public enum AtomicWrite {
    /// A temporary sibling of `url` (hidden, unique to this process and call).
    public static func temporarySibling(of url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
    }

    /// Writes `data` to `url` through a temporary file.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { tmp in try data.withUnsafeBytes { try writeAll($0, to: tmp) } }
    }

    /// Writes UTF-8 `text` to `url` through a temporary file.
    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    /// Lets `produce` write a temporary file, then renames it to `url`; the temporary file is removed on error.
    /// Errors of `produce` that are already typed pass through; Foundation's become a `FileWriteError`
    /// naming `url` and the system's reason.
    public static func write(to url: URL, _ produce: (URL) throws -> Void) throws {
        let tmp = temporarySibling(of: url)
        do {
            try produce(tmp)
            try replace(url, with: tmp)
        } catch let error as FileWriteError {
            unlink(tmp.path)
            // The temporary name means nothing to the reader: name the file being written.
            throw error.path == tmp.path ? FileWriteError(path: url.path, reason: error.reason) : error
        } catch {
            unlink(tmp.path)
            let ns = error as NSError
            guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { throw error }
            throw FileWriteError(path: url.path, reason: SystemErrorText.reason(for: error))
        }
    }

    /// Renames `source` to `target`, replacing a file there (rename(2) semantics).
    public static func replace(_ target: URL, with source: URL) throws {
        guard rename(source.path, target.path) == 0 else {
            throw FileWriteError(path: target.path, reason: "rename from \(source.lastPathComponent): " + String(cString: strerror(errno)))
        }
    }

    /// Creates (or truncates) `url` and writes all of `bytes`, retrying after EINTR; errors name `url`.
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileWriteError(path: url.path, reason: String(cString: strerror(errno))) }
        var offset = 0
        while offset < bytes.count, let base = bytes.baseAddress {
            let n = Glibc.write(fd, base + offset, min(bytes.count - offset, 1 << 30))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let code = n < 0 ? errno : EIO
                close(fd)
                throw FileWriteError(path: url.path, reason: String(cString: strerror(code)))
            }
            offset += n
        }
        // close reports deferred write errors (NFS, quota).
        guard close(fd) == 0 else { throw FileWriteError(path: url.path, reason: String(cString: strerror(errno))) }
    }
}
