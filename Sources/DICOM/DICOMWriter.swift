import FileAccess
import Foundation

/// Transfer syntaxes the writer produces.
public enum DICOMWriteSyntax: String, Sendable, CaseIterable {
    case implicitVRLittleEndian = "1.2.840.10008.1.2"
    case explicitVRLittleEndian = "1.2.840.10008.1.2.1"
    /// Retired in the standard but still met in archives; written for reader tests.
    case explicitVRBigEndian = "1.2.840.10008.1.2.2"
    /// JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, Selection Value 1).
    case jpegLosslessSV1 = "1.2.840.10008.1.2.4.70"
    case rleLossless = "1.2.840.10008.1.2.5"

    public var uid: String { rawValue }
    public var isExplicitVR: Bool { self != .implicitVRLittleEndian }
    public var isBigEndian: Bool { self == .explicitVRBigEndian }
    /// Whether pixel data is encapsulated (compressed fragments) in this syntax.
    public var isEncapsulated: Bool { self == .jpegLosslessSV1 || self == .rleLossless }

    /// A short name for manifests and command-line options.
    public var shortName: String {
        switch self {
        case .implicitVRLittleEndian: return "implicit-le"
        case .explicitVRLittleEndian: return "explicit-le"
        case .explicitVRBigEndian: return "explicit-be"
        case .jpegLosslessSV1: return "jpeg-lossless"
        case .rleLossless: return "rle"
        }
    }

    public init?(shortName: String) {
        guard let s = Self.allCases.first(where: { $0.shortName == shortName || $0.uid == shortName }) else { return nil }
        self = s
    }
}

/// Why a dataset could not be written; names the tag or the file and what is wrong.
public enum DICOMWriterError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidValue(tag: DICOMTag, vr: DICOMVR, reason: String)
    case missingAttribute(tag: DICOMTag, reason: String)
    case pixelData(reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidValue(t, vr, r): return "DICOM writer: \(t) \(vr.rawValue): \(r)"
        case let .missingAttribute(t, r): return "DICOM writer: missing \(t): \(r)"
        case let .pixelData(r): return "DICOM writer: pixel data: \(r)"
        case let .writeFailed(p, r): return "\(p): cannot write DICOM file: \(r)"
        }
    }
}

/// A dataset under construction: values set by tag with a VR, encoded for any transfer syntax when written.
public struct DICOMDatasetBuilder: Sendable {
    enum Value: Sendable {
        case strings([String])
        case ints([Int])
        case doubles([Double])
        case tags([DICOMTag])
        /// Binary values in little-endian order (swapped per `vr` width for big endian).
        case bytes([UInt8])
        case sequence([DICOMDatasetBuilder])
        case encapsulated(frames: [[UInt8]], extendedOffsetTable: Bool)
    }

    struct Entry: Sendable {
        var vr: DICOMVR
        var value: Value
    }

    private(set) var entries: [DICOMTag: Entry] = [:]

    public init() {}

    public var tags: [DICOMTag] { entries.keys.sorted() }
    public func contains(_ tag: DICOMTag) -> Bool { entries[tag] != nil }
    public mutating func remove(_ tag: DICOMTag) { entries[tag] = nil }

    /// One text value (any string VR; DS and IS accept their decimal text).
    public mutating func set(_ tag: DICOMTag, _ vr: DICOMVR, _ string: String) { set(tag, vr, strings: [string]) }

    /// Several text values, joined with backslashes.
    public mutating func set(_ tag: DICOMTag, _ vr: DICOMVR, strings: [String]) {
        entries[tag] = Entry(vr: vr, value: .strings(strings))
    }

    /// One integer (US, SS, UL, SL, SV, UV, IS, DS).
    public mutating func set(_ tag: DICOMTag, _ vr: DICOMVR, int: Int) { set(tag, vr, ints: [int]) }
    public mutating func set(_ tag: DICOMTag, _ vr: DICOMVR, ints: [Int]) {
        entries[tag] = Entry(vr: vr, value: .ints(ints))
    }

