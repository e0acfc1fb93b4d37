import Angiography
import Foundation

/// Evaluation's model mode: runs the triage pipeline over a manifest's inputs, one cached result per input,
/// resumable. The metrics are Evaluation's business; this only produces the predictions.
public enum PipelineEvaluation {
    /// A manifest row as the pipeline needs it: the input's path (relative to the manifest's folder, or
    /// absolute) and the row's line, for messages.
    public struct Entry: Sendable, Equatable {
        public var path: String
        public var line: Int

        public init(path: String, line: Int) {
            self.path = path
            self.line = line
        }
    }

    /// A manifest path resolved against the manifest's folder when relative.
    public static func resolve(_ path: String, manifest: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: manifest).deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL.path
    }

    /// Fails, naming the manifest and line, when inputs are missing.
    public static func checkFiles(_ entries: [Entry], manifest: String) throws {
        let missing = entries.filter { !FileManager.default.fileExists(atPath: resolve($0.path, manifest: manifest)) }
        guard let first = missing.first else { return }
        let more = missing.count > 1 ? " (and \(missing.count - 1) more missing)" : ""
        throw TriageError.badManifestRow(file: manifest, line: first.line, reason: "no such file \"\(first.path)\"\(more)")
    }

    /// One input through the pipeline: the worst unit decides (any blocked → blocked; any review, failure or
    /// skip → manual_review) and P(blocked) is the highest.
    public static func predict(_ pipeline: TriagePipeline, path: String, key: String, displayPath: String) -> CachedPrediction {
        let records = InputPlanner.plan([EscapedPath.escape(path.utf8)]).map { pipeline.run($0) }
        let ps = records.compactMap(\.pBlocked)
        let decisions = records.map { $0.decision?.rawValue ?? "manual_review" }
        let decision = decisions.contains("blocked") ? "blocked" : (decisions.contains("manual_review") || decisions.isEmpty ? "manual_review" : "patent")
        let err = records.compactMap(\.error).first.map { $0.replacingOccurrences(of: path, with: displayPath) }
        let why = records.filter { $0.status != .processed }.compactMap { r in r.reasons.first.map { (r.files.first.map { $0 + ": " } ?? "") + $0 } }
        var p = CachedPrediction(key: key, path: displayPath, pBlocked: ps.max(), decision: decision,
                                 statuses: records.map(\.status.rawValue), error: err ?? (records.isEmpty ? "no triage unit" : nil))
        p.reasons = why.isEmpty ? nil : why.joined(separator: "; ").replacingOccurrences(of: path, with: displayPath)
        if let quality = records.lazy.compactMap({ $0.images.first?.quality }).first {
            (p.meanGray, p.dynamicRange, p.frameCount) = (quality.meanGray, quality.dynamicRange, quality.frames)
        }
        return p
    }

    public struct Outcome: Sendable {
        /// By the manifest's path of each input.
        public var predictions: [String: CachedPrediction]
        /// Inputs run now, found in the cache, and left by the limit.
        public var computed: Int
        public var cached: Int
        public var remaining: Int
    }

    /// Runs every manifest entry not yet in the cache, at most `limit` of them; `progress` after each.
    public static func run(pipeline: TriagePipeline, entries: [Entry], manifest: String, cache: PredictionCache,
                           profileFingerprint: String, limit: Int?, progress: (() -> Void)? = nil,
                           onCacheCount: ((Int) -> Void)? = nil) throws -> Outcome {
        var out: [String: CachedPrediction] = [:]
        var todo: [(Entry, String, String)] = []
        // The input-domain record decides reviews too: a new or changed record must not reuse old predictions.
        let adapters = (pipeline.adapterFingerprint.map { [$0] } ?? []) + (pipeline.inputDomain.map { ["input-domain:" + $0.fingerprint] } ?? [])
        for e in entries {
            let path = resolve(e.path, manifest: manifest)
            guard let key = PredictionCache.key(path: path, model: pipeline.modelFingerprint, adapters: adapters,
                                                profile: profileFingerprint, mode: pipeline.mode.rawValue,
                                                paths: pipeline.pathDisplay.mode.rawValue) else {
                throw TriageError.badManifestRow(file: manifest, line: e.line, reason: "cannot read \"\(e.path)\"")
            }
            if let c = cache.load(key: key) { out[e.path] = c } else { todo.append((e, path, key)) }
        }
        let cached = out.count
        onCacheCount?(cached)
        var computed = 0
        for (e, path, key) in todo {
            if let limit, computed >= limit { break }
            let p = predict(pipeline, path: path, key: key, displayPath: e.path)
            try cache.store(p)
            out[e.path] = p
            computed += 1
            progress?()
        }
        return Outcome(predictions: out, computed: computed, cached: cached, remaining: todo.count - computed)
    }
}

extension PipelineEvaluation {
    /// The entries that failed or were skipped, in entry order, with why (`CachedPrediction.failureSummary`):
    /// a person has to read these cases.
    public static func failures(_ entries: [Entry], in outcome: Outcome) -> [(entry: Entry, reason: String)] {
        entries.compactMap { e in outcome.predictions[e.path].flatMap { p in p.failureSummary.map { (e, $0) } } }
    }
}
