import DICOM
import Foundation

/// Copies the Patient and General Study modules from the source into the report, so that the PACS files the
/// report under the same patient and study.
enum SourceModules {
    /// (tag, VR, required-empty-if-absent): Type 2 attributes are written empty when the source lacks them.
    static let patient: [(DICOMTag, DICOMVR, Bool)] = [
        (.patientName, .PN, true),
        (.patientID, .LO, true),
        (DICOMTag(0x0010, 0x0021), .LO, false),   // Issuer of Patient ID
        (DICOMTag(0x0010, 0x0030), .DA, true),    // Patient's Birth Date
        (DICOMTag(0x0010, 0x0032), .TM, false),   // Patient's Birth Time
        (DICOMTag(0x0010, 0x0040), .CS, true),    // Patient's Sex
        (DICOMTag(0x0012, 0x0062), .CS, false),   // Patient Identity Removed
        (DICOMTag(0x0012, 0x0063), .LO, false),   // De-identification Method
    ]
    static let study: [(DICOMTag, DICOMVR, Bool)] = [
        (DICOMTag(0x0008, 0x0020), .DA, true),    // Study Date
        (DICOMTag(0x0008, 0x0030), .TM, true),    // Study Time
        (DICOMTag(0x0008, 0x0090), .PN, true),    // Referring Physician's Name
        (DICOMTag(0x0020, 0x0010), .SH, true),    // Study ID
        (DICOMTag(0x0008, 0x0050), .SH, true),    // Accession Number
        (DICOMTag(0x0008, 0x1030), .LO, false),   // Study Description
    ]

    /// Copies the modules; returns the Study Instance UID.
    static func copy(from source: DICOMDataset, into ds: inout DICOMDatasetBuilder, text: SRTextEncoding) throws(StructuredReportError) -> String {
        let studyUID = try uid(source, .studyInstanceUID, "StudyInstanceUID")
        ds.set(.studyInstanceUID, .UI, studyUID)
        for (tag, vr, type2) in patient + study {
            if let bytes = value(source, tag, text: text) {
                ds.set(tag, vr, bytes: bytes)
            } else if type2 {
                ds.set(tag, vr, bytes: [])
            }
        }
        return studyUID
    }

    /// The value bytes in the report's encoding; nil when the source lacks the attribute.
    static func value(_ source: DICOMDataset, _ tag: DICOMTag, text: SRTextEncoding) -> [UInt8]? {
        guard source.contains(tag), let raw = source.data(tag) else { return nil }
        if text.reencodes {
            guard let values = source.strings(tag) else { return nil }
            return text.bytes(values)
        }
        // Kept byte for byte under the source's own character set; padding trimmed (the writer pads again).
        var b = raw
        while let last = b.last, last == 0x20 || last == 0x00 { b.removeLast() }
        return b
    }

    /// A UID attribute of the source, checked for UID syntax.
    static func uid(_ source: DICOMDataset, _ tag: DICOMTag, _ name: String) throws(StructuredReportError) -> String {
        guard let v = source.string(tag), !v.isEmpty else {
            throw .missingSourceAttribute(name: name, tag: tag)
        }
        guard DICOMUID.isWellFormed(v) else {
            throw .invalidSourceAttribute(name: name, tag: tag, reason: DICOMUID.quoted(v) + " is not a UID")
        }
        return v
    }
}
