import Angiography

/// How a model image was made from its input. Models learn one gray mapping per kind (a scanner's
/// subtraction, the pipeline's own log subtraction and a picture's rendering differ), so a model's
/// input-domain record lists the kinds it was trained on and triage flags any other.
public enum InputSourceKind: String, Codable, Sendable, CaseIterable, Comparable {
    /// A native DICOM run the pipeline subtracted itself (mask sequence or configured mask frame).
    case dicomNative = "dicom_native"
    /// A DICOM run stored already subtracted (the scanner's DSA), used as stored.
    case dicomSubtracted = "dicom_subtracted"
    /// A DICOM image with nothing subtracted (a single native frame).
    case dicomUnsubtracted = "dicom_unsubtracted"
    /// A PNG or JPEG picture, used as it is.
    case picture

    /// The kind behind a run's subtraction method.
    public init(subtraction: SubtractionRecord.Method) {
        switch subtraction {
        case .maskSequence, .configuredMaskFrame: self = .dicomNative
        case .alreadySubtracted: self = .dicomSubtracted
        case .notSubtracted: self = .dicomUnsubtracted
        }
    }

    /// Words for a reason a person reads.
    public var phrase: String {
        switch self {
        case .dicomNative: return "a native DICOM run subtracted by the pipeline"
        case .dicomSubtracted: return "a stored subtracted DICOM run"
        case .dicomUnsubtracted: return "an unsubtracted DICOM image"
        case .picture: return "a PNG/JPEG picture"
        }
    }

    /// Declaration order.
    public static func < (a: Self, b: Self) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
}