    /// One floating-point value (FL, FD, DS, OF, OD).
    public mutating func set(_ tag: DICOMTag, _ vr: DICOMVR, double: Double) { set(tag, vr, doubles: [double]) }
    public mutating func set(_ tag: DICOMTag, _ vr: DICOMVR, doubles: [Double]) {
        entries[tag] = Entry(vr: vr, value: .doubles(doubles))
    }

    /// Attribute Tag (AT) values, such as Frame Increment Pointer.
    public mutating func set(_ tag: DICOMTag, attributeTags: [DICOMTag]) {
        entries[tag] = Entry(vr: .AT, value: .tags(attributeTags))
    }

    /// Raw bytes: OB, UN, or any binary VR given in little-endian order.
    public mutating func set(_ tag: DICOMTag, _ vr: DICOMVR, bytes: [UInt8]) {
        entries[tag] = Entry(vr: vr, value: .bytes(bytes))
    }

    /// A sequence with defined-length items.
    public mutating func set(_ tag: DICOMTag, sequence items: [DICOMDatasetBuilder]) {
        entries[tag] = Entry(vr: .SQ, value: .sequence(items))
    }

    /// Native Pixel Data (OW for 16-bit samples, OB for 8-bit) from little-endian bytes.
    public mutating func setNativePixelData(_ bytes: [UInt8], vr: DICOMVR = .OW) {
        entries[.pixelData] = Entry(vr: vr, value: .bytes(bytes))
    }

    /// Encapsulated Pixel Data, one fragment per frame, with a Basic Offset Table — or, when
    /// `extendedOffsetTable` is set, an empty Basic Offset Table plus (7FE0,0001) and (7FE0,0002).
    public mutating func setEncapsulatedPixelData(frames: [[UInt8]], extendedOffsetTable: Bool = false) {
        entries[.pixelData] = Entry(vr: .OB, value: .encapsulated(frames: frames, extendedOffsetTable: extendedOffsetTable))
    }
}

/// Writes DICOM Part 10 files: preamble, "DICM", file meta information (explicit VR little endian with its
/// group length), then the dataset in the chosen transfer syntax.
public enum DICOMWriter {
    /// This project's implementation identity in the file meta information.
    public static let implementationClassUID = "2.25.75162664254870452341164608442165893370"
    public static let implementationVersionName = "DSA_TRIAGE_1"

    /// The whole Part 10 file. The dataset must hold SOP Class UID and SOP Instance UID.
    public static func encode(_ dataset: DICOMDatasetBuilder, syntax: DICOMWriteSyntax) throws -> [UInt8] {
        guard case let .strings(cls)? = dataset.entries[.sopClassUID]?.value, let sopClass = cls.first else {
            throw DICOMWriterError.missingAttribute(tag: .sopClassUID, reason: "needed for the file meta information")
        }
        guard case let .strings(inst)? = dataset.entries[.sopInstanceUID]?.value, let sopInstance = inst.first else {
            throw DICOMWriterError.missingAttribute(tag: .sopInstanceUID, reason: "needed for the file meta information")
        }
        if case .encapsulated? = dataset.entries[.pixelData]?.value, !syntax.isEncapsulated {
            throw DICOMWriterError.pixelData(reason: "encapsulated pixel data in native transfer syntax \(syntax.uid)")
        }
        if case .bytes? = dataset.entries[.pixelData]?.value, syntax.isEncapsulated {
            throw DICOMWriterError.pixelData(reason: "native pixel data in encapsulated transfer syntax \(syntax.uid)")
        }
        var meta = DICOMDatasetBuilder()
        meta.set(DICOMTag(0x0002, 0x0001), .OB, bytes: [0x00, 0x01])
        meta.set(.mediaStorageSOPClassUID, .UI, sopClass)
        meta.set(.mediaStorageSOPInstanceUID, .UI, sopInstance)
        meta.set(.transferSyntaxUID, .UI, syntax.uid)
        meta.set(DICOMTag(0x0002, 0x0012), .UI, implementationClassUID)
        meta.set(DICOMTag(0x0002, 0x0013), .SH, implementationVersionName)
        var metaBody = ByteSink(explicitVR: true, bigEndian: false)
        try metaBody.write(meta)
        var out = ByteSink(explicitVR: true, bigEndian: false)
        out.bytes.reserveCapacity(dataset.estimatedSize + 512)
        out.bytes.append(contentsOf: [UInt8](repeating: 0, count: 128))
        out.bytes.append(contentsOf: Array("DICM".utf8))
        out.header(.fileMetaInformationGroupLength, .UL, length: 4)
        out.u32(UInt32(metaBody.bytes.count))
        out.bytes.append(contentsOf: metaBody.bytes)
        var body = ByteSink(explicitVR: syntax.isExplicitVR, bigEndian: syntax.isBigEndian, into: out.bytes)
        out.bytes = []
        try body.write(dataset)
        return body.bytes
    }

