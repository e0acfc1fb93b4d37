import FileAccess
import Foundation
import ModelFiles

/// One model-mode result, cached as one JSON file per input in `OUT/cache/`.
public struct CachedPrediction: Sendable, Equatable, Codable {
    public var key: String
    public var path: String
    public var pBlocked: Double?
    /// patent, blocked or manual_review (failed and skipped inputs become manual_review: a person reads them).
    public var decision: String
    /// Record statuses of the units the input planned into.
    public var statuses: [String]
    public var error: String?
    /// Why units were skipped or failed (their records' first reasons), nil when every unit was processed.
    public var reasons: String? = nil
    /// Input statistics of the first model image (mean gray and dynamic range, 0–255) and the run's frame count
    /// (nil for still images), for the profile's reference distribution; nil in caches written before them.
    public var meanGray: Double? = nil
    public var dynamicRange: Double? = nil
    public var frameCount: Int? = nil

    enum CodingKeys: String, CodingKey {
        case key, path, decision, statuses, error, reasons, pBlocked = "p_blocked"
        case meanGray = "mean_gray", dynamicRange = "dynamic_range", frameCount = "frame_count"
    }
}

/// The cache of model-mode results: keyed by the input's path, size and modification time and by the
/// model, adapter and profile fingerprints and the mode, so changing any of them recomputes.
public struct PredictionCache: Sendable {
    public let directory: URL

    public init(directory: URL) throws {
        self.directory = directory
        try OutputFolder.create(directory)
    }

    /// sha256 over the key parts; nil when the input cannot be stat'ed. `paths` (the `--paths` naming) is a
    /// part because cached messages name files found under folders in that form.
    public static func key(path: String, model: String, adapters: [String], profile: String, mode: String,
                           paths: String = "as-given") -> String? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        let size = (a[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let parts = ["dsa-triage-eval-cache-v1", URL(fileURLWithPath: path).standardizedFileURL.path, "\(size)", String(format: "%.6f", mtime),
                     model, adapters.joined(separator: "+"), profile, mode] + (paths == "as-given" ? [] : ["paths=" + paths])
        return SHA256Hasher.hex(of: Data(parts.joined(separator: "\u{1F}").utf8))
    }

    func file(_ key: String) -> URL { directory.appendingPathComponent(key + ".json") }

    public func load(key: String) -> CachedPrediction? {
        guard let d = FileManager.default.contents(atPath: file(key).path),
              let p = try? JSONDecoder().decode(CachedPrediction.self, from: d), p.key == key else { return nil }
        return p
    }

    /// Written to a temporary name and renamed, so an interrupted write never leaves a half record.
    public func store(_ p: CachedPrediction) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        try AtomicWrite.write(try e.encode(p), to: file(p.key))
    }
}

extension CachedPrediction {
    /// Why this input is not a plain processed result, for people ("failed: …", or "1 of 2 unit(s)
    /// skipped; …"); nil when every unit was processed.
    public var failureSummary: String? {
        if let error { return "failed: \(error)" }
        let other = statuses.filter { $0 != "processed" }
        guard !other.isEmpty else { return nil }
        let reason = reasons.map { "; " + $0 } ?? ""
        return "\(other.count) of \(statuses.count) unit(s) \(Set(other).sorted().joined(separator: "/"))" + reason
    }
}
