/// A DICOM value representation (PS3.5 §6.2).
public enum DICOMVR: String, Sendable, CaseIterable {
    case AE, AS, AT, CS, DA, DS, DT, FL, FD, IS, LO, LT, OB, OD, OF, OL, OV, OW, PN, SH, SL, SQ, SS, ST, SV,
         TM, UC, UI, UL, UN, UR, US, UT, UV

    /// Reads a VR from its two ASCII bytes; nil when they name no VR.
    init?(bytes b0: UInt8, _ b1: UInt8) {
        guard let s = String(bytes: [b0, b1], encoding: .ascii), let vr = DICOMVR(rawValue: s) else { return nil }
        self = vr
    }

    /// VRs whose explicit encoding has two reserved bytes and a 32-bit length (PS3.5 §7.1.2).
    var hasLongLength: Bool {
        switch self {
        case .OB, .OD, .OF, .OL, .OV, .OW, .SQ, .UC, .UN, .UR, .UT, .SV, .UV: return true
        default: return false
        }
    }

    /// Character-string VRs, whose values are text.
    var isString: Bool {
        switch self {
        case .AE, .AS, .CS, .DA, .DS, .DT, .IS, .LO, .LT, .PN, .SH, .ST, .TM, .UC, .UI, .UR, .UT: return true
        default: return false
        }
    }

    /// Text VRs that hold a single value: backslash is not a separator in them.
    var isSingleValuedText: Bool { self == .LT || self == .ST || self == .UT || self == .UR }

    /// Width in bytes of one binary value, for byte swapping and numeric access.
    var binaryWidth: Int? {
        switch self {
        case .US, .SS, .OW: return 2
        case .UL, .SL, .FL, .OF, .OL, .AT: return 4
        case .FD, .OD, .SV, .UV, .OV: return 8
        default: return nil
        }
    }
}
