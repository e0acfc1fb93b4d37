import CImageCodecs
import Foundation

/// Decodes PNG and JPEG files (format sniffed from the magic bytes) into `DecodedImage`s.
public enum ImageDecoder {
    /// The largest image accepted, in pixels (100 Mpixel): far above any radiograph or angiogram frame, and small
    /// enough that a hostile header cannot make us allocate gigabytes. Checked from the header, before decoding.
    public static let maxPixels = 100_000_000
    /// The largest width or height accepted (JPEG cannot go past 65 535 anyway).
    public static let maxDimension = 65_535

    /// The bytes a file must start with to be sniffed (`format(ofHead:)`).
    public static let signatureLength = 8

    /// The picture format the first bytes of a file announce (PNG or JPEG, by magic bytes, as `decode`
    /// sniffs them), nil for anything else. `head` may be shorter than `signatureLength`.
    public static func format(ofHead head: [UInt8]) -> DecodedImage.Format? {
        head.withUnsafeBytes { ImageHeaderProbe.format(of: $0) }
    }

    /// Reads and decodes a file; errors name the file.
    public static func decode(contentsOf url: URL) throws -> DecodedImage {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImagingError.fileNotFound(path: path)
        }
        guard !isDirectory.boolValue else {
            throw ImagingError.unreadable(path: path, reason: "is a directory")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ImagingError.unreadable(path: path, reason: error.localizedDescription)
        }
        return try decode(data: data, source: path)
    }

    /// Decodes an encoded image held in memory; `source` names it in errors.
    public static func decode(data: Data, source: String) throws -> DecodedImage {
        try data.withUnsafeBytes { bytes in
            let header = try ImageHeaderProbe.probe(bytes, source: source)
            if let width = header.width, let height = header.height {
                try checkSize(width: width, height: height, source: source)
            }
            switch header.format {
            case .png: return try PNGDecoding.decode(bytes, source: source)
            case .jpeg: return try JPEGDecoding.decode(bytes, source: source)
            case .raw: throw ImagingError.notAnImage(source: source, detail: "no encoded format")
            }
        }
    }

    /// Refuses empty images and images past `maxPixels` / `maxDimension`.
    static func checkSize(width: Int, height: Int, source: String) throws {
        guard width > 0, height > 0 else {
            throw ImagingError.emptyImage(source: source, width: width, height: height)
        }
        guard width <= maxDimension, height <= maxDimension, width * height <= maxPixels else {
            throw ImagingError.tooLarge(source: source, width: width, height: height,
                                        limit: "\(maxPixels) pixels, \(maxDimension) per side")
        }
    }

    /// The C message buffer as a Swift string.
    static func message(_ buffer: [CChar]) -> String {
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "unknown error" : text
    }
}
