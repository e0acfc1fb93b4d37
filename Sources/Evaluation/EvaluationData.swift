import Foundation

/// One manifest row: an input and its ground truth, with the optional grouping columns.
public struct ManifestEntry: Sendable, Equatable {
    public var path: String
    public var blocked: Bool
    public var site: String?
    public var scanner: String?
    public var date: String?
    public var split: String?
    /// Line in the manifest file.
    public var line: Int
}

/// One row of a predictions file.
public struct PredictionEntry: Sendable, Equatable {
    public var path: String
    public var blocked: Bool?
    public var pBlocked: Double?
    public var decision: String?
    public var line: Int
}

/// Reading and joining manifests and prediction files; errors name the file and line.
public enum EvaluationData {
    static func label(_ s: String?, file: String, line: Int) throws -> Bool? {
        guard let s else { return nil }
        switch s.lowercased() {
        case "blocked": return true
        case "patent": return false
        default: throw EvaluationError.badRow(file: file, line: line, reason: "unknown label \"\(s)\" (expected patent or blocked)")
        }
    }

    /// Reads a manifest (`path,label` + optional `site,scanner,date,split`).
    public static func manifest(path: String) throws -> [ManifestEntry] {
        let t = try EvaluationError.readTable(path: path)
        guard !t.rows.isEmpty else { throw EvaluationError.empty(file: path) }
        for c in ["path", "label"] where !t.columns.contains(c) { throw EvaluationError.missingColumn(file: path, column: c) }
        var seen: [String: Int] = [:]
        var out: [ManifestEntry] = []
        for r in t.rows {
            guard let p = r.fields["path"] else { throw EvaluationError.badRow(file: path, line: r.line, reason: "empty path") }
            if let first = seen[p] { throw EvaluationError.badRow(file: path, line: r.line, reason: "duplicate path \"\(p)\" (first on line \(first))") }
            seen[p] = r.line
            guard let y = try label(r.fields["label"], file: path, line: r.line) else {
                throw EvaluationError.badRow(file: path, line: r.line, reason: "empty label")
            }
            if let d = r.fields["date"], month(d) == nil {
                throw EvaluationError.badRow(file: path, line: r.line, reason: "date \"\(d)\" is not YYYY-MM or YYYY-MM-DD")
            }
            out.append(ManifestEntry(path: p, blocked: y, site: r.fields["site"], scanner: r.fields["scanner"], date: r.fields["date"],
                                     split: r.fields["split"]?.lowercased(), line: r.line))
        }
        return out
    }

    /// "YYYY-MM" of a date written YYYY-MM or YYYY-MM-DD (ISO 8601, optionally with a time).
    public static func month(_ d: String) -> String? {
        let s = Array(d.utf8)
        guard s.count >= 7, s[4] == UInt8(ascii: "-"),
              s[0..<4].allSatisfy({ $0 >= 48 && $0 <= 57 }), s[5..<7].allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let m = Int(String(decoding: s[5..<7], as: UTF8.self)) ?? 0
        guard (1...12).contains(m) else { return nil }
        if s.count > 7 && s[7] != UInt8(ascii: "-") { return nil }
        return String(decoding: s[0..<7], as: UTF8.self)
    }

    static let decisions: Set<String> = ["patent", "blocked", "manual_review"]

    /// Reads a predictions file (`path,p_blocked` + optional `label`, `decision`).
    public static func predictions(path: String) throws -> [PredictionEntry] {
        let t = try EvaluationError.readTable(path: path)
        guard !t.rows.isEmpty else { throw EvaluationError.empty(file: path) }
        guard t.columns.contains("path") else { throw EvaluationError.missingColumn(file: path, column: "path") }
        guard t.columns.contains("p_blocked") || t.columns.contains("decision") else {
            throw EvaluationError.missingColumn(file: path, column: "p_blocked")
        }
        var seen: [String: Int] = [:]
        var out: [PredictionEntry] = []
        for r in t.rows {
            guard let p = r.fields["path"] else { throw EvaluationError.badRow(file: path, line: r.line, reason: "empty path") }
            if let first = seen[p] { throw EvaluationError.badRow(file: path, line: r.line, reason: "duplicate path \"\(p)\" (first on line \(first))") }
            seen[p] = r.line
            var prob: Double?
            if let s = r.fields["p_blocked"] {
                guard let v = Double(s), v.isFinite else {
                    throw EvaluationError.badRow(file: path, line: r.line, reason: "p_blocked \"\(s)\" is not a finite number")
                }
                guard v >= 0, v <= 1 else { throw EvaluationError.badRow(file: path, line: r.line, reason: "p_blocked \(s) is outside [0, 1]") }
                prob = v
            }
            var dec: String?
            if let d = r.fields["decision"] {
                guard decisions.contains(d.lowercased()) else {
                    throw EvaluationError.badRow(file: path, line: r.line, reason: "unknown decision \"\(d)\" (expected patent, blocked or manual_review)")
                }
                dec = d.lowercased()
            }
            if prob == nil && dec == nil {
                throw EvaluationError.badRow(file: path, line: r.line, reason: "neither p_blocked nor decision")
            }
            out.append(PredictionEntry(path: p, blocked: try label(r.fields["label"], file: path, line: r.line), pBlocked: prob,
                                       decision: dec, line: r.line))
        }
        return out
    }

