import Foundation

/// `application/x-www-form-urlencoded` fields, as browsers send form posts and GET form queries: `&`-separated
/// `name=value` pairs, `+` for a space, percent-encoded UTF-8. A field that is not valid UTF-8 after decoding
/// is dropped rather than guessed at.
struct FormFields: Sendable {
    private var values: [(String, String)] = []

    init(encoded text: Substring) {
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            if let value { values.append((name, value)) }
        }
    }

    init(encoded text: String?) {
        self.init(encoded: Substring(text ?? ""))
    }

    /// The first value of `name`, nil when absent.
    subscript(_ name: String) -> String? {
        values.first { $0.0 == name }?.1
    }

    /// The first value of `name` with surrounding blanks removed; nil when absent or blank.
    func trimmed(_ name: String) -> String? {
        guard let value = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    private static func decode(_ part: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(part.utf8.count)
        var iterator = part.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Builds a query string for links (worklist filters): each name and value percent-encoded.
enum QueryString {
    static func make(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(ViewerLink.encode($0.0))=\(ViewerLink.encode($0.1))" }.joined(separator: "&")
    }
}
