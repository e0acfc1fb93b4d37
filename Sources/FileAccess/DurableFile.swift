import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written so that, once `commit` returns, it survives a killed process and a power cut: the bytes
/// are fsynced under a temporary name, renamed into place, and the folder holding the new name is fsynced
/// too. What a sender is told was received must be written this way before the answer goes out.
public final class DurableFile {
    /// Where the file ends up.
    public let destination: URL
    private let temporary: URL
    private var fd: Int32
    /// Bytes written so far.
    public private(set) var byteCount: Int64 = 0

    /// Creates the temporary file beside `destination` (same folder, so the rename is atomic).
    public init(destination: URL) throws {
        self.destination = destination
        temporary = AtomicWrite.temporarySibling(of: destination)
        fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw FileWriteError(path: destination.path, reason: DurableFile.errnoText()) }
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporary.path)
        }
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileWriteError(path: destination.path, reason: DurableFile.errnoText())
            }
            offset += n
        }
        byteCount += Int64(bytes.count)
    }

    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// fsyncs the bytes, renames into place (replacing an existing file) and fsyncs the folder.
    public func commit() throws {
        guard fd >= 0 else { throw FileWriteError(path: destination.path, reason: "already committed or discarded") }
        if fsync(fd) != 0 { throw FileWriteError(path: destination.path, reason: "fsync failed: \(DurableFile.errnoText())") }
        close(fd)
        fd = -1
        if rename(temporary.path, destination.path) != 0 {
            let reason = DurableFile.errnoText()
            unlink(temporary.path)
            throw FileWriteError(path: destination.path, reason: reason)
        }
        try DurableFile.syncFolder(destination.deletingLastPathComponent())
    }

    /// Deletes the temporary file; nothing reaches `destination`.
    public func discard() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        unlink(temporary.path)
    }

    /// Writes `data` durably to `url` in one call.
    public static func write(_ data: Data, to url: URL) throws {
        let file = try DurableFile(destination: url)
        try file.write(data)
        try file.commit()
    }

    /// Moves an existing file (same file system) to `destination` durably: the file's bytes are fsynced
    /// first, then the rename, then both folders.
    public static func move(_ source: URL, to destination: URL) throws {
        let sfd = open(source.path, O_RDONLY | O_CLOEXEC)
        guard sfd >= 0 else { throw FileWriteError(path: source.path, reason: errnoText()) }
        let synced = fsync(sfd) == 0
        close(sfd)
        guard synced else { throw FileWriteError(path: source.path, reason: "fsync failed: \(errnoText())") }
        if rename(source.path, destination.path) != 0 {
            throw FileWriteError(path: destination.path, reason: errnoText())
        }
        try syncFolder(destination.deletingLastPathComponent())
        if source.deletingLastPathComponent().standardizedFileURL != destination.deletingLastPathComponent().standardizedFileURL {
            try syncFolder(source.deletingLastPathComponent())
        }
    }

    /// fsyncs a folder, so that names created, renamed or removed in it persist.
    public static func syncFolder(_ folder: URL) throws {
        let dfd = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw FileWriteError(path: folder.path, reason: errnoText()) }
        defer { close(dfd) }
        if fsync(dfd) != 0 { throw FileWriteError(path: folder.path, reason: "fsync of the folder failed: \(errnoText())") }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