    /// The dataset alone (no preamble or meta), as it would follow the meta information.
    public static func encodeDataset(_ dataset: DICOMDatasetBuilder, syntax: DICOMWriteSyntax) throws -> [UInt8] {
        var sink = ByteSink(explicitVR: syntax.isExplicitVR, bigEndian: syntax.isBigEndian)
        try sink.write(dataset)
        return sink.bytes
    }

    /// Encodes and writes a Part 10 file atomically.
    public static func write(_ dataset: DICOMDatasetBuilder, syntax: DICOMWriteSyntax, to url: URL) throws {
        let bytes = try encode(dataset, syntax: syntax)
        do {
            try AtomicWrite.write(Data(bytes), to: url)
        } catch let error as FileWriteError {
            throw DICOMWriterError.writeFailed(path: url.path, reason: error.reason)
        }
    }

    /// A Decimal String value of at most 16 characters (integers without a decimal point).
    public static func decimalString(_ v: Double, tag: DICOMTag) throws -> String {
        guard v.isFinite else { throw DICOMWriterError.invalidValue(tag: tag, vr: .DS, reason: "\(v) is not finite") }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        for digits in stride(from: 12, through: 1, by: -1) {
            var s = String(format: "%.\(digits)g", v)
            if s.contains("e") {
                s = s.replacingOccurrences(of: "e+0", with: "e+").replacingOccurrences(of: "e-0", with: "e-")
            }
            if s.count <= 16 { return s }
        }
        throw DICOMWriterError.invalidValue(tag: tag, vr: .DS, reason: "\(v) does not fit 16 characters")
    }
}

extension DICOMDatasetBuilder {
    var estimatedSize: Int {
        var n = 0
        for (_, e) in entries {
            switch e.value {
            case let .bytes(b): n += b.count + 12
            case let .encapsulated(frames, _): n += frames.reduce(0) { $0 + $1.count + 16 } + 64
            default: n += 64
            }
        }
        return n
    }
}

/// Serialises elements for one transfer syntax encoding.
struct ByteSink {
    let explicitVR: Bool
    let bigEndian: Bool
    var bytes: [UInt8]

    init(explicitVR: Bool, bigEndian: Bool, into bytes: [UInt8] = []) {
        self.explicitVR = explicitVR
        self.bigEndian = bigEndian
        self.bytes = bytes
    }

