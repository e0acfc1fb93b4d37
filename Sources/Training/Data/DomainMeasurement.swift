import Foundation
import Triage

/// The input-domain record of a training manifest (`dsa-triage domain`; `train` writes the same itself):
/// every row's model images made exactly as triage makes them, and measured.
public struct DomainMeasurement {
    /// The manifest measured (its `skipped` rows, when `skipBadRows`).
    public let manifest: TrainingManifest
    public let images: [ModelImageStatistics]
    public let source: String

    public init(manifest path: String, profile: TaskProfile, display: PathDisplay, skipBadRows: Bool) throws {
        var images: [ModelImageStatistics] = []
        manifest = try TrainingManifest.load(path: path, profile: profile, skipBadRows: skipBadRows) { row in
            images += try TriagePipeline.modelImages(path: row.resolvedPath, profile: profile, display: display)
                .compactMap(ModelImageStatistics.init)
        }
        self.images = images
        source = path
    }

    /// The record (throws when the images cannot make one, e.g. none).
    public func domain() throws -> InputDomain { try InputDomain(measuring: images, source: source) }

    /// Where a record given as `out` goes: that file, or FOLDER/input_domain.json when `out` is a folder
    /// (a model or adapter directory).
    public static func target(_ out: String) -> URL {
        var isDir: ObjCBool = false
        let url = URL(fileURLWithPath: out)
        guard FileManager.default.fileExists(atPath: out, isDirectory: &isDir), isDir.boolValue else { return url }
        return url.appendingPathComponent(InputDomain.fileName)
    }
}
