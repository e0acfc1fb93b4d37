import DICOM

/// How the report's text is encoded, chosen from the source's Specific Character Set.
///
/// When the source uses a character set this project decodes exactly (default repertoire, Latin-1, UTF-8), the
/// copied patient/study values are decoded and everything is written as UTF-8 ("ISO_IR 192"), so the report's
/// own text (e.g. "≥" in a reason) survives. Any other source character set (e.g. ISO 2022 code extensions) is
/// kept as it is: the copied values are copied byte for byte, and the report's own text is reduced to ASCII,
/// which every DICOM character set contains.
struct SRTextEncoding: Sendable {
    /// Whether copied values are re-encoded (true) or copied as raw bytes under the source's character set.
    let reencodes: Bool
    /// The report's Specific Character Set values.
    let characterSet: [String]

    private static let decodable: Set<String> = ["", "ISO_IR 6", "ISO 2022 IR 6", "ISO_IR 100", "ISO 2022 IR 100", "ISO_IR 192"]

    init(source: DICOMDataset) {
        let terms = source.strings(.specificCharacterSet) ?? []
        if terms.allSatisfy({ Self.decodable.contains($0) }) {
            reencodes = true
            characterSet = ["ISO_IR 192"]
        } else {
            reencodes = false
            characterSet = terms
        }
    }

    /// The bytes of `text` in the report's encoding.
    func bytes(_ text: String) -> [UInt8] {
        reencodes ? Array(text.utf8) : Array(Self.ascii(text).utf8)
    }

    /// Several values joined with the backslash separator.
    func bytes(_ values: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(0x5C) }
            out += bytes(v)
        }
        return out
    }

    /// ASCII with the few symbols our messages use spelled out; anything else becomes "?".
    static func ascii(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "≥": out += ">="
            case "≤": out += "<="
            case "×": out += "x"
            case "–", "—": out += "-"
            case "…": out += "..."
            default: out.unicodeScalars.append(scalar.isASCII ? scalar : "?")
            }
        }
        return out
    }
}
