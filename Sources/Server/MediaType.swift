/// A parsed `Content-Type` value: `type/subtype` (lower-cased) and its parameters, names lower-cased and
/// values unquoted. Quoted values keep their case and may hold `;`; unquoted values are read leniently up
/// to the next `;` because many DICOMweb clients leave boundaries with `=` or `.` unquoted.
public struct MediaType: Sendable, Equatable {
    public var type: String
    public var parameters: [String: String]

    /// Why a Content-Type value could not be read.
    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case missingSlash
        case malformedParameter(String)
        case unterminatedQuote
        case duplicateParameter(String)

        public var description: String {
            switch self {
            case .missingSlash: return "the media type has no type/subtype"
            case .malformedParameter(let name): return "the parameter '\(name)' is not name=value"
            case .unterminatedQuote: return "a quoted parameter value is not closed"
            case .duplicateParameter(let name): return "the parameter '\(name)' is given twice"
            }
        }
    }

    /// Parses a header value such as `multipart/related; type="application/dicom"; boundary=abc`.
    public static func parse(_ value: String) throws(ParseError) -> MediaType {
        let chars = Array(value.unicodeScalars)
        var i = 0
        func skipSpaces() { while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 } }
        skipSpaces()
        var typeText = ""
        while i < chars.count, chars[i] != ";" { typeText.unicodeScalars.append(chars[i]); i += 1 }
        let type = typeText.trimmingSpaces().lowercased()
        let halves = type.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, !halves[0].isEmpty, !halves[1].isEmpty else { throw .missingSlash }
        var parameters: [String: String] = [:]
        while i < chars.count {
            // chars[i] is ';'
            i += 1
            skipSpaces()
            if i >= chars.count { break }
            if chars[i] == ";" { continue }
            var name = ""
            while i < chars.count, chars[i] != "=", chars[i] != ";" { name.unicodeScalars.append(chars[i]); i += 1 }
            name = name.trimmingSpaces().lowercased()
            guard i < chars.count, chars[i] == "=", !name.isEmpty, !name.contains(" ") else {
                throw .malformedParameter(String(name.prefix(40)))
            }
            i += 1
            skipSpaces()
            var parameterValue = ""
            if i < chars.count, chars[i] == "\"" {
                i += 1
                var closed = false
                while i < chars.count {
                    let c = chars[i]
                    if c == "\\", i + 1 < chars.count {
                        parameterValue.unicodeScalars.append(chars[i + 1]); i += 2; continue
                    }
                    if c == "\"" { closed = true; i += 1; break }
                    parameterValue.unicodeScalars.append(c); i += 1
                }
                guard closed else { throw .unterminatedQuote }
                skipSpaces()
                guard i >= chars.count || chars[i] == ";" else { throw .malformedParameter(name) }
            } else {
                while i < chars.count, chars[i] != ";" { parameterValue.unicodeScalars.append(chars[i]); i += 1 }
                parameterValue = parameterValue.trimmingSpaces()
            }
            guard parameters[name] == nil else { throw .duplicateParameter(name) }
            parameters[name] = parameterValue
        }
        return MediaType(type: type, parameters: parameters)
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
