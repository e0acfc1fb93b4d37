import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a path names, checked before a file is opened: a folder or a FIFO given as a file must be told
/// apart from a missing file, and a FIFO must never be opened (that blocks until a writer comes).
public enum FileKind: Equatable, Sendable {
    case regular
    case missing
    case folder
    case fifo
    case socket
    case device
    /// stat(2) failed for another reason (permission, loop), with errno's text.
    case inaccessible(String)

    /// The kind of `path`, following symbolic links.
    public static func of(_ path: String) -> FileKind {
        var st = stat()
        guard stat(path, &st) == 0 else {
            return errno == ENOENT || errno == ENOTDIR ? .missing : .inaccessible(String(cString: strerror(errno)))
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .folder
        case S_IFIFO: return .fifo
        case S_IFSOCK: return .socket
        default: return .device
        }
    }

    /// Why `path` cannot be read as a file, in words; nil for a regular file.
    public static func notAFileReason(_ path: String) -> String? {
        switch of(path) {
        case .regular: return nil
        case .missing: return "no such file or folder"
        case .folder: return "is a folder, not a file"
        case .fifo: return "is a FIFO (named pipe), not a regular file"
        case .socket: return "is a socket, not a regular file"
        case .device: return "is a device, not a regular file"
        case let .inaccessible(reason): return "cannot be read: \(reason)"
        }
    }
}
