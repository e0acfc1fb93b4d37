import Foundation

/// The one file a case page may show: the model input image the case names, a plain PNG file name inside
/// the worker's image folder. Anything else (another case's file, a path, `..`, a link leading out of the
/// folder, a file that is not a PNG) is refused the same way, so a probe learns nothing about the folder.
enum CaseImageFile {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Larger model images are not expected (896×896 gray is well under 1 MiB).
    static let maxBytes = 32 << 20

    /// The PNG's bytes when `requested` is exactly the case's image file and is a safe plain name that
    /// resolves inside `folder`; nil otherwise.
    static func read(requested: String, caseImage: String?, folder: URL) -> Data? {
        guard let caseImage, requested == caseImage, isPlainName(requested) else { return nil }
        let root = folder.resolvingSymlinksInPath().standardizedFileURL
        let file = root.appendingPathComponent(requested, isDirectory: false).resolvingSymlinksInPath().standardizedFileURL
        guard file.deletingLastPathComponent().path == root.path else { return nil }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file.path),
              attributes[.type] as? FileAttributeType == .typeRegular,
              let size = (attributes[.size] as? NSNumber)?.intValue, size <= maxBytes,
              let data = FileManager.default.contents(atPath: file.path),
              data.count >= pngSignature.count, Array(data.prefix(pngSignature.count)) == pngSignature else { return nil }
        return data
    }

    /// Letters, digits, `.`, `_`, `-` only; not starting with a dot; ending in `.png`; at most 255 bytes.
    static func isPlainName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255, !name.hasPrefix("."), name.lowercased().hasSuffix(".png") else { return false }
        return name.utf8.allSatisfy { b in
            (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
    }
}
