/// One data element: its tag, VR and value.
public struct DICOMElement: Sendable {
    /// The value of an element as it was stored in the file.
    public enum Value: Sendable {
        /// Raw value bytes in the file's byte order (odd lengths kept as read).
        case bytes([UInt8])
        /// A sequence of item datasets.
        case sequence([DICOMDataset])
        /// Encapsulated (compressed) pixel data: offset table and fragments, not decoded.
        case encapsulated(EncapsulatedPixelData)
        /// A large Pixel Data value left in its file (read a frame at a time when decoded).
        case bulk(DICOMBulkData)
    }

    public let tag: DICOMTag
    public let vr: DICOMVR
    public let value: Value
    /// Whether binary values are big endian (explicit VR big endian transfer syntax).
    public let bigEndian: Bool
    /// Byte offset of the element's tag in the (possibly inflated) stream it came from.
    public let offset: Int
}

/// Pixel data of an encapsulated transfer syntax (PS3.5 §A.4): basic offset table plus fragments.
public struct EncapsulatedPixelData: Sendable, Equatable {
    /// Offsets of each frame's first fragment, relative to the first fragment's item tag; often empty.
    public var basicOffsetTable: [UInt32]
    /// The fragment bytes, in order.
    public var fragments: [[UInt8]]
}

/// Pixel data as stored: native bytes, or the fragments of a compressed stream.
public enum DICOMPixelData: Sendable {
    case native(NativePixelBytes, vr: DICOMVR, bigEndian: Bool)
    case encapsulated(EncapsulatedPixelData)
}
