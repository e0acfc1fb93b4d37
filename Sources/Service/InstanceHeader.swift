import DICOM
import Foundation

/// What the worker needs from one received instance's header: its place in the study hierarchy and its
/// size. The UIDs are kept in memory (the SR write-back needs them) and hashed before anything is logged
/// or stored.
public struct InstanceHeader: Sendable, Equatable {
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var sopInstanceUID: String
    public var sopClassUID: String
    public var modality: String?
    public var instanceNumber: Int?
    public var numberOfFrames: Int
    /// ImagesInAcquisition (0020,1002) when the modality states how many instances the series should have.
    public var expectedInstances: Int?

    /// Why a file cannot be taken, in words without identifiers, with the PS3.4 failure code STOW-RS reports.
    public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: UInt16
        public var message: String
        public var description: String { message }
    }

    /// Reads the header of a Part 10 file.
    public static func read(_ url: URL) throws(Rejection) -> (InstanceHeader, DICOMDataset) {
        let file: DICOMFile
        do {
            file = try DICOMFile(url: url)
        } catch {
            throw Rejection(reason: 0xC000, message: "not a readable DICOM Part 10 file: \(error)")
        }
        return try read(file)
    }

    public static func read(_ file: DICOMFile) throws(Rejection) -> (InstanceHeader, DICOMDataset) {
        let d = file.dataset
        func uid(_ g: UInt16, _ e: UInt16, _ name: String) throws(Rejection) -> String {
            guard let v = d.string(DICOMTag(g, e))?.trimmingCharacters(in: CharacterSet(charactersIn: " \0")), !v.isEmpty else {
                throw Rejection(reason: 0xA900, message: "missing \(name) (\(String(format: "%04X,%04X", g, e)))")
            }
            guard v.count <= 64, v.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else {
                throw Rejection(reason: 0xA900, message: "\(name) is not a valid UID")
            }
            return v
        }
        let header = InstanceHeader(
            studyInstanceUID: try uid(0x0020, 0x000D, "Study Instance UID"),
            seriesInstanceUID: try uid(0x0020, 0x000E, "Series Instance UID"),
            sopInstanceUID: try uid(0x0008, 0x0018, "SOP Instance UID"),
            sopClassUID: try uid(0x0008, 0x0016, "SOP Class UID"),
            modality: d.string(DICOMTag(0x0008, 0x0060)),
            instanceNumber: d.int(DICOMTag(0x0020, 0x0013)),
            numberOfFrames: max(1, d.int(DICOMTag(0x0028, 0x0008)) ?? 1),
            expectedInstances: d.int(DICOMTag(0x0020, 0x1002)))
        return (header, d)
    }
}
