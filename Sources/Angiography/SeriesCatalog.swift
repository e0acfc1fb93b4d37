import DICOM
import Foundation

/// A folder of files grouped into studies and series by UID; a series is the unit of triage.
///
/// UIDs are identifiers that can lead back to a patient: hash them before they reach any output.
public struct SeriesCatalog: Sendable {
    public struct Instance: Sendable, Equatable {
        public var path: String
        public var sopInstanceUID: String?
        public var sopClassUID: String?
        public var instanceNumber: Int?
    }

    public struct Series: Sendable, Equatable {
        public var seriesInstanceUID: String
        public var seriesNumber: Int?
        public var modality: String?
        /// Sorted by Instance Number (files without one last), then path.
        public var instances: [Instance]
    }

    public struct Study: Sendable, Equatable {
        public var studyInstanceUID: String
        public var series: [Series]
    }

    /// A file the scan could not use, and why.
    public struct Rejected: Sendable, Equatable {
        public var path: String
        public var reason: String
    }

    public var studies: [Study]
    public var rejected: [Rejected]

    public var seriesCount: Int { studies.reduce(0) { $0 + $1.series.count } }

    /// What a folder scan found that is not a file to read (a link loop, a broken link, an unreadable
    /// sub-folder); empty for a catalog of given files.
    public var problems: [FolderWalk.Problem] = []

    /// Scans `folder` recursively (hidden files included, symbolic links to files and folders followed, link
    /// loops reported in `problems`); files that are not DICOM or lack Study/Series Instance UIDs go to
    /// `rejected` and the scan goes on.
    public init(scanning folder: URL) throws {
        try self.init(scanningEscaped: EscapedPath.escape(folder.path.utf8))
    }

    /// Scans the folder named by an escaped form (`EscapedPath`); paths found keep that form.
    public init(scanningEscaped folder: String) throws {
        let status = EscapedPath.status(folder)
        guard status.kind == .folder else {
            throw AngiographyError.unsupportedImage(file: folder, reason: status.kind == .missing ? "no such folder" : "not a folder")
        }
        let walk = FolderWalk(folder: folder)
        self.init(paths: walk.files)
        problems = walk.problems
    }

    /// Groups the given files.
    public init(files: [URL]) {
        self.init(paths: files.map { EscapedPath.escape($0.path.utf8) })
    }

    /// Groups the files named by escaped forms (`EscapedPath`).
    public init(paths: [String]) {
        var rejected: [Rejected] = []
        struct Entry { var study: String; var series: String; var seriesNumber: Int?; var modality: String?; var instance: Instance }
        var entries: [Entry] = []
        for path in paths {
            let file: DICOMFile
            do {
                file = try EscapedPath.dicomFile(path)
            } catch {
                rejected.append(Rejected(path: path, reason: "\(error)"))
                continue
            }
            let ds = file.dataset
            guard let study = ds.string(.studyInstanceUID), !study.isEmpty else {
                rejected.append(Rejected(path: path, reason: "no Study Instance UID (0020,000D)"))
                continue
            }
            guard let series = ds.string(.seriesInstanceUID), !series.isEmpty else {
                rejected.append(Rejected(path: path, reason: "no Series Instance UID (0020,000E)"))
                continue
            }
            let instance = Instance(path: path, sopInstanceUID: ds.string(.sopInstanceUID),
                                    sopClassUID: ScopeRouter.sopClassUID(of: file), instanceNumber: ds.int(XATag.instanceNumber))
            entries.append(Entry(study: study, series: series, seriesNumber: ds.int(XATag.seriesNumber),
                                 modality: ds.string(.modality), instance: instance))
        }
        var studies: [Study] = []
        for (studyUID, inStudy) in Dictionary(grouping: entries, by: \.study).sorted(by: { $0.key < $1.key }) {
            var series: [Series] = []
            for (seriesUID, inSeries) in Dictionary(grouping: inStudy, by: \.series) {
                let instances = inSeries.map(\.instance).sorted { a, b in
                    switch (a.instanceNumber, b.instanceNumber) {
                    case let (x?, y?) where x != y: return x < y
                    case (_?, nil): return true
                    case (nil, _?): return false
                    default: return EscapedPath.precedes(a.path, b.path)
                    }
                }
                series.append(Series(seriesInstanceUID: seriesUID, seriesNumber: inSeries.compactMap(\.seriesNumber).first,
                                     modality: inSeries.compactMap(\.modality).first, instances: instances))
            }
            series.sort { ($0.seriesNumber ?? Int.max, $0.seriesInstanceUID) < ($1.seriesNumber ?? Int.max, $1.seriesInstanceUID) }
            studies.append(Study(studyInstanceUID: studyUID, series: series))
        }
        self.studies = studies
        self.rejected = rejected
    }
}
