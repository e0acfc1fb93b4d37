import DICOM
import Foundation
import Imaging

/// One unit of work planned from the inputs a user (or a PACS worker) hands over: what becomes one record.
public enum InputUnit: Sendable, Equatable {
    /// A PNG or JPEG picture, taken as it is; `input` is the folder it was found in (nil: named directly).
    case image(path: String, input: String? = nil)
    /// A DICOM series: its instances (runs), sorted; UIDs nil when the file had none.
    case dicomSeries(input: String, study: String?, series: String?, modality: String?, files: [String])
    /// A file in a folder that is neither DICOM nor a picture (a CSV, a README, a link loop): skipped.
    case skippedFile(path: String, reason: String, input: String? = nil)
    /// An input that cannot be read at all.
    case unreadable(path: String, reason: String, input: String? = nil)

    /// Every file the unit names, in its order.
    public var files: [String] {
        switch self {
        case .image(let p, _), .skippedFile(let p, _, _), .unreadable(let p, _, _): return [p]
        case .dicomSeries(_, _, _, _, let files): return files
        }
    }
}

/// Files and folders → units, the first stage of triage. Pictures and DICOM files are told apart by their
/// first bytes (`ImageDecoder.format(ofHead:)`, `DICOMFile.hasPart10Prefix`); DICOM files are grouped into
/// series by `SeriesCatalog`. Never throws: problems become units, so one bad input never stops a batch.
public enum InputPlanner {
    static let pictureExtensions: Set<String> = ["png", "jpg", "jpeg"]
    static let dicomExtensions: Set<String> = ["dcm", "dicom", "dic", ""]

    /// Turns paths into units, in the order the paths were given: folders are scanned and grouped into
    /// series (their units in byte order of each unit's first file name), DICOM files named directly are
    /// grouped with each other (a series comes where its first file was named), pictures stand alone. Paths
    /// are `EscapedPath` forms (a plain path is its own form; a command-line argument goes through
    /// `EscapedPath.argument`).
    public static func plan(_ paths: [String]) -> [InputUnit] {
        var out: [InputUnit] = []
        // DICOM files named directly: catalogued together so that instances of one series form one unit.
        var explicitDICOM: [String] = []
        enum Kind { case picture, dicom, folder, problem(String) }
        var kinds: [(String, Kind)] = []
        for p in paths {
            switch EscapedPath.status(p).kind {
            case .missing: kinds.append((p, .problem("no such file or folder")))
            case .brokenLink: kinds.append((p, .problem("broken symbolic link (its target does not exist)")))
            case .linkLoop: kinds.append((p, .problem("symbolic link loop: the links never reach a file")))
            case .other: kinds.append((p, .problem("not a regular file or folder (a device, FIFO or socket)")))
            case .folder: kinds.append((p, .folder))
            case .file:
                if isPicture(p) {
                    kinds.append((p, .picture))
                } else {
                    kinds.append((p, .dicom))
                    explicitDICOM.append(p)
                }
            }
        }
        let catalog = SeriesCatalog(paths: explicitDICOM)
        var seriesOfPath: [String: (SeriesCatalog.Study, SeriesCatalog.Series)] = [:]
        for st in catalog.studies { for se in st.series { for i in se.instances { seriesOfPath[i.path] = (st, se) } } }
        let rejected = Dictionary(catalog.rejected.map { ($0.path, $0.reason) }, uniquingKeysWith: { a, _ in a })
        var emitted = Set<String>()
        for (p, kind) in kinds {
            switch kind {
            case .picture: out.append(.image(path: p))
            case .problem(let reason): out.append(.unreadable(path: p, reason: reason))
            case .folder: out += planFolder(p)
            case .dicom:
                if let (st, se) = seriesOfPath[p] {
                    let key = st.studyInstanceUID + "/" + se.seriesInstanceUID
                    if emitted.insert(key).inserted {
                        out.append(.dicomSeries(input: p, study: st.studyInstanceUID, series: se.seriesInstanceUID,
                                                modality: se.modality, files: se.instances.map(\.path)))
                    }
                } else if let reason = rejected[p], lacksSeriesIdentity(reason) {
                    out.append(.dicomSeries(input: p, study: nil, series: nil, modality: nil, files: [p]))
                } else {
                    out.append(.unreadable(path: p, reason: rejected[p] ?? "not a DICOM, PNG or JPEG file"))
                }
            }
        }
        return out
    }

    /// The units of one folder input: every series, picture, skipped or unreadable file found, in byte order
    /// of the unit's first file (a series' first by name).
    public static func planFolder(_ folder: String) -> [InputUnit] {
        let catalog: SeriesCatalog
        do {
            catalog = try SeriesCatalog(scanningEscaped: folder)
        } catch {
            return [.unreadable(path: folder, reason: "\(error)")]
        }
        var units: [(first: String, unit: InputUnit)] = []
        for st in catalog.studies {
            for se in st.series {
                let files = se.instances.map(\.path)
                let first = files.min(by: EscapedPath.precedes) ?? folder
                units.append((first, .dicomSeries(input: folder, study: st.studyInstanceUID, series: se.seriesInstanceUID,
                                                  modality: se.modality, files: files)))
            }
        }
        for r in catalog.rejected {
            let lowerExt = URL(fileURLWithPath: r.path).pathExtension.lowercased()
            if pictureExtensions.contains(lowerExt) || isPicture(r.path) {
                units.append((r.path, .image(path: r.path, input: folder)))
            } else if lacksSeriesIdentity(r.reason) {
                units.append((r.path, .dicomSeries(input: folder, study: nil, series: nil, modality: nil, files: [r.path])))
            } else if dicomExtensions.contains(lowerExt) || isPart10DICOM(r.path) {
                units.append((r.path, .unreadable(path: r.path, reason: r.reason, input: folder)))
            } else {
                units.append((r.path, .skippedFile(path: r.path, reason: "not a DICOM, PNG or JPEG file", input: folder)))
            }
        }
        for p in catalog.problems {
            units.append((p.path, p.isError ? .unreadable(path: p.path, reason: p.reason, input: folder)
                                            : .skippedFile(path: p.path, reason: p.reason, input: folder)))
        }
        return units.sorted { EscapedPath.precedes($0.first, $1.first) }.map(\.unit)
    }

    /// A DICOM file the catalogue could not place for want of a study or series UID: triaged on its own.
    static func lacksSeriesIdentity(_ reason: String) -> Bool {
        reason.hasPrefix("no Study Instance UID") || reason.hasPrefix("no Series Instance UID")
    }

    /// PNG or JPEG by signature.
    public static func isPicture(_ path: String) -> Bool {
        ImageDecoder.format(ofHead: EscapedPath.head(path, ImageDecoder.signatureLength)) != nil
    }

    /// "DICM" after the 128-byte preamble.
    public static func isPart10DICOM(_ path: String) -> Bool {
        DICOMFile.hasPart10Prefix(EscapedPath.head(path, DICOMFile.prefixLength))
    }
}
