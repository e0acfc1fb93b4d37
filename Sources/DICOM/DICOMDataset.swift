import Foundation

/// A DICOM dataset: a map from tag to element, with typed accessors.
public struct DICOMDataset: Sendable {
    public private(set) var elements: [DICOMTag: DICOMElement] = [:]
    /// The Specific Character Set in force for this dataset (its own or inherited from the parent).
    public internal(set) var characterSet: [String] = []

    public init() {}

    /// Tags present, in ascending order.
    public var tags: [DICOMTag] { elements.keys.sorted() }
    public var count: Int { elements.count }
    public subscript(tag: DICOMTag) -> DICOMElement? { elements[tag] }
    public func contains(_ tag: DICOMTag) -> Bool { elements[tag] != nil }

    mutating func insert(_ element: DICOMElement) { elements[element.tag] = element }

    /// Raw value bytes (nil for sequences and encapsulated pixel data).
    public func data(_ tag: DICOMTag) -> [UInt8]? {
        guard case let .bytes(b)? = elements[tag]?.value else { return nil }
        return b
    }

    /// The items of a sequence element.
    public func sequence(_ tag: DICOMTag) -> [DICOMDataset]? {
        guard case let .sequence(items)? = elements[tag]?.value else { return nil }
        return items
    }

    /// The whole text value, decoded with the character set and with padding trimmed.
    public func string(_ tag: DICOMTag) -> String? {
        guard let e = elements[tag], case let .bytes(b) = e.value else { return nil }
        if e.vr == .AT || (!e.vr.isString && e.vr != .UN) { return nil }
        return trim(decodeText(b, vr: e.vr), vr: e.vr)
    }

    /// The values of a multi-valued text element, split at backslashes and trimmed.
    public func strings(_ tag: DICOMTag) -> [String]? {
        guard let e = elements[tag], case let .bytes(b) = e.value else { return nil }
        if !e.vr.isString && e.vr != .UN { return nil }
        let text = decodeText(b, vr: e.vr)
        if e.vr.isSingleValuedText { return [trim(text, vr: e.vr)] }
        if text.isEmpty { return [] }
        return text.split(separator: "\\", omittingEmptySubsequences: false).map { trim(String($0), vr: e.vr) }
    }

    /// The first integer value (US, SS, UL, SL, SV, UV, IS).
    public func int(_ tag: DICOMTag) -> Int? { ints(tag)?.first }

    /// All integer values (US, SS, UL, SL, SV, UV, IS).
    public func ints(_ tag: DICOMTag) -> [Int]? {
        guard let e = elements[tag], case let .bytes(b) = e.value else { return nil }
        switch e.vr {
        case .IS:
            guard let s = strings(tag) else { return nil }
            return s.compactMap { Int($0) ?? Double($0).flatMap { $0.isFinite ? Int(exactly: $0.rounded()) : nil } }
        case .US: return Self.decode(b, 2, e.bigEndian) { Int(UInt16(truncatingIfNeeded: $0)) }
        case .SS: return Self.decode(b, 2, e.bigEndian) { Int(Int16(truncatingIfNeeded: $0)) }
        case .UL: return Self.decode(b, 4, e.bigEndian) { Int(UInt32(truncatingIfNeeded: $0)) }
        case .SL: return Self.decode(b, 4, e.bigEndian) { Int(Int32(truncatingIfNeeded: $0)) }
        case .SV: return Self.decode(b, 8, e.bigEndian) { Int(Int64(bitPattern: $0)) }
        case .UV: return Self.decode(b, 8, e.bigEndian) { Int(exactly: $0) ?? Int.max }
        default: return nil
        }
    }

    /// The first floating-point value (FL, FD, DS; integers are converted).
    public func double(_ tag: DICOMTag) -> Double? { doubles(tag)?.first }

    /// All floating-point values (FL, FD, DS; integer VRs are converted).
    public func doubles(_ tag: DICOMTag) -> [Double]? {
        guard let e = elements[tag], case let .bytes(b) = e.value else { return nil }
        switch e.vr {
        case .DS: return strings(tag)?.compactMap { Double($0) }
        case .FL, .OF: return Self.decode(b, 4, e.bigEndian) { Double(Float(bitPattern: UInt32(truncatingIfNeeded: $0))) }
        case .FD, .OD: return Self.decode(b, 8, e.bigEndian) { Double(bitPattern: $0) }
        default: return ints(tag)?.map(Double.init)
        }
    }

    /// The Pixel Data element (7FE0,0010): native bytes or encapsulated fragments.
    public var pixelData: DICOMPixelData? {
        guard let e = elements[.pixelData] else { return nil }
        switch e.value {
        case let .bytes(b): return .native(.memory(b), vr: e.vr, bigEndian: e.bigEndian)
        case let .bulk(f): return .native(.file(f), vr: e.vr, bigEndian: e.bigEndian)
        case let .encapsulated(enc): return .encapsulated(enc)
        case .sequence: return nil
        }
    }

    private static func decode(_ b: [UInt8], _ width: Int, _ bigEndian: Bool, _ f: (UInt64) -> Int) -> [Int] {
        decodeRaw(b, width, bigEndian).map(f)
    }

    private static func decode(_ b: [UInt8], _ width: Int, _ bigEndian: Bool, _ f: (UInt64) -> Double) -> [Double] {
        decodeRaw(b, width, bigEndian).map(f)
    }

    private static func decodeRaw(_ b: [UInt8], _ width: Int, _ bigEndian: Bool) -> [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(b.count / width)
        var i = 0
        while i + width <= b.count {
            var v: UInt64 = 0
            for k in 0..<width {
                let byte = UInt64(b[bigEndian ? i + k : i + width - 1 - k])
                v = v << 8 | byte
            }
            out.append(v)
            i += width
        }
        return out
    }

    private func decodeText(_ b: [UInt8], vr: DICOMVR) -> String {
        // UIDs, codes and numbers are always the default repertoire.
        let usesCharset: Bool
        switch vr {
        case .PN, .LO, .SH, .LT, .ST, .UT, .UC, .UN: usesCharset = true
        default: usesCharset = false
        }
        if usesCharset, DICOMCharacterSet.isUTF8(characterSet) {
            return String(decoding: b, as: UTF8.self)
        }
        // Latin-1 maps each byte to the code point of the same value; it is a superset of ASCII.
        return String(String.UnicodeScalarView(b.map { Unicode.Scalar($0) }))
    }

    private func trim(_ s: String, vr: DICOMVR) -> String {
        var scalars = Substring(s).unicodeScalars[...]
        while let last = scalars.last, last == " " || last == "\0" { scalars.removeLast() }
        if !(vr == .LT || vr == .ST || vr == .UT) {
            while let first = scalars.first, first == " " { scalars.removeFirst() }
        }
        return String(String.UnicodeScalarView(scalars))
    }
}

/// Which Specific Character Set values are understood.
enum DICOMCharacterSet {
    static func isUTF8(_ terms: [String]) -> Bool { terms.contains("ISO_IR 192") }

    /// Character sets decoded exactly: the default repertoire, Latin-1 and UTF-8.
    static func isSupported(_ terms: [String]) -> Bool {
        terms.allSatisfy { ["", "ISO_IR 6", "ISO 2022 IR 6", "ISO_IR 100", "ISO 2022 IR 100", "ISO_IR 192"].contains($0) }
    }
}
