/// Escaping and number formatting for the report page.
enum HTMLText {
    /// Escapes text for HTML element content and double- or single-quoted attribute values (also valid in
    /// inline SVG). Control characters other than tab and newline are dropped so they cannot garble the page.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The text written for a missing or non-finite number.
    static let notDefined = "not defined"

    /// `value` in `format`, or "not defined".
    static func number(_ value: Double?, _ format: ReportNumberFormat) -> String {
        guard let v = value, v.isFinite else { return notDefined }
        switch format {
        case .percent: return fixed(v * 100, decimals: 1) + "%"
        case .decimal: return fixed(v, decimals: 3)
        case .count: return v.magnitude < 9.0e15 ? String(Int(v.rounded())) : fixed(v, decimals: 0)
        }
    }

    /// A confidence interval "[lo, hi]", or nil when either end is missing or non-finite.
    static func interval(_ low: Double?, _ high: Double?, _ format: ReportNumberFormat) -> String? {
        guard let l = low, let h = high, l.isFinite, h.isFinite else { return nil }
        return number(l, format) + " – " + number(h, format)
    }

    /// Fixed-point decimal text independent of locale ("-0.0" written "0.0").
    static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return notDefined }
        var scale = 1.0
        for _ in 0..<max(0, decimals) { scale *= 10 }
        let scaled = (value * scale).rounded()
        guard scaled.magnitude < 9.0e15 else { return String(value) }
        var n = Int(scaled)
        let negative = n < 0
        n = abs(n)
        var digits = String(n)
        if decimals > 0 {
            if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        }
        return (negative && n != 0 ? "-" : "") + digits
    }
}
