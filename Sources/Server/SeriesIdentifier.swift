import WorkerQueue

/// How the API names a series: a raw Series Instance UID (hashed at once with `SeriesKey.hashing(uid:)`,
/// the queue never sees it) or the queue's own 64-hex series key.
public enum SeriesIdentifier {
    /// The queue key for `text`; nil when it is neither a UID nor a series key. Sixty-four hex digits are a
    /// key (a UID always has dots, so the two forms cannot be confused).
    public static func key(for text: String) -> SeriesKey? {
        if text.utf8.count == 64, text.utf8.allSatisfy(isHexDigit) {
            return SeriesKey(rawValue: text.lowercased())
        }
        return isUID(text) ? SeriesKey.hashing(uid: text) : nil
    }

    /// A DICOM UID: 1 to 64 characters, digits in dot-separated components, at least two components.
    public static func isUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        let components = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard components.count >= 2 else { return false }
        return components.allSatisfy { !$0.isEmpty && $0.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): return true
        default: return false
        }
    }
}
