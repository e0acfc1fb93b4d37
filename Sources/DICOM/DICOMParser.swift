/// Limits that keep a hostile file from exhausting the stack or memory.
public struct DICOMLimits: Sendable {
    /// Deepest sequence nesting accepted.
    public var maxSequenceDepth = 32
    /// Most elements accepted in a file, all levels counted.
    public var maxElements = 1_000_000
    /// Largest inflated size of a deflated dataset.
    public var maxInflatedBytes = 1 << 30
    /// A file at least this large is parsed from a memory map and its top-level native Pixel Data is left in
    /// the file (read a frame at a time); smaller files are read whole.
    public var bulkFileBytes = 4 << 20
    public init() {}
}

/// Reads data elements from a byte buffer in one transfer syntax encoding. The buffer is only borrowed
/// (values are copied out), so a parser lives inside the caller's `withUnsafeBytes`.
struct DICOMParser {
    let bytes: UnsafeRawBufferPointer
    let source: String
    /// When the buffer is the whole file at `source` (mapped), a top-level native Pixel Data value is left
    /// there as `DICOMBulkData` instead of being copied.
    var bulk: BulkSource? = nil
    var explicitVR: Bool
    var bigEndian: Bool
    let limits: DICOMLimits
    var position: Int
    var elementCount = 0
    var warnings: [String] = []

    init(bytes: UnsafeRawBufferPointer, source: String, explicitVR: Bool, bigEndian: Bool, limits: DICOMLimits, position: Int = 0) {
        self.bytes = bytes
        self.source = source
        self.explicitVR = explicitVR
        self.bigEndian = bigEndian
        self.limits = limits
        self.position = position
    }

    // MARK: primitive reads

    private func need(_ n: Int, end: Int, tag: DICOMTag?) throws {
        if end - position < n {
            throw DICOMError.truncated(file: source, offset: position, tag: tag, needed: n, available: max(0, end - position))
        }
    }

    private mutating func u16(_ big: Bool) -> UInt16 {
        let a = UInt16(bytes[position]), b = UInt16(bytes[position + 1])
        position += 2
        return big ? a << 8 | b : b << 8 | a
    }

    private mutating func u32(_ big: Bool) -> UInt32 {
        let v0 = UInt32(bytes[position]), v1 = UInt32(bytes[position + 1])
        let v2 = UInt32(bytes[position + 2]), v3 = UInt32(bytes[position + 3])
        position += 4
        return big ? v0 << 24 | v1 << 16 | v2 << 8 | v3 : v3 << 24 | v2 << 16 | v1 << 8 | v0
    }

    /// Reads a tag; item and delimitation tags are always read in the dataset's byte order.
    private mutating func readTag(end: Int) throws -> DICOMTag {
        try need(4, end: end, tag: nil)
        let g = u16(bigEndian), e = u16(bigEndian)
        return DICOMTag(g, e)
    }

    // MARK: datasets

    /// Parses elements until `end`, or until an item delimiter when `untilDelimiter`.
    /// `stopAtGroupChange` stops before the first element whose group differs (file meta).
    mutating func parseDataset(end: Int, untilDelimiter: Bool, depth: Int, charset: [String],
                               onlyGroup: UInt16? = nil) throws -> DICOMDataset {
        var ds = DICOMDataset()
        ds.characterSet = charset
        while position < end {
            if let g = onlyGroup {
                guard end - position >= 2 else { break }
                let peek = bigEndian ? UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
                    : UInt16(bytes[position + 1]) << 8 | UInt16(bytes[position])
                if peek != g { break }
            }
            let start = position
            let tag = try readTag(end: end)
            if tag == .itemDelimitation {
                try need(4, end: end, tag: tag)
                _ = u32(bigEndian)
                if untilDelimiter { return ds }
                warnings.append("\(source): stray item delimiter at offset \(start) ignored")
                continue
            }
            if tag == .sequenceDelimitation || tag == .item {
                throw DICOMError.malformed(file: source, offset: start, tag: tag, reason: "item or sequence delimiter outside a sequence")
            }
            elementCount += 1
            if elementCount > limits.maxElements {
                throw DICOMError.tooManyElements(file: source, offset: start, limit: limits.maxElements)
            }
            let element = try parseElement(tag: tag, start: start, end: end, depth: depth, charset: ds.characterSet)
            ds.insert(element)
            if tag == .specificCharacterSet, let terms = ds.strings(tag) {
                ds.characterSet = terms
                if !DICOMCharacterSet.isSupported(terms) {
                    // The terms are quoted only when they look like defined terms (ISO_IR 144, GB18030): the
                    // element could hold any text.
                    let shown = terms.allSatisfy { $0.count <= 16 && $0.allSatisfy { c in c.isASCII && (c.isUppercase || c.isNumber || c == " " || c == "_") } && ($0.hasPrefix("ISO") || $0.hasPrefix("GB")) }
                        ? terms.joined(separator: "\\") : "(an unrecognised value)"
                    warnings.append("\(source): Specific Character Set \(shown) is not supported; text decoded as Latin-1")
                }
            }
        }
        if untilDelimiter && position >= end {
            throw DICOMError.truncated(file: source, offset: position, tag: nil, needed: 8, available: 0)
        }
        return ds
    }

