import FileAccess
import Foundation

/// Transfer syntax UIDs this reader knows how to parse.
public enum DICOMTransferSyntax {
    public static let implicitVRLittleEndian = "1.2.840.10008.1.2"
    public static let explicitVRLittleEndian = "1.2.840.10008.1.2.1"
    public static let deflatedExplicitVRLittleEndian = "1.2.840.10008.1.2.1.99"
    public static let explicitVRBigEndian = "1.2.840.10008.1.2.2"

    /// Whether pixel data of this transfer syntax is encapsulated (compressed fragments).
    public static func isEncapsulated(_ uid: String) -> Bool {
        ![implicitVRLittleEndian, explicitVRLittleEndian, deflatedExplicitVRLittleEndian, explicitVRBigEndian].contains(uid)
    }
}

/// A DICOM Part 10 file (or a raw dataset without preamble): file meta information plus the dataset.
public struct DICOMFile: Sendable {
    /// File meta information (group 0002); empty for a raw dataset.
    public let meta: DICOMDataset
    /// The main dataset.
    public let dataset: DICOMDataset
    /// The transfer syntax the dataset was read with.
    public let transferSyntaxUID: String
    /// Whether the file had the 128-byte preamble and "DICM" prefix.
    public let hasPreamble: Bool
    /// Non-fatal problems met while reading (unsupported character sets, stray delimiters).
    public let warnings: [String]
    /// Where the bytes came from, for messages.
    public let source: String

    /// Reads a file from disk. A large file (`limits.bulkFileBytes`) is parsed from a memory map and its
    /// Pixel Data left in the file, read a frame at a time by `PixelDataReader`: the header costs what the
    /// header holds, whatever the number of frames.
    /// `source` names the file in messages (default: its path).
    public init(url: URL, source: String? = nil, limits: DICOMLimits = DICOMLimits()) throws {
        let source = source ?? url.path
        // Checked first: a missing file is not "not DICOM", and opening a FIFO would block.
        if let reason = FileKind.notAFileReason(url.path) { throw DICOMError.unreadable(file: source, reason: reason) }
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        let large = size >= limits.bulkFileBytes
        let data: Data
        do {
            data = try Data(contentsOf: url, options: large ? .alwaysMapped : .mappedIfSafe)
        } catch {
            throw DICOMError.unreadable(file: source, reason: "cannot read: " + SystemErrorText.reason(for: error))
        }
        let bulk = large ? BulkSource(path: url.path, source: source) : nil
        self = try data.withUnsafeBytes { try Self.parse($0, source: source, limits: limits, bulk: bulk) }
    }

    /// Reads a file from bytes; `source` names it in errors.
    public init(data: Data, source: String = "<memory>", limits: DICOMLimits = DICOMLimits()) throws {
        self = try data.withUnsafeBytes { try Self.parse($0, source: source, limits: limits, bulk: nil) }
    }

    private init(meta: DICOMDataset, dataset: DICOMDataset, transferSyntaxUID: String, hasPreamble: Bool,
                 warnings: [String], source: String) {
        self.meta = meta
        self.dataset = dataset
        self.transferSyntaxUID = transferSyntaxUID
        self.hasPreamble = hasPreamble
        self.warnings = warnings
        self.source = source
    }

    /// Bytes of the Part 10 preamble and its "DICM" prefix.
    public static let prefixLength = 132

    /// Whether the first bytes of a file are a Part 10 preamble followed by "DICM" (a raw dataset without
    /// preamble, which `init` also reads, is not recognised from its head).
    public static func hasPart10Prefix(_ head: [UInt8]) -> Bool {
        head.withUnsafeBytes { hasPart10Prefix($0) }
    }

