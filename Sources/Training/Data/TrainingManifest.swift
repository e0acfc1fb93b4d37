import Evaluation
import Foundation
import ModelFiles
import Tables
import Triage

/// One usable manifest row: an input and its class.
public struct TrainingRow: Sendable, Equatable {
    /// The path as written in the manifest.
    public var path: String
    /// The path resolved against the manifest's folder.
    public var resolvedPath: String
    /// The class, spelled as the task profile names it.
    public var label: String
    /// 1-based line in the manifest file.
    public var line: Int
    /// Every non-empty column of the row (site, scanner, split, …), for reports.
    public var fields: [String: String]

    public init(path: String, resolvedPath: String, label: String, line: Int, fields: [String: String] = [:]) {
        self.path = path
        self.resolvedPath = resolvedPath
        self.label = label
        self.line = line
        self.fields = fields
    }
}

/// A manifest row left out under `skipBadRows`, and why.
public struct SkippedRow: Sendable, Equatable, Codable {
    public var line: Int
    public var reason: String

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }
}

/// A training (or validation) manifest: CSV or JSONL with `path,label` and optional columns, read with the
/// same table reader as `dsa-triage evaluate`. Paths are relative to the manifest's folder; labels must be
/// the task profile's label names.
public struct TrainingManifest: Sendable {
    /// The manifest file as given.
    public let file: String
    /// Usable rows in file order.
    public let rows: [TrainingRow]
    /// Rows left out (only with `skipBadRows`), in file order.
    public let skipped: [SkippedRow]
    /// The label vocabulary in the profile's order.
    public let labels: [String]
    /// sha256 of the manifest's bytes (lower-case hex), recorded in training_run.json.
    public let sha256: String

    public init(file: String, rows: [TrainingRow], skipped: [SkippedRow], labels: [String], sha256: String) {
        self.file = file
        self.rows = rows
        self.skipped = skipped
        self.labels = labels
        self.sha256 = sha256
    }

    /// Rows per label, in `labels` order.
    public var classCounts: [Int] { labels.map { l in rows.reduce(0) { $0 + ($1.label == l ? 1 : 0) } } }

    /// Index of each row's label in `labels`.
    public var classIndices: [Int] { rows.map { r in labels.firstIndex(of: r.label) ?? 0 } }

    /// Reads and checks a manifest. A bad row (empty path, missing, empty or unreadable file, empty label, a
    /// label outside the profile's vocabulary, a path listed twice, or a failure of `validate`, which may
    /// decode the input) throws an error naming the file, line and reason; with `skipBadRows` it is
    /// recorded in `skipped` and left out. A manifest whose usable rows hold one class only throws.
    /// `pathColumn` names the input column (`png` reads a `dsa-triage synth` labels.csv directly).
    public static func load(path: String, profile: TaskProfile, skipBadRows: Bool = false, pathColumn: String = "path",
                            validate: ((TrainingRow) throws -> Void)? = nil) throws -> TrainingManifest {
        let table: TableFile
        do { table = try TableFile.read(path: path) } catch let e as TableError { throw convert(e) }
        guard !table.rows.isEmpty else { throw TrainingDataError.invalid(file: path, reason: "no data rows") }
        let column = pathColumn.lowercased()
        for c in [column, "label"] where !table.columns.contains(c) {
            throw TrainingDataError.invalid(file: path, reason: "no \"\(c)\" column (columns: \(table.columns.sorted().joined(separator: ", ")))")
        }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw TrainingDataError.invalid(file: path, reason: "cannot read the file")
        }
        let vocabulary = profile.labels.map(\.name)
        var rows: [TrainingRow] = []
        var skipped: [SkippedRow] = []
        var firstLine: [String: Int] = [:]
        for r in table.rows {
            do {
                let row = try check(r, column: column, vocabulary: vocabulary, manifest: path, firstLine: &firstLine)
                try validate?(row)
                rows.append(row)
            } catch {
                let reason: String
                if case TrainingDataError.badRow(_, _, let why) = error { reason = why } else { reason = "\(error)" }
                // Every bad row is collected so that one run names them all, not the first only.
                skipped.append(SkippedRow(line: r.line, reason: reason))
            }
        }
        if !skipBadRows, let first = skipped.first {
            if skipped.count == 1 { throw TrainingDataError.badRow(file: path, line: first.line, reason: first.reason) }
            throw TrainingDataError.badRows(file: path, rows: skipped, total: table.rows.count)
        }
        let manifest = TrainingManifest(file: path, rows: rows, skipped: skipped, labels: vocabulary, sha256: SHA256Hasher.hex(of: bytes))
        guard !rows.isEmpty else {
            let first = skipped.first.map { " (first: line \($0.line): \($0.reason))" } ?? ""
            throw TrainingDataError.invalid(file: path, reason: "no usable rows: all \(skipped.count) skipped\(first)")
        }
        let counts = manifest.classCounts
        if let present = counts.indices.filter({ counts[$0] > 0 }).first, counts.filter({ $0 > 0 }).count == 1 {
            throw TrainingDataError.oneClass(file: path, label: vocabulary[present], rows: rows.count)
        }
        return manifest
    }

    /// One row's checks, in the order a reader would fix them.
    static func check(_ r: TableFile.Row, column: String, vocabulary: [String], manifest: String,
                      firstLine: inout [String: Int]) throws -> TrainingRow {
        func bad(_ reason: String) -> TrainingDataError { .badRow(file: manifest, line: r.line, reason: reason) }
        guard let p = r.fields[column], !p.isEmpty else { throw bad("empty path") }
        guard let raw = r.fields["label"]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { throw bad("empty label") }
        // Labels are matched without regard to case, as the evaluation manifest reads them.
        guard let label = vocabulary.first(where: { $0.lowercased() == raw.lowercased() }) else {
            throw bad("label \"\(raw)\" is not in the task profile's vocabulary (\(vocabulary.joined(separator: ", ")))")
        }
        let resolved = PipelineEvaluation.resolve(p, manifest: manifest)
        if let first = firstLine[resolved] { throw bad("duplicate path \"\(p)\" (first on line \(first))") }
        firstLine[resolved] = r.line
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDir) else { throw bad("no such file \"\(p)\"") }
        guard FileManager.default.isReadableFile(atPath: resolved) else { throw bad("cannot read \"\(p)\"") }
        if !isDir.boolValue {
            let size = (try? FileManager.default.attributesOfItem(atPath: resolved)[.size] as? NSNumber)?.intValue ?? 0
            guard size > 0 else { throw bad("\"\(p)\" is empty") }
        }
        return TrainingRow(path: p, resolvedPath: resolved, label: label, line: r.line, fields: r.fields)
    }

    static func convert(_ e: TableError) -> TrainingDataError {
        switch e {
        case .badRow(let f, let l, let r): return .badRow(file: f, line: l, reason: r)
        case .unreadable(let f, let r): return .invalid(file: f, reason: r)
        case .empty(let f): return .invalid(file: f, reason: "no data rows")
        }
    }
}