    private mutating func parseElement(tag: DICOMTag, start: Int, end: Int, depth: Int, charset: [String]) throws -> DICOMElement {
        var vr: DICOMVR
        var length: UInt32
        // Group 0002 is always explicit VR little endian; the caller switches modes for it.
        if explicitVR {
            try need(2, end: end, tag: tag)
            let b0 = bytes[position], b1 = bytes[position + 1]
            guard let v = DICOMVR(bytes: b0, b1) else {
                throw DICOMError.invalidVR(file: source, offset: start, tag: tag, bytes: [b0, b1])
            }
            vr = v
            position += 2
            if vr.hasLongLength {
                try need(6, end: end, tag: tag)
                position += 2
                length = u32(bigEndian)
            } else {
                try need(2, end: end, tag: tag)
                length = UInt32(u16(bigEndian))
            }
        } else {
            try need(4, end: end, tag: tag)
            length = u32(bigEndian)
            vr = DICOMDictionary.vr(for: tag)
        }
        let undefined = length == 0xFFFF_FFFF
        // An undefined-length UN, or any undefined-length element read with an implicit VR, is a sequence
        // (PS3.5 §6.2.2: UN with undefined length is encoded as implicit VR little endian).
        let unAsImplicit = undefined && explicitVR && vr == .UN && tag != .pixelData
        if undefined && tag != .pixelData && (vr == .UN || !explicitVR) { vr = .SQ }
        if vr == .SQ {
            let saved = (explicitVR, bigEndian)
            if unAsImplicit { (explicitVR, bigEndian) = (false, false) }
            defer { (explicitVR, bigEndian) = saved }
            guard depth < limits.maxSequenceDepth else {
                throw DICOMError.nestingTooDeep(file: source, offset: start, tag: tag, limit: limits.maxSequenceDepth)
            }
            let items: [DICOMDataset]
            if undefined {
                items = try parseItems(tag: tag, end: end, untilDelimiter: true, depth: depth + 1, charset: charset)
            } else {
                let avail = end - position
                guard Int(length) <= avail else {
                    throw DICOMError.lengthPastEnd(file: source, offset: start, tag: tag, length: Int(length), available: avail)
                }
                items = try parseItems(tag: tag, end: position + Int(length), untilDelimiter: false, depth: depth + 1, charset: charset)
            }
            return DICOMElement(tag: tag, vr: .SQ, value: .sequence(items), bigEndian: bigEndian, offset: start)
        }
        if undefined {
            guard tag == .pixelData else {
                throw DICOMError.invalidLength(file: source, offset: start, tag: tag, length: length,
                                               reason: "undefined length is only allowed for SQ, UN and Pixel Data")
            }
            let enc = try parseEncapsulated(tag: tag, end: end)
            return DICOMElement(tag: tag, vr: vr == .UN ? .OB : vr, value: .encapsulated(enc), bigEndian: bigEndian, offset: start)
        }
        let avail = end - position
        guard Int(length) <= avail else {
            throw DICOMError.lengthPastEnd(file: source, offset: start, tag: tag, length: Int(length), available: avail)
        }
        if tag == .pixelData && depth == 0, let file = bulk {
            let bulk = DICOMBulkData(path: file.path, source: file.source, offset: position, count: Int(length))
            position += Int(length)
            return DICOMElement(tag: tag, vr: vr, value: .bulk(bulk), bigEndian: bigEndian, offset: start)
        }
        let value = Array(bytes[position..<position + Int(length)])
        position += Int(length)
        // The Specific Character Set read implicitly is still text.
        if vr == .UN && tag == .specificCharacterSet { vr = .CS }
        return DICOMElement(tag: tag, vr: vr, value: .bytes(value), bigEndian: bigEndian, offset: start)
    }