    static func hasPart10Prefix(_ head: UnsafeRawBufferPointer) -> Bool {
        head.count >= prefixLength && Array(head[128..<prefixLength]) == Array("DICM".utf8)
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, source: String, limits: DICOMLimits, bulk: BulkSource?) throws -> DICOMFile {
        let dicm: [UInt8] = Array("DICM".utf8)
        var start: Int?
        if hasPart10Prefix(bytes) {
            start = 132
        } else if bytes.count >= 4 && Array(bytes[0..<4]) == dicm {
            start = 4
        }
        guard let metaStart = start else {
            return try parseRaw(bytes, source: source, limits: limits, bulk: bulk)
        }
        // File meta is explicit VR little endian (PS3.10 §7.1); some writers used implicit, so peek at the VR.
        let metaExplicit = bytes.count >= metaStart + 6 && DICOMVR(bytes: bytes[metaStart + 4], bytes[metaStart + 5]) != nil
        var metaParser = DICOMParser(bytes: bytes, source: source, explicitVR: metaExplicit, bigEndian: false,
                                     limits: limits, position: metaStart)
        let meta = try metaParser.parseDataset(end: bytes.count, untilDelimiter: false, depth: 0, charset: [], onlyGroup: 0x0002)
        guard !meta.elements.isEmpty else {
            throw DICOMError.notDICOM(file: source, reason: "no file meta information after DICM")
        }
        var warnings = metaParser.warnings
        var ts = meta.string(.transferSyntaxUID) ?? ""
        if ts.isEmpty {
            warnings.append("\(source): no Transfer Syntax UID in file meta; assuming implicit VR little endian")
            ts = DICOMTransferSyntax.implicitVRLittleEndian
        }
        let bodyStart = metaParser.position

        var explicit = true
        var big = false
        switch ts {
        case DICOMTransferSyntax.implicitVRLittleEndian: explicit = false
        case DICOMTransferSyntax.explicitVRBigEndian: big = true
        case DICOMTransferSyntax.deflatedExplicitVRLittleEndian:
            let inflated: [UInt8]
            do {
                inflated = try Inflate.inflate(Array(bytes[bodyStart...]), maxOutput: limits.maxInflatedBytes)
            } catch {
                throw DICOMError.inflate(file: source, reason: error.description)
            }
            // The inflated stream is not the file: nothing in it can be left on disk.
            return try inflated.withUnsafeBytes {
                try parseBody($0, position: 0, meta: meta, ts: ts, explicit: true, big: false, warnings: warnings,
                              source: source, limits: limits, bulk: nil)
            }
        default: break  // explicit VR little endian, and all encapsulated syntaxes
        }
        return try parseBody(bytes, position: bodyStart, meta: meta, ts: ts, explicit: explicit, big: big, warnings: warnings,
                             source: source, limits: limits, bulk: bulk)
    }

    private static func parseBody(_ body: UnsafeRawBufferPointer, position: Int, meta: DICOMDataset, ts: String,
                                  explicit: Bool, big: Bool, warnings: [String], source: String, limits: DICOMLimits,
                                  bulk: BulkSource?) throws -> DICOMFile {
        var explicit = explicit
        var warnings = warnings
        // Tolerate files whose dataset encoding disagrees with the declared VR mode.
        if body.count - position >= 6 {
            let looksExplicit = DICOMVR(bytes: body[position + 4], body[position + 5]) != nil
            if explicit && !looksExplicit && !big {
                explicit = false
                warnings.append("\(source): dataset is implicit VR although \(DICOMUID.quoted(ts)) declares explicit VR")
            } else if !explicit && looksExplicit && Self.implicitLengthLooksWrong(body, position) {
                explicit = true
                warnings.append("\(source): dataset is explicit VR although \(DICOMUID.quoted(ts)) declares implicit VR")
            }
        }
        var parser = DICOMParser(bytes: body, source: source, explicitVR: explicit, bigEndian: big, limits: limits,
                                 position: position)
        parser.bulk = bulk
        let dataset = try parser.parseDataset(end: body.count, untilDelimiter: false, depth: 0, charset: [])
        return DICOMFile(meta: meta, dataset: dataset, transferSyntaxUID: ts, hasPreamble: true,
                         warnings: warnings + parser.warnings, source: source)
    }

    private static func parseRaw(_ bytes: UnsafeRawBufferPointer, source: String, limits: DICOMLimits, bulk: BulkSource?) throws -> DICOMFile {
        guard bytes.count >= 8 else {
            throw DICOMError.notDICOM(file: source, reason: "only \(bytes.count) bytes and no DICM prefix")
        }
        let group = UInt16(bytes[1]) << 8 | UInt16(bytes[0])
        // A raw dataset starts with a low even group (command, meta, identifying or patient groups).
        guard group <= 0x0028 && group % 2 == 0 else {
            throw DICOMError.notDICOM(file: source, reason: "no DICM prefix and first group \(DICOMTag.hex4(group)) is not a dataset start")
        }
        let explicit = DICOMVR(bytes: bytes[4], bytes[5]) != nil
        var parser = DICOMParser(bytes: bytes, source: source, explicitVR: explicit, bigEndian: false, limits: limits)
        parser.bulk = bulk
        let ds: DICOMDataset
        do {
            ds = try parser.parseDataset(end: bytes.count, untilDelimiter: false, depth: 0, charset: [])
        } catch let error as DICOMError {
            throw DICOMError.notDICOM(file: source, reason: "no DICM prefix and not a parseable raw dataset: \(error)")
        }
        let ts = explicit ? DICOMTransferSyntax.explicitVRLittleEndian : DICOMTransferSyntax.implicitVRLittleEndian
        return DICOMFile(meta: DICOMDataset(), dataset: ds, transferSyntaxUID: ts, hasPreamble: false,
                         warnings: parser.warnings, source: source)
    }

    /// True when reading bytes 4..<8 as an implicit VR 32-bit length would run past the end.
    private static func implicitLengthLooksWrong(_ b: UnsafeRawBufferPointer, _ p: Int) -> Bool {
        guard p + 8 <= b.count else { return true }
        let len = UInt32(b[p + 4]) | UInt32(b[p + 5]) << 8 | UInt32(b[p + 6]) << 16 | UInt32(b[p + 7]) << 24
        return len != 0xFFFF_FFFF && Int(len) > b.count - p - 8
    }
}
