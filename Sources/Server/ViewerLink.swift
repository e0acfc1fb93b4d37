import Foundation

/// The link from a case page to the site's own viewer (OHIF, Orthanc Explorer, a PACS web viewer): a URL
/// template whose `{StudyInstanceUID}` (or `{study}`) is replaced by the URL-encoded Study Instance UID.
/// The UID appears in this link and nowhere else on the page.
public struct ViewerLink: Sendable, Equatable {
    /// The placeholders accepted; `{study}` is the worker option's older spelling.
    public static let placeholders = ["{StudyInstanceUID}", "{study}"]

    public let template: String

    /// Accepts only absolute http(s) templates that contain a placeholder, so the link can never become a
    /// `javascript:` URL or point at the same study for every case.
    public init(template: String) throws(ReviewConfigurationError) {
        let trimmed = template.trimmingCharacters(in: .whitespaces)
        guard Self.placeholders.contains(where: trimmed.contains) else {
            throw .invalidViewerTemplate(template, reason: "it needs the placeholder {StudyInstanceUID}")
        }
        let probe = Self.substitute(in: trimmed, value: "1.2.3")
        guard let url = URL(string: probe), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw .invalidViewerTemplate(template, reason: "it must be an absolute http:// or https:// URL")
        }
        self.template = trimmed
    }

    /// The viewer URL for one study.
    public func url(studyInstanceUID: String) -> String {
        Self.substitute(in: template, value: Self.encode(studyInstanceUID))
    }

    /// RFC 3986 unreserved characters stay; every other byte is percent-encoded (a UID is digits and dots,
    /// but the stored value is not trusted to be one).
    static func encode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    private static func substitute(in template: String, value: String) -> String {
        placeholders.reduce(template) { $0.replacingOccurrences(of: $1, with: value) }
    }
}
