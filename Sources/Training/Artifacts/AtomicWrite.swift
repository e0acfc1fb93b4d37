import Foundation

/// Writes that never leave a half-written file under the final name: the bytes go to a temporary name in
/// the same directory, which is then renamed over the target (rename is atomic within one file system).
enum AtomicWrite {
    /// A temporary sibling of `url` (hidden, unique to this process and call).
    static func temporarySibling(of url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
    }

    /// Writes `data` to `url` through a temporary file.
    static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { tmp in try data.write(to: tmp) }
    }

    /// Lets `produce` write a temporary file, then renames it to `url`; the temporary file is removed on error.
    static func write(to url: URL, _ produce: (URL) throws -> Void) throws {
        let tmp = temporarySibling(of: url)
        do {
            try produce(tmp)
            try replace(url, with: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            if error is TrainingArtifactError { throw error }
            throw TrainingArtifactError.writeFailed(path: url.path, reason: "\(error)")
        }
    }

    /// Renames `source` to `target`, replacing a file there (rename(2) semantics).
    static func replace(_ target: URL, with source: URL) throws {
        guard rename(source.path, target.path) == 0 else {
            throw TrainingArtifactError.writeFailed(path: target.path, reason: "rename from \(source.lastPathComponent): " + String(cString: strerror(errno)))
        }
    }
}
