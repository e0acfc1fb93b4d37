import FileAccess
import Foundation
import Logging

/// A folder that storescp (dcmtk) or a router writes instances into, for sites without Orthanc. A file is
/// taken once it has stopped changing (same size and time on two looks, at least `quietSeconds` old):
/// it is moved into the spool's staging folder, validated and filed under its series; a file that is not
/// usable DICOM goes to the spool's `rejected/` folder with a log line. File names are never logged —
/// storescp names files after their SOP Instance UID.
public final class InboxSource: @unchecked Sendable {
    public let folder: URL
    public let spool: Spool
    public var quietSeconds: Double
    private let logger: Logger
    private let onStored: @Sendable (Int64) -> Void
    private var lastSeen: [String: (Int64, Date)] = [:]

    public init(folder: URL, spool: Spool, quietSeconds: Double = 2, logger: Logger, onStored: @escaping @Sendable (Int64) -> Void = { _ in }) throws {
        self.folder = folder
        self.spool = spool
        self.quietSeconds = quietSeconds
        self.logger = logger
        self.onStored = onStored
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// One look at the folder (and its sub-folders: storescp can sort by study). Returns files taken.
    @discardableResult
    public func poll(now: Date = Date()) -> (stored: Int, rejected: Int) {
        var stored = 0, rejected = 0
        let fm = FileManager.default
        guard let walker = fm.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey, .contentModificationDateKey],
                                         options: [.skipsHiddenFiles]) else { return (0, 0) }
        var seenNow: [String: (Int64, Date)] = [:]
        for case let file as URL in walker {
            guard let values = try? file.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey, .contentModificationDateKey]),
                  values.isRegularFile == true else { continue }
            let size = Int64(values.fileSize ?? 0)
            let mtime = values.contentModificationDate ?? now
            let previous = lastSeen[file.path]
            seenNow[file.path] = (size, mtime)
            guard let previous, previous.0 == size, previous.1 == mtime, now.timeIntervalSince(mtime) >= quietSeconds else { continue }
            seenNow[file.path] = nil
            let staged = spool.staging.appendingPathComponent(UUID().uuidString + ".part")
            do {
                try take(file, to: staged)
            } catch {
                logger.error("inbox file could not be moved into the spool (will retry)", metadata: ["error": "\(SystemErrorText.reason(for: error))"])
                continue
            }
            switch spool.accept(file: staged, studyInstanceUID: nil, keepRejected: true) {
            case .stored(_, let series, let bytes):
                stored += 1
                onStored(bytes)
                logger.debug("inbox instance stored", metadata: ["series": "\(series.rawValue.prefix(16))", "bytes": "\(bytes)"])
            case .failed(_, _, let reason, let message):
                rejected += 1
                logger.warning("inbox file rejected (kept in the spool's rejected/ folder)",
                               metadata: ["reason": "\(String(format: "0x%04X", reason))", "error": "\(message)"])
            }
        }
        lastSeen = seenNow
        return (stored, rejected)
    }

    /// Moves (same file system) or copies durably then removes (another file system).
    private func take(_ file: URL, to staged: URL) throws {
        if rename(file.path, staged.path) == 0 { return }
        guard errno == EXDEV else { throw FileWriteError(path: file.path, reason: String(cString: strerror(errno))) }
        let out = try DurableFile(destination: staged)
        guard let input = FileHandle(forReadingAtPath: file.path) else { throw FileWriteError(path: file.path, reason: "cannot be read") }
        defer { try? input.close() }
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty { try out.write(chunk) }
        try out.commit()
        try FileManager.default.removeItem(at: file)
    }
}
