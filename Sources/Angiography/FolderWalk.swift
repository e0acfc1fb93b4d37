import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A recursive folder scan over raw file names: every name is kept (as its escaped form, see
/// `EscapedPath`) whether or not it is UTF-8, symbolic links to files and folders are followed, and a
/// link that leads back into a folder being scanned is reported instead of followed for ever.
public struct FolderWalk: Sendable {
    /// Something found that is not a readable regular file, and why it was not read.
    public struct Problem: Sendable, Equatable {
        public var path: String
        public var reason: String
        /// True for what cannot be read (a folder without permission); false for what is merely left
        /// out (a link loop, a broken link, a FIFO).
        public var isError: Bool
    }

    /// Regular files found (escaped forms), in byte order of their paths.
    public var files: [String] = []
    public var problems: [Problem] = []

    /// Scans `folder` (an escaped form; the paths found start with it).
    public init(folder: String) {
        let root = EscapedPath.status(folder)
        var ancestors: [EscapedPath.FileID: String] = [:]
        var visited: [EscapedPath.FileID: String] = [:]
        if let id = root.id { visited[id] = folder }
        walk(folder, id: root.id, ancestors: &ancestors, visited: &visited)
        files.sort(by: EscapedPath.precedes)
        problems.sort { EscapedPath.precedes($0.path, $1.path) }
    }

    /// Names in one folder (raw bytes, without "." and ".."), or the system's reason it cannot be listed.
    static func list(_ folder: String) -> Result<[[UInt8]], AngiographyError> {
        guard let dir = EscapedPath.withCPath(folder, { opendir($0) }) else {
            return .failure(.unreadable(file: folder, reason: String(cString: strerror(errno))))
        }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [46] || name == [46, 46] { continue }
            names.append(name)
        }
        // Byte order, so that which of two names reaching one folder scans it does not depend on readdir.
        return .success(names.sorted { $0.lexicographicallyPrecedes($1) })
    }

    mutating func walk(_ folder: String, id: EscapedPath.FileID?, ancestors: inout [EscapedPath.FileID: String],
                       visited: inout [EscapedPath.FileID: String]) {
        let names: [[UInt8]]
        switch Self.list(folder) {
        case .success(let n): names = n
        case .failure(let e):
            problems.append(Problem(path: folder, reason: "folder cannot be read: \(Self.reason(e))", isError: true))
            return
        }
        if let id { ancestors[id] = folder }
        defer { if let id { ancestors[id] = nil } }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        for name in names {
            let path = prefix + EscapedPath.escape(name)
            let (kind, childID) = EscapedPath.status(path)
            switch kind {
            case .file:
                files.append(path)
            case .folder:
                guard let childID else { continue }
                if ancestors[childID] != nil {
                    // The ancestor is not named: it lies beneath the folder input too, and its name is shown only as
                    // the record's own path is (see PathDisplay).
                    problems.append(Problem(path: path, reason: "symbolic link loop: leads back to a folder that contains it", isError: false))
                } else if visited[childID] != nil {
                    problems.append(Problem(path: path, reason: "a folder already scanned under another name", isError: false))
                } else {
                    visited[childID] = path
                    walk(path, id: childID, ancestors: &ancestors, visited: &visited)
                }
            case .linkLoop:
                problems.append(Problem(path: path, reason: "symbolic link loop: the links never reach a file", isError: false))
            case .brokenLink:
                problems.append(Problem(path: path, reason: "broken symbolic link", isError: false))
            case .missing:
                problems.append(Problem(path: path, reason: "vanished during the scan", isError: true))
            case .other:
                problems.append(Problem(path: path, reason: "not a regular file (a device, FIFO or socket)", isError: false))
            }
        }
    }

    static func reason(_ e: AngiographyError) -> String {
        if case let .unreadable(_, r) = e { return r }
        return e.description
    }
}
