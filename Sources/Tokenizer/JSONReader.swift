import Foundation
import Support

/// A hand-written JSON reader over raw UTF-8 bytes. Besides building `JSONValue` trees it lets the
/// loader stream the two huge sections of a tokenizer.json (`vocab`, `merges`) straight into their
/// tables, which keeps loading 500k merges well under a second.
struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let source: String
    private(set) var position = 0
    private var depth = 0
    /// The UTF-8 bytes of the current member's name while `forEachMember` runs its body.
    private(set) var memberKey: [UInt8] = []

    private static let maximumDepth = 256

    init(bytes: UnsafeBufferPointer<UInt8>, source: String) {
        self.bytes = bytes
        self.source = source
    }

    func failure(_ reason: String) -> TokenizerError {
        .malformedJSON(source: source, offset: position, reason: reason)
    }

    /// The current member name as a String.
    var memberName: String { String(decoding: memberKey, as: UTF8.self) }

    mutating func skipWhitespace() {
        while position < bytes.count {
            let b = bytes[position]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position += 1 } else { return }
        }
    }

    /// The next significant byte, not consumed.
    mutating func peekByte() throws -> UInt8 {
        skipWhitespace()
        guard position < bytes.count else { throw failure("unexpected end of data (file truncated?)") }
        return bytes[position]
    }

    mutating func consume(_ expected: UInt8) throws {
        let b = try peekByte()
        guard b == expected else {
            throw failure("expected '\(Character(Unicode.Scalar(expected)))' but found \(describe(b))")
        }
        position += 1
    }

    /// Fails unless only whitespace is left.
    mutating func expectEnd() throws {
        skipWhitespace()
        if position != bytes.count { throw failure("unexpected data after the top-level value") }
    }

    private func describe(_ b: UInt8) -> String {
        (0x21...0x7E).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    // MARK: Structure

    /// Calls `body` once per member of the object that starts here, with the reader positioned on the
    /// member's value (which `body` must read or skip); `memberKey` holds the member's name meanwhile.
    mutating func forEachMember(_ body: (inout JSONReader) throws -> Void) throws {
        try consume(UInt8(ascii: "{"))
        depth += 1
        guard depth <= Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth)") }
        if try peekByte() == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return
        }
        while true {
            guard try peekByte() == UInt8(ascii: "\"") else { throw failure("expected a member name") }
            var key = memberKey
            memberKey = []
            key.removeAll(keepingCapacity: true)
            try readStringBytes(into: &key)
            memberKey = key
            try consume(UInt8(ascii: ":"))
            try body(&self)
            let b = try peekByte()
            position += 1
            if b == UInt8(ascii: ",") { continue }
            if b == UInt8(ascii: "}") { break }
            position -= 1
            throw failure("expected ',' or '}' after an object member, found \(describe(b))")
        }
        depth -= 1
    }

    /// Calls `body` once per element of the array that starts here, with the reader on the element.
    mutating func forEachElement(_ body: (inout JSONReader) throws -> Void) throws {
        try consume(UInt8(ascii: "["))
        depth += 1
        guard depth <= Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth)") }
        if try peekByte() == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return
        }
        while true {
            try body(&self)
            let b = try peekByte()
            position += 1
            if b == UInt8(ascii: ",") { continue }
            if b == UInt8(ascii: "]") { break }
            position -= 1
            throw failure("expected ',' or ']' after an array element, found \(describe(b))")
        }
        depth -= 1
    }

    // MARK: Values

    mutating func readValue() throws -> JSONValue {
        let b = try peekByte()
        switch b {
        case UInt8(ascii: "{"):
            // A repeated name keeps its last value, as in serde's maps.
            var members: [String: JSONValue] = [:]
            try forEachMember { reader in
                let key = reader.memberName
                members[key] = try reader.readValue()
            }
            return .object(members)
        case UInt8(ascii: "["):
            var elements: [JSONValue] = []
            try forEachElement { reader in elements.append(try reader.readValue()) }
            return .array(elements)
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t"):
            try readLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try readLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try readLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try readNumber()
        default:
            throw failure("expected a value, found \(describe(b))")
        }
    }

    mutating func skipValue() throws {
        _ = try readValue()
    }

    private mutating func readLiteral(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count else { throw failure("unexpected end of data (file truncated?)") }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: n)
        for i in 0..<n where bytes[position + i] != expected[i] {
            throw failure("invalid literal")
        }
        position += n
    }

    mutating func readString() throws -> String {
        guard try peekByte() == UInt8(ascii: "\"") else {
            throw failure("expected a string, found \(describe(bytes[position]))")
        }
        var buffer: [UInt8] = []
        try readStringBytes(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Appends the decoded UTF-8 bytes of the string that starts here (escapes resolved) to `out`.
    mutating func readStringBytes(into out: inout [UInt8]) throws {
        guard try peekByte() == UInt8(ascii: "\"") else {
            throw failure("expected a string, found \(describe(bytes[position]))")
        }
        position += 1
        var runStart = position
        while true {
            guard position < bytes.count else { throw failure("unterminated string (file truncated?)") }
            let b = bytes[position]
            if b == 0x22 {
                if position > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position])) }
                position += 1
                return
            }
            if b == 0x5C {
                if position > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position])) }
                position += 1
                try readEscape(into: &out)
                runStart = position
                continue
            }
            if b < 0x20 { throw failure("unescaped control character inside a string") }
            position += 1
        }
    }

    private mutating func readEscape(into out: inout [UInt8]) throws {
        guard position < bytes.count else { throw failure("unterminated escape") }
        let e = bytes[position]
        position += 1
        switch e {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var value = UInt32(try readHex4())
            if (0xD800...0xDBFF).contains(value) {
                guard position + 1 < bytes.count, bytes[position] == 0x5C, bytes[position + 1] == UInt8(ascii: "u") else {
                    throw failure("lone leading surrogate in a \\u escape")
                }
                position += 2
                let low = UInt32(try readHex4())
                guard (0xDC00...0xDFFF).contains(low) else { throw failure("invalid trailing surrogate in a \\u escape") }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(value) {
                throw failure("lone trailing surrogate in a \\u escape")
            }
            guard let scalar = Unicode.Scalar(value) else { throw failure("invalid \\u escape") }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            position -= 1
            throw failure("invalid escape \\\(describe(e))")
        }
    }

    private mutating func readHex4() throws -> UInt16 {
        guard position + 4 <= bytes.count else { throw failure("truncated \\u escape") }
        var v: UInt16 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw failure("invalid hex digit in a \\u escape")
            }
            v = v << 4 | UInt16(d)
            position += 1
        }
        return v
    }

    mutating func readNumber() throws -> JSONValue {
        _ = try peekByte()
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        let digitsStart = position
        skipDigits()
        guard position > digitsStart else { throw failure("invalid number") }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            let fractionStart = position
            skipDigits()
            guard position > fractionStart else { throw failure("invalid number") }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            let exponentStart = position
            skipDigits()
            guard position > exponentStart else { throw failure("invalid number") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text) else { throw failure("invalid number '\(text)'") }
        return .number(value)
    }

    private mutating func skipDigits() {
        while position < bytes.count, bytes[position] &- UInt8(ascii: "0") < 10 { position += 1 }
    }

    /// A non-negative integer without fraction or exponent (vocabulary ids), read without allocating.
    mutating func readNonNegativeInteger() throws -> Int {
        _ = try peekByte()
        let start = position
        var value = 0
        while position < bytes.count {
            let d = bytes[position] &- UInt8(ascii: "0")
            guard d < 10 else { break }
            value = value &* 10 &+ Int(d)
            position += 1
            guard position - start <= 18 else { throw failure("integer too large") }
        }
        guard position > start else { throw failure("expected a non-negative integer") }
        if position < bytes.count {
            let b = bytes[position]
            if b == UInt8(ascii: ".") || b | 0x20 == UInt8(ascii: "e") { throw failure("expected an integer") }
        }
        return value
    }

    // MARK: Encoding check

    /// The offset of the first byte that breaks UTF-8, or nil when all of `bytes` is valid UTF-8.
    static func firstInvalidUTF8Offset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        var i = 0
        while i < n {
            // Skip ASCII eight bytes at a time.
            while i + 8 <= n {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            guard i < n else { return nil }
            let b0 = base[i]
            if b0 < 0x80 { i += 1; continue }
            let length: Int
            var lowerBound: UInt8 = 0x80, upperBound: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lowerBound = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: length = 3
            case 0xED: length = 3; upperBound = 0x9F
            case 0xF0: length = 4; lowerBound = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upperBound = 0x8F
            default: return i
            }
            guard i + length <= n else { return i }
            let b1 = base[i + 1]
            guard b1 >= lowerBound, b1 <= upperBound else { return i }
            for k in 2..<max(2, length) where base[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return nil
    }
}