    mutating func u16(_ v: UInt16) {
        if bigEndian { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) } else { bytes.append(UInt8(v & 0xFF)); bytes.append(UInt8(v >> 8)) }
    }

    mutating func u32(_ v: UInt32) {
        if bigEndian {
            u16(UInt16(v >> 16)); u16(UInt16(v & 0xFFFF))
        } else {
            u16(UInt16(v & 0xFFFF)); u16(UInt16(v >> 16))
        }
    }

    mutating func u64(_ v: UInt64) {
        if bigEndian { u32(UInt32(v >> 32)); u32(UInt32(v & 0xFFFF_FFFF)) } else { u32(UInt32(v & 0xFFFF_FFFF)); u32(UInt32(v >> 32)) }
    }

    mutating func tag(_ t: DICOMTag) { u16(t.group); u16(t.element) }

    /// An element header; `length` 0xFFFFFFFF means undefined length.
    mutating func header(_ t: DICOMTag, _ vr: DICOMVR, length: UInt32) {
        tag(t)
        if explicitVR {
            bytes.append(contentsOf: Array(vr.rawValue.utf8))
            if vr.hasLongLength {
                bytes.append(0); bytes.append(0)
                u32(length)
            } else {
                u16(UInt16(truncatingIfNeeded: length))
            }
        } else {
            u32(length)
        }
    }

    mutating func write(_ ds: DICOMDatasetBuilder) throws {
        for t in ds.tags {
            guard let e = ds.entries[t] else { continue }
            try write(t, e)
        }
    }

    private mutating func write(_ t: DICOMTag, _ e: DICOMDatasetBuilder.Entry) throws {
        switch e.value {
        case let .sequence(items):
            var inner = ByteSink(explicitVR: explicitVR, bigEndian: bigEndian)
            for item in items {
                var itemSink = ByteSink(explicitVR: explicitVR, bigEndian: bigEndian)
                try itemSink.write(item)
                inner.tag(.item)
                inner.u32(UInt32(itemSink.bytes.count))
                inner.bytes.append(contentsOf: itemSink.bytes)
            }
            header(t, .SQ, length: UInt32(inner.bytes.count))
            bytes.append(contentsOf: inner.bytes)
        case let .encapsulated(frames, extended):
            try writeEncapsulated(t, frames: frames, extended: extended)
        default:
            var value = try Self.valueBytes(t, e, bigEndian: bigEndian)
            if value.count % 2 == 1 { value.append(Self.padByte(e.vr)) }
            guard value.count <= Int(UInt32.max - 1) else {
                throw DICOMWriterError.invalidValue(tag: t, vr: e.vr, reason: "value of \(value.count) bytes is too long")
            }
            if explicitVR && !e.vr.hasLongLength && value.count > 0xFFFF {
                throw DICOMWriterError.invalidValue(tag: t, vr: e.vr, reason: "\(value.count) bytes exceed the 16-bit length of explicit VR \(e.vr.rawValue)")
            }
            header(t, e.vr, length: UInt32(value.count))
            bytes.append(contentsOf: value)
        }
    }

    private mutating func writeEncapsulated(_ t: DICOMTag, frames: [[UInt8]], extended: Bool) throws {
        guard !bigEndian, explicitVR else {
            throw DICOMWriterError.pixelData(reason: "encapsulated pixel data needs explicit VR little endian")
        }
        guard !frames.isEmpty else { throw DICOMWriterError.pixelData(reason: "no frames to encapsulate") }
        // Offsets count from the first byte of the first fragment's item tag (after the offset table item).
        var offsets: [UInt64] = []
        var lengths: [UInt64] = []
        var position: UInt64 = 0
        for f in frames {
            let padded = UInt64(f.count + f.count % 2)
            offsets.append(position)
            lengths.append(padded)
            position += 8 + padded
        }
        if !extended && position > UInt64(UInt32.max) {
            throw DICOMWriterError.pixelData(reason: "fragments of \(position) bytes exceed the 32-bit Basic Offset Table; use the Extended Offset Table")
        }
        if extended {
            var off = ByteSink(explicitVR: true, bigEndian: false)
            for o in offsets { off.u64(o) }
            header(.extendedOffsetTable, .OV, length: UInt32(off.bytes.count))
            bytes.append(contentsOf: off.bytes)
            var len = ByteSink(explicitVR: true, bigEndian: false)
            for l in lengths { len.u64(l) }
            header(.extendedOffsetTableLengths, .OV, length: UInt32(len.bytes.count))
            bytes.append(contentsOf: len.bytes)
        }
        header(t, .OB, length: 0xFFFF_FFFF)
        tag(.item)
        if extended {
            u32(0)
        } else {
            u32(UInt32(4 * offsets.count))
            for o in offsets { u32(UInt32(o)) }
        }
        for f in frames {
            tag(.item)
            u32(UInt32(f.count + f.count % 2))
            bytes.append(contentsOf: f)
            if f.count % 2 == 1 { bytes.append(0) }
        }
        tag(.sequenceDelimitation)
        u32(0)
    }

    static func padByte(_ vr: DICOMVR) -> UInt8 {
        if vr == .UI { return 0 }
        return vr.isString ? 0x20 : 0
    }

    static func valueBytes(_ t: DICOMTag, _ e: DICOMDatasetBuilder.Entry, bigEndian: Bool) throws -> [UInt8] {
        let vr = e.vr
        func bad(_ r: String) -> DICOMWriterError { .invalidValue(tag: t, vr: vr, reason: r) }
        func text(_ values: [String]) throws -> [UInt8] {
            guard vr.isString else { throw bad("text values for a binary VR") }
            if !vr.isSingleValuedText, values.contains(where: { $0.contains("\\") }) {
                throw bad("a value contains a backslash, the value separator")
            }
            if vr == .UI {
                for v in values where v.count > 64 || v.isEmpty == false && !v.allSatisfy({ $0 == "." || ("0"..."9").contains($0) }) {
                    throw bad("\"\(v)\" is not a UID (digits and dots, at most 64 characters)")
                }
            }
            return Array(values.joined(separator: "\\").utf8)
        }
        var sink = ByteSink(explicitVR: true, bigEndian: bigEndian)
        switch e.value {
        case let .strings(values):
            return try text(values)
        case let .ints(values):
            switch vr {
            case .IS:
                for v in values where abs(v) > 2_147_483_647 { throw bad("\(v) exceeds the IS range") }
                return try text(values.map(String.init))
            case .DS: return try text(values.map(String.init))
            case .US, .OW:
                for v in values {
                    guard let x = UInt16(exactly: v) else { throw bad("\(v) outside 0…65535") }
                    sink.u16(x)
                }
            case .SS:
                for v in values {
                    guard let x = Int16(exactly: v) else { throw bad("\(v) outside the SS range") }
                    sink.u16(UInt16(bitPattern: x))
                }
            case .UL, .OL:
                for v in values {
                    guard let x = UInt32(exactly: v) else { throw bad("\(v) outside the UL range") }
                    sink.u32(x)
                }
            case .SL:
                for v in values {
                    guard let x = Int32(exactly: v) else { throw bad("\(v) outside the SL range") }
                    sink.u32(UInt32(bitPattern: x))
                }
            case .SV: for v in values { sink.u64(UInt64(bitPattern: Int64(v))) }
            case .UV, .OV:
                for v in values {
                    guard let x = UInt64(exactly: v) else { throw bad("\(v) is negative") }
                    sink.u64(x)
                }
            default: throw bad("integer values for VR \(vr.rawValue)")
            }
        case let .doubles(values):
            switch vr {
            case .DS: return try text(values.map { try DICOMWriter.decimalString($0, tag: t) })
            case .FL, .OF: for v in values { sink.u32(Float(v).bitPattern) }
            case .FD, .OD: for v in values { sink.u64(v.bitPattern) }
            default: throw bad("floating-point values for VR \(vr.rawValue)")
            }
        case let .tags(values):
            for v in values { sink.tag(v) }
        case let .bytes(b):
            guard bigEndian, let w = vr.binaryWidth, w > 1 else { return b }
            guard b.count % w == 0 else { throw bad("\(b.count) bytes is not a multiple of the \(w)-byte value width") }
            var swapped = b
            swapped.withUnsafeMutableBufferPointer { p in
                var i = 0
                while i < p.count {
                    var lo = i, hi = i + w - 1
                    while lo < hi { p.swapAt(lo, hi); lo += 1; hi -= 1 }
                    i += w
                }
            }
            return swapped
        case .sequence, .encapsulated:
            throw bad("not a plain value")
        }
        return sink.bytes
    }
}