    /// Joins predictions to the manifest (when given) into samples. Decisions come from the `decision` column
    /// when present, else from P(blocked) ≥ `threshold`. Every manifest row needs a prediction and every
    /// prediction a manifest row; a label in both must agree.
    public static func samples(manifest: [ManifestEntry]?, manifestPath: String, predictions: [PredictionEntry], predictionsPath: String,
                               threshold: Double) throws -> [EvaluationSample] {
        func decide(_ p: PredictionEntry) throws -> String {
            if let d = p.decision { return d }
            guard let x = p.pBlocked else { throw EvaluationError.badRow(file: predictionsPath, line: p.line, reason: "no p_blocked") }
            return x >= threshold ? "blocked" : "patent"
        }
        guard let manifest else {
            return try predictions.map { p in
                guard let y = p.blocked else {
                    throw EvaluationError.badRow(file: predictionsPath, line: p.line, reason: "no label (give --data MANIFEST or a label column)")
                }
                return EvaluationSample(path: p.path, blocked: y, pBlocked: p.pBlocked, decision: try decide(p))
            }
        }
        let byPath = Dictionary(predictions.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let inManifest = Set(manifest.map(\.path))
        if let extra = predictions.first(where: { !inManifest.contains($0.path) }) {
            throw EvaluationError.badRow(file: predictionsPath, line: extra.line, reason: "\"\(extra.path)\" is not in the manifest \(manifestPath)")
        }
        return try manifest.map { m in
            guard let p = byPath[m.path] else {
                throw EvaluationError.badRow(file: manifestPath, line: m.line, reason: "no prediction for \"\(m.path)\" in \(predictionsPath)")
            }
            if let y = p.blocked, y != m.blocked {
                throw EvaluationError.badRow(file: predictionsPath, line: p.line,
                                             reason: "label of \"\(m.path)\" disagrees with the manifest (line \(m.line))")
            }
            return EvaluationSample(path: m.path, blocked: m.blocked, pBlocked: p.pBlocked, decision: try decide(p),
                                    site: m.site, scanner: m.scanner, date: m.date, split: m.split)
        }
    }
}

extension EvaluationData {
    /// Where the predictions' decisions come from, as the provenance records it: every row's decision column,
    /// some rows' (the rest by threshold), or the threshold alone.
    public static func decisionSource(_ predictions: [PredictionEntry]) -> String {
        if predictions.allSatisfy({ $0.decision != nil }) { return "decision_column" }
        return predictions.contains { $0.decision != nil } ? "decision_column_or_threshold" : "threshold"
    }

    /// The predictions file of a run to compare with: a predictions file as given, or an evaluate output
    /// folder's predictions.csv.
    public static func comparisonFile(_ run: String) -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: run, isDirectory: &isDir), isDir.boolValue else { return run }
        return URL(fileURLWithPath: run).appendingPathComponent("predictions.csv").path
    }
}

extension EvaluationData {
    /// Samples of a manifest run through a model: each entry with the prediction `prediction` gives for its
    /// path (an entry without one is an error naming the manifest).
    public static func samples(manifest entries: [ManifestEntry], manifestPath: String,
                               prediction: (String) -> (pBlocked: Double?, decision: String)?) throws -> [EvaluationSample] {
        try entries.map { e in
            guard let p = prediction(e.path) else {
                throw EvaluationError.unreadable(file: manifestPath, reason: "no prediction was produced for \(e.path)")
            }
            return EvaluationSample(path: e.path, blocked: e.blocked, pBlocked: p.pBlocked, decision: p.decision,
                                    site: e.site, scanner: e.scanner, date: e.date, split: e.split)
        }
    }

    /// Comparisons of `samples` with other runs (predictions files or evaluate output folders), their
    /// predictions read against the same manifest and threshold.
    public static func comparisons(with runs: [String], samples: [EvaluationSample], manifest: [ManifestEntry]?, manifestPath: String,
                                   threshold: Double, bootstrap: BootstrapSettings) throws -> [RunComparison] {
        try runs.map { other in
            let file = comparisonFile(other)
            let theirs = try Self.samples(manifest: manifest, manifestPath: manifestPath, predictions: try predictions(path: file),
                                     predictionsPath: file, threshold: threshold)
            return try Evaluator.compare(name: other, this: samples, other: theirs, bootstrap: bootstrap)
        }
    }
}
