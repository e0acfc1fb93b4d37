import DICOM
import Foundation
import Imaging

/// The UIDs of a DICOM file, to check that records carry only their hashes.
enum DICOMFileProbe {
    static func uids(_ url: URL) throws -> (study: String, series: String, instance: String) {
        let f = try DICOMFile(url: url)
        return (f.dataset.string(.studyInstanceUID) ?? "", f.dataset.string(.seriesInstanceUID) ?? "", f.dataset.string(.sopInstanceUID) ?? "")
    }
}

/// Small PNG files made in memory.
enum PNGTestImage {
    static func gray(width: Int, height: Int, value: UInt8) throws -> Data {
        try PNGEncoder.encode(gray: [UInt8](repeating: value, count: width * height), width: width, height: height)
    }
}
