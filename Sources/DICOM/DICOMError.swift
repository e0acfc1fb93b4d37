/// Why a DICOM file could not be read; names the file, the tag or byte offset, and what was wrong.
public enum DICOMError: Error, CustomStringConvertible, Equatable, Sendable {
    case notDICOM(file: String, reason: String)
    /// The path is missing, is not a regular file (a folder, a FIFO) or cannot be read.
    case unreadable(file: String, reason: String)
    case truncated(file: String, offset: Int, tag: DICOMTag?, needed: Int, available: Int)
    case lengthPastEnd(file: String, offset: Int, tag: DICOMTag, length: Int, available: Int)
    case invalidLength(file: String, offset: Int, tag: DICOMTag, length: UInt32, reason: String)
    case invalidVR(file: String, offset: Int, tag: DICOMTag, bytes: [UInt8])
    case nestingTooDeep(file: String, offset: Int, tag: DICOMTag, limit: Int)
    case tooManyElements(file: String, offset: Int, limit: Int)
    case malformed(file: String, offset: Int, tag: DICOMTag?, reason: String)
    case unsupportedTransferSyntax(file: String, uid: String)
    case inflate(file: String, reason: String)
    /// The pixel data or the Image Pixel attributes describing it are unusable (wrong length, corrupt stream).
    case pixelData(file: String, reason: String)

    public var description: String {
        func at(_ tag: DICOMTag?) -> String { tag.map { " in \($0)" } ?? "" }
        switch self {
        case let .notDICOM(f, r): return "\(f): not a DICOM file (\(r))"
        case let .unreadable(f, r): return "\(f): \(r)"
        case let .truncated(f, o, t, n, a):
            return "\(f): truncated at offset \(o)\(at(t)): needed \(n) bytes, \(a) left"
        case let .lengthPastEnd(f, o, t, l, a):
            return "\(f): element \(t) at offset \(o) declares length \(l) but only \(a) bytes remain"
        case let .invalidLength(f, o, t, l, r):
            return "\(f): element \(t) at offset \(o) has invalid length \(l): \(r)"
        case let .invalidVR(f, o, t, b):
            return "\(f): element \(t) at offset \(o) has invalid VR bytes \(b)"
        case let .nestingTooDeep(f, o, t, l):
            return "\(f): sequence \(t) at offset \(o) nests deeper than \(l) levels"
        case let .tooManyElements(f, o, l):
            return "\(f): more than \(l) elements (at offset \(o))"
        case let .malformed(f, o, t, r): return "\(f): malformed data at offset \(o)\(at(t)): \(r)"
        case let .unsupportedTransferSyntax(f, u):
            // A UID is quoted only when it has UID syntax: the field could hold any text.
            return "\(f): unsupported transfer syntax \(DICOMUID.quoted(u))" + (DICOMTransferSyntax.name(of: u).map { " (\($0))" } ?? "")
        case let .inflate(f, r): return "\(f): deflated dataset could not be inflated: \(r)"
        case let .pixelData(f, r): return "\(f): pixel data: \(r)"
        }
    }
}
