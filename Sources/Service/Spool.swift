import DICOM
import FileAccess
import Foundation
import Triage
import WorkerQueue

/// The worker's folder of received instances. Anything acknowledged to a sender (a STOW-RS part, a file
/// taken from the inbox) is here, fsynced, before the acknowledgement. Layout:
///
///     staging/                  parts being received (same file system, so a rename finishes them)
///     series/<series key>/      one series' instances, named by the hash of their SOP Instance UID
///     downloads/<job id>/       instances fetched from Orthanc for one job
///     rejected/                 inbox files that were not usable DICOM, kept for the operator
///
/// Names are hashes, so the spool's paths carry no identifiers.
public struct Spool: Sendable {
    public let root: URL

    public var staging: URL { root.appendingPathComponent("staging", isDirectory: true) }
    public var seriesRoot: URL { root.appendingPathComponent("series", isDirectory: true) }
    public var downloads: URL { root.appendingPathComponent("downloads", isDirectory: true) }
    public var rejected: URL { root.appendingPathComponent("rejected", isDirectory: true) }

    /// Opens (creating) the spool's folders; stale staging files from a killed process are removed —
    /// they were never acknowledged.
    public init(root: URL) throws {
        self.root = root
        for folder in [root, staging, seriesRoot, downloads, rejected] {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw FileWriteError(path: folder.path, reason: SystemErrorText.reason(for: error))
            }
        }
        if let stale = try? FileManager.default.contentsOfDirectory(at: staging, includingPropertiesForKeys: nil) {
            for file in stale { try? FileManager.default.removeItem(at: file) }
        }
    }

    public func folder(for series: SeriesKey) -> URL { seriesRoot.appendingPathComponent(series.rawValue, isDirectory: true) }

    /// The file name of an instance in its series folder.
    public static func fileName(sopInstanceUID: String) -> String { UIDHash.hash(sopInstanceUID) + ".dcm" }

    /// What became of a file offered to the spool.
    public enum Acceptance: Sendable, Equatable {
        /// Durably stored (or already there with the same SOP Instance UID: replaced, still one instance).
        case stored(InstanceHeader, series: SeriesKey, bytes: Int64)
        case failed(sopClassUID: String?, sopInstanceUID: String?, reason: UInt16, message: String)
    }

    /// Validates a received file (a STOW-RS part or an inbox file) and moves it durably into its series
    /// folder. The file is consumed: moved when stored, deleted when failed (unless `keepRejected`).
    /// - Parameter studyInstanceUID: the study the sender addressed (`/studies/{study}`); a part of another
    ///   study fails alone.
    public func accept(file: URL, studyInstanceUID: String?, keepRejected: Bool = false) -> Acceptance {
        let header: InstanceHeader
        do {
            (header, _) = try InstanceHeader.read(file)
        } catch {
            reject(file, keep: keepRejected)
            return .failed(sopClassUID: nil, sopInstanceUID: nil, reason: error.reason, message: error.message)
        }
        if let studyInstanceUID, studyInstanceUID != header.studyInstanceUID {
            reject(file, keep: keepRejected)
            return .failed(sopClassUID: header.sopClassUID, sopInstanceUID: header.sopInstanceUID, reason: 0xA900,
                           message: "the instance belongs to another study than the request's")
        }
        let series = SeriesKey.hashing(uid: header.seriesInstanceUID)
        let folder = folder(for: series)
        let target = folder.appendingPathComponent(Spool.fileName(sopInstanceUID: header.sopInstanceUID))
        do {
            if !FileManager.default.fileExists(atPath: folder.path) {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try DurableFile.syncFolder(seriesRoot)
            }
            let size = ((try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber)?.int64Value ?? 0
            try DurableFile.move(file, to: target)
            return .stored(header, series: series, bytes: size)
        } catch {
            try? FileManager.default.removeItem(at: file)
            return .failed(sopClassUID: header.sopClassUID, sopInstanceUID: header.sopInstanceUID, reason: 0xA700,
                           message: "could not store the instance: \(SystemErrorText.reason(for: error))")
        }
    }

    private func reject(_ file: URL, keep: Bool) {
        if keep {
            let name = "\(Int(Date().timeIntervalSince1970))-\(UUID().uuidString.prefix(8))-\(file.lastPathComponent)"
            if (try? FileManager.default.moveItem(at: file, to: rejected.appendingPathComponent(name))) != nil { return }
        }
        try? FileManager.default.removeItem(at: file)
    }

    /// The series folders with their instance files (hidden temporaries ignored) and the newest change.
    public func seriesFolders() -> [(series: SeriesKey, files: [URL], newest: Date)] {
        let fm = FileManager.default
        guard let folders = try? fm.contentsOfDirectory(at: seriesRoot, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles]) else {
            return []
        }
        var out: [(SeriesKey, [URL], Date)] = []
        for folder in folders {
            guard let files = try? fm.contentsOfDirectory(at: folder, includingPropertiesForKeys: [.contentModificationDateKey],
                                                          options: [.skipsHiddenFiles]) else { continue }
            let dicom = files.filter { $0.pathExtension == "dcm" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
            let newest = dicom.compactMap { try? $0.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate }.max()
            let folderDate = (try? folder.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
            out.append((SeriesKey(rawValue: folder.lastPathComponent), dicom, max(newest ?? .distantPast, folderDate)))
        }
        return out
    }

    /// A fresh folder for one job's downloads (emptied if a killed attempt left files).
    public func downloadFolder(job: Int64) throws -> URL {
        let folder = downloads.appendingPathComponent("job-\(job)", isDirectory: true)
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    public func removeDownloads(job: Int64) {
        try? FileManager.default.removeItem(at: downloads.appendingPathComponent("job-\(job)", isDirectory: true))
    }
}
