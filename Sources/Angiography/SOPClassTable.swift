/// Names of the storage SOP classes a folder of clinical files is likely to hold (PS3.4 Annex B), so that a
/// skipped file says what it was.
public enum SOPClassTable {
    public enum Family: Sendable { case angiography, radiofluoroscopy, other }

    public struct Entry: Sendable, Equatable {
        public let name: String
        /// The Modality (0008,0060) value the IOD prescribes, where it prescribes one.
        public let modality: String?
        public let family: Family
    }

    public static func entry(_ uid: String) -> Entry? { table[uid] }

    public static func name(_ uid: String) -> String? { table[uid]?.name }

    private static func e(_ name: String, _ modality: String?, _ family: Family = .other) -> Entry {
        Entry(name: name, modality: modality, family: family)
    }

    static let table: [String: Entry] = [
        AngiographySOPClass.xRayAngiographicImageStorage: e("X-Ray Angiographic Image Storage", "XA", .angiography),
        AngiographySOPClass.enhancedXAImageStorage: e("Enhanced XA Image Storage", "XA", .angiography),
        AngiographySOPClass.xRayRadiofluoroscopicImageStorage: e("X-Ray Radiofluoroscopic Image Storage", "RF", .radiofluoroscopy),
        AngiographySOPClass.enhancedXRFImageStorage: e("Enhanced XRF Image Storage", "RF", .radiofluoroscopy),
        "1.2.840.10008.5.1.4.1.1.13.1.1": e("X-Ray 3D Angiographic Image Storage", "XA"),
        "1.2.840.10008.5.1.4.1.1.13.1.2": e("X-Ray 3D Craniofacial Image Storage", "DX"),
        "1.2.840.10008.5.1.4.1.1.13.1.3": e("Breast Tomosynthesis Image Storage", "MG"),
        "1.2.840.10008.5.1.4.1.1.1": e("Computed Radiography Image Storage", "CR"),
        "1.2.840.10008.5.1.4.1.1.1.1": e("Digital X-Ray Image Storage - For Presentation", "DX"),
        "1.2.840.10008.5.1.4.1.1.1.1.1": e("Digital X-Ray Image Storage - For Processing", "DX"),
        "1.2.840.10008.5.1.4.1.1.1.2": e("Digital Mammography X-Ray Image Storage - For Presentation", "MG"),
        "1.2.840.10008.5.1.4.1.1.1.2.1": e("Digital Mammography X-Ray Image Storage - For Processing", "MG"),
        "1.2.840.10008.5.1.4.1.1.1.3": e("Digital Intra-Oral X-Ray Image Storage - For Presentation", "IO"),
        "1.2.840.10008.5.1.4.1.1.1.3.1": e("Digital Intra-Oral X-Ray Image Storage - For Processing", "IO"),
        "1.2.840.10008.5.1.4.1.1.2": e("CT Image Storage", "CT"),
        "1.2.840.10008.5.1.4.1.1.2.1": e("Enhanced CT Image Storage", "CT"),
        "1.2.840.10008.5.1.4.1.1.2.2": e("Legacy Converted Enhanced CT Image Storage", "CT"),
        "1.2.840.10008.5.1.4.1.1.3.1": e("Ultrasound Multi-frame Image Storage", "US"),
        "1.2.840.10008.5.1.4.1.1.6.1": e("Ultrasound Image Storage", "US"),
        "1.2.840.10008.5.1.4.1.1.6.2": e("Enhanced US Volume Storage", "US"),
        "1.2.840.10008.5.1.4.1.1.4": e("MR Image Storage", "MR"),
        "1.2.840.10008.5.1.4.1.1.4.1": e("Enhanced MR Image Storage", "MR"),
        "1.2.840.10008.5.1.4.1.1.4.2": e("MR Spectroscopy Storage", "MR"),
        "1.2.840.10008.5.1.4.1.1.4.3": e("Enhanced MR Color Image Storage", "MR"),
        "1.2.840.10008.5.1.4.1.1.4.4": e("Legacy Converted Enhanced MR Image Storage", "MR"),
        "1.2.840.10008.5.1.4.1.1.20": e("Nuclear Medicine Image Storage", "NM"),
        "1.2.840.10008.5.1.4.1.1.128": e("Positron Emission Tomography Image Storage", "PT"),
        "1.2.840.10008.5.1.4.1.1.130": e("Enhanced PET Image Storage", "PT"),
        "1.2.840.10008.5.1.4.1.1.128.1": e("Legacy Converted Enhanced PET Image Storage", "PT"),
        "1.2.840.10008.5.1.4.1.1.7": e("Secondary Capture Image Storage", nil),
        "1.2.840.10008.5.1.4.1.1.7.1": e("Multi-frame Single Bit Secondary Capture Image Storage", nil),
        "1.2.840.10008.5.1.4.1.1.7.2": e("Multi-frame Grayscale Byte Secondary Capture Image Storage", nil),
        "1.2.840.10008.5.1.4.1.1.7.3": e("Multi-frame Grayscale Word Secondary Capture Image Storage", nil),
        "1.2.840.10008.5.1.4.1.1.7.4": e("Multi-frame True Color Secondary Capture Image Storage", nil),
        "1.2.840.10008.5.1.4.1.1.88.11": e("Basic Text SR Storage", "SR"),
        "1.2.840.10008.5.1.4.1.1.88.22": e("Enhanced SR Storage", "SR"),
        "1.2.840.10008.5.1.4.1.1.88.33": e("Comprehensive SR Storage", "SR"),
        "1.2.840.10008.5.1.4.1.1.88.34": e("Comprehensive 3D SR Storage", "SR"),
        "1.2.840.10008.5.1.4.1.1.88.59": e("Key Object Selection Document Storage", "KO"),
        "1.2.840.10008.5.1.4.1.1.88.67": e("X-Ray Radiation Dose SR Storage", "SR"),
        "1.2.840.10008.5.1.4.1.1.88.68": e("Radiopharmaceutical Radiation Dose SR Storage", "SR"),
        "1.2.840.10008.5.1.4.1.1.66.4": e("Segmentation Storage", "SEG"),
        "1.2.840.10008.5.1.4.1.1.66": e("Raw Data Storage", nil),
        "1.2.840.10008.5.1.4.1.1.66.1": e("Spatial Registration Storage", "REG"),
        "1.2.840.10008.5.1.4.1.1.11.1": e("Grayscale Softcopy Presentation State Storage", "PR"),
        "1.2.840.10008.5.1.4.1.1.104.1": e("Encapsulated PDF Storage", nil),
        "1.2.840.10008.5.1.4.1.1.481.1": e("RT Image Storage", "RTIMAGE"),
        "1.2.840.10008.5.1.4.1.1.481.2": e("RT Dose Storage", "RTDOSE"),
        "1.2.840.10008.5.1.4.1.1.481.3": e("RT Structure Set Storage", "RTSTRUCT"),
        "1.2.840.10008.5.1.4.1.1.481.5": e("RT Plan Storage", "RTPLAN"),
        "1.2.840.10008.5.1.4.1.1.77.1.4": e("VL Photographic Image Storage", nil),
        "1.2.840.10008.5.1.4.1.1.77.1.5.1": e("Ophthalmic Photography 8 Bit Image Storage", "OP"),
        "1.2.840.10008.5.1.4.1.1.77.1.6": e("VL Whole Slide Microscopy Image Storage", "SM"),
        "1.2.840.10008.5.1.4.1.1.14.1": e("Intravascular Optical Coherence Tomography Image Storage - For Presentation", "IVOCT"),
        "1.2.840.10008.5.1.4.1.1.9.1.1": e("12-lead ECG Waveform Storage", "ECG"),
        "1.2.840.10008.5.1.4.1.1.9.3.1": e("Hemodynamic Waveform Storage", "HD"),
    ]
}
