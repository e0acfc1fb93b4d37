import DICOM

/// Attribute values in messages and records: only values from an attribute's defined terms (a closed
/// vocabulary) are quoted. Anything else may be free text a site put there (a name, an ID, a birth date)
/// and is described, never copied.
public enum DefinedTerms {
    /// `'VALUE'` when `value` is one of `terms`, else "an unrecognised value (N characters)".
    public static func quote(_ value: String, in terms: Set<String>) -> String {
        terms.contains(value) ? "'\(value)'" : unrecognised(value)
    }

    /// A value that is not a defined term, described without its text.
    public static func unrecognised(_ value: String) -> String { "an unrecognised value (\(value.count) characters)" }

    /// Modality (0008,0060) defined terms (PS3.3 C.7.3.1.1.1, current and retired).
    public static let modalities: Set<String> = [
        "AR", "ASMT", "AU", "BDUS", "BI", "BMD", "CD", "CF", "CP", "CR", "CS", "CT", "DD", "DF", "DG", "DM", "DMS", "DOC",
        "DS", "DX", "EC", "ECG", "EPS", "ES", "FA", "FID", "FS", "GM", "HC", "HD", "IO", "IOL", "IVOCT", "IVUS", "KER",
        "KO", "LEN", "LP", "LS", "MA", "MG", "MR", "MS", "NM", "OAM", "OCT", "OP", "OPM", "OPR", "OPT", "OPTBSV",
        "OPTENF", "OPV", "OSS", "OT", "PLAN", "POS", "PR", "PT", "PX", "REG", "RESP", "RF", "RG", "RTDOSE", "RTIMAGE",
        "RTINTENT", "RTPLAN", "RTRAD", "RTRECORD", "RTSEGANN", "RTSTRUCT", "RWV", "SEG", "SM", "SMR", "SR", "SRF",
        "ST", "STAIN", "TEXTUREMAP", "TG", "US", "VA", "VF", "XA", "XAPROTOCOL", "XC",
    ]

    /// A Modality value fit for a record: the value when it is a defined term, else "unrecognised", nil when absent.
    public static func modality(_ value: String?) -> String? {
        guard let v = value, !v.isEmpty else { return nil }
        return modalities.contains(v) ? v : "unrecognised"
    }

    /// Photometric Interpretation (0028,0004) defined terms.
    public static let photometricInterpretations: Set<String> = [
        "MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_422",
        "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT", "HSV", "ARGB", "CMYK", "XYB",
    ]

    /// Image Type (0008,0008) defined terms of the values angiography uses (PS3.3 C.7.6.1.1.2, C.8.7.1.1.1).
    public static let imageTypeValues: Set<String> = [
        "ORIGINAL", "DERIVED", "PRIMARY", "SECONDARY", "SINGLE PLANE", "BIPLANE A", "BIPLANE B", "SUBTRACTION",
        "NATIVE", "MIXED", "NONE", "LOCALIZER", "AXIAL", "VOLUME", "MAXIMUM", "MINIMUM", "MEAN",
    ]

    /// A UID fit for a message: quoted when it has UID syntax (digits and dots, at most 64 characters, which
    /// cannot hold a name), else described.
    public static func uid(_ value: String) -> String { DICOMUID.quoted(value) }
}