    private mutating func parseItems(tag: DICOMTag, end: Int, untilDelimiter: Bool, depth: Int, charset: [String]) throws -> [DICOMDataset] {
        var items: [DICOMDataset] = []
        // Items and their delimiters have no VR, whatever the transfer syntax.
        while position < end {
            let start = position
            let itemTag = try readTag(end: end)
            try need(4, end: end, tag: itemTag)
            let length = u32(bigEndian)
            if itemTag == .sequenceDelimitation {
                if untilDelimiter { return items }
                warnings.append("\(source): sequence delimiter in defined-length sequence \(tag) at offset \(start)")
                continue
            }
            guard itemTag == .item else {
                throw DICOMError.malformed(file: source, offset: start, tag: tag, reason: "expected an item tag in sequence, found \(itemTag)")
            }
            elementCount += 1
            if elementCount > limits.maxElements {
                throw DICOMError.tooManyElements(file: source, offset: start, limit: limits.maxElements)
            }
            if length == 0xFFFF_FFFF {
                items.append(try parseDataset(end: end, untilDelimiter: true, depth: depth, charset: charset))
            } else {
                let avail = end - position
                guard Int(length) <= avail else {
                    throw DICOMError.lengthPastEnd(file: source, offset: start, tag: itemTag, length: Int(length), available: avail)
                }
                let itemEnd = position + Int(length)
                items.append(try parseDataset(end: itemEnd, untilDelimiter: false, depth: depth, charset: charset))
                position = itemEnd
            }
        }
        if untilDelimiter {
            throw DICOMError.truncated(file: source, offset: position, tag: tag, needed: 8, available: 0)
        }
        return items
    }

    private mutating func parseEncapsulated(tag: DICOMTag, end: Int) throws -> EncapsulatedPixelData {
        var table: [UInt32] = []
        var fragments: [[UInt8]] = []
        var first = true
        while true {
            let start = position
            let itemTag = try readTag(end: end)
            try need(4, end: end, tag: tag)
            let length = u32(bigEndian)
            if itemTag == .sequenceDelimitation { break }
            guard itemTag == .item else {
                throw DICOMError.malformed(file: source, offset: start, tag: tag, reason: "expected a fragment item, found \(itemTag)")
            }
            guard length != 0xFFFF_FFFF else {
                throw DICOMError.invalidLength(file: source, offset: start, tag: tag, length: length, reason: "fragment with undefined length")
            }
            let avail = end - position
            guard Int(length) <= avail else {
                throw DICOMError.lengthPastEnd(file: source, offset: start, tag: tag, length: Int(length), available: avail)
            }
            elementCount += 1
            if elementCount > limits.maxElements {
                throw DICOMError.tooManyElements(file: source, offset: start, limit: limits.maxElements)
            }
            let body = bytes[position..<position + Int(length)]
            position += Int(length)
            if first {
                first = false
                var i = body.startIndex
                while i + 4 <= body.endIndex {
                    let b = body
                    table.append(bigEndian
                        ? UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
                        : UInt32(b[i + 3]) << 24 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i]))
                    i += 4
                }
            } else {
                fragments.append(Array(body))
            }
        }
        return EncapsulatedPixelData(basicOffsetTable: table, fragments: fragments)
    }
}
