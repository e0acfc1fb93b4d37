import Foundation
import Hummingbird

/// Why a STOW-RS request is refused as a whole, before or while its body is read. Nothing of such a
/// request is stored or acknowledged; the staged parts are deleted.
public enum StowRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not `multipart/related; type="application/dicom"` (415).
    case unsupportedMediaType(String)
    /// Bad syntax: no boundary, broken framing, no parts (400).
    case badRequest(String)
    /// The body exceeds the configured limit (413).
    case tooLarge(limit: Int)
    /// The connection failed while the body was read; no answer can reach the sender.
    case bodyUnreadable(String)

    /// The HTTP status PS3.18 and RFC 9110 give this refusal.
    public var status: HTTPResponse.Status {
        switch self {
        case .unsupportedMediaType: return .unsupportedMediaType
        case .badRequest: return .badRequest
        case .tooLarge: return .contentTooLarge
        case .bodyUnreadable: return .badRequest
        }
    }

    public var description: String {
        switch self {
        case .unsupportedMediaType(let message), .badRequest(let message): return message
        case .tooLarge(let limit): return "the request body exceeds the limit of \(limit) bytes"
        case .bodyUnreadable(let message): return "the request body could not be read: \(message)"
        }
    }
}

/// The STOW-RS request's Content-Type: PS3.18 Part 10 uploads are `multipart/related` with
/// `type="application/dicom"` and a boundary (names case-insensitive, values quoted or not, any order).
public enum StowContentType {
    /// What the STOW-RS endpoint takes, for messages.
    public static let expected = #"multipart/related; type="application/dicom"; boundary=..."#

    /// The boundary of an acceptable Content-Type; 415 for another media type, 400 for a broken one.
    public static func boundary(fromContentType header: String?) throws(StowRequestError) -> String {
        guard let header, !header.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .unsupportedMediaType("the request has no Content-Type; STOW-RS takes \(expected)")
        }
        let media: MediaType
        do {
            media = try MediaType.parse(header)
        } catch {
            if case .missingSlash = error {
                throw .unsupportedMediaType("the Content-Type is not a media type; STOW-RS takes \(expected)")
            }
            throw .badRequest("the Content-Type cannot be read: \(error)")
        }
        guard media.type == "multipart/related" else {
            throw .unsupportedMediaType("Content-Type \(printable(media.type)) is not supported; STOW-RS takes \(expected)")
        }
        guard let partType = media.parameters["type"] else {
            throw .unsupportedMediaType("multipart/related without a type parameter; STOW-RS takes \(expected)")
        }
        let loweredType = partType.lowercased()
        guard loweredType == "application/dicom" else {
            throw .unsupportedMediaType("multipart/related with type=\(printable(loweredType)) is not supported "
                + "(only Part 10 instances, type=\"application/dicom\")")
        }
        guard let boundary = media.parameters["boundary"], !boundary.isEmpty else {
            throw .badRequest("the multipart/related Content-Type has no boundary parameter")
        }
        guard boundary.utf8.count <= 70, boundary.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }),
              boundary.last != " " else {
            throw .badRequest("the multipart boundary must be 1 to 70 printable ASCII characters not ending in a space (RFC 2046)")
        }
        return boundary
    }

    /// A header fragment safe to echo in a message: printable ASCII, at most 80 characters.
    static func printable(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }.map(Character.init))
        return cleaned.count > 80 ? String(cleaned.prefix(80)) + "…" : cleaned
    }
}
