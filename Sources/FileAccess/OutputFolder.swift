import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Output folders made with the reason for a failure in words (Foundation's errors say
/// `NSCocoaErrorDomain Code=512 "(null)"`).
public enum OutputFolder {
    /// Creates `url` and any missing parents (like `mkdir -p`); an existing folder is fine. Throws
    /// `FileWriteError` naming the first path that could not be made and the system's reason.
    public static func create(_ url: URL) throws {
        let path = url.standardizedFileURL.path
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw FileWriteError(path: path, reason: "exists and is not a folder")
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try create(URL(fileURLWithPath: parent)) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw FileWriteError(path: path, reason: "cannot create folder: " + String(cString: strerror(errno)))
        }
    }
}
