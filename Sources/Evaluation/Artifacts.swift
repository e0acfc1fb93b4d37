import FileAccess
import Foundation
import ModelFiles

/// The files an evaluation writes into its output folder.
public enum Artifacts {
    public static func json(_ r: EvaluationResult) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(r)
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// predictions.csv: path,label,p_blocked,decision,flagged,split,site,scanner,date (every case, every split);
    /// readable back with `evaluate --predictions`.
    public static func predictionsCSV(_ samples: [EvaluationSample]) -> String {
        var s = "path,label,p_blocked,decision,flagged,split,site,scanner,date\n"
        for x in samples {
            let p = x.pBlocked.map { String(format: "%.6f", $0) } ?? ""
            s += [x.path, x.blocked ? "blocked" : "patent", p, x.decision, x.flagged ? "1" : "0", x.split ?? "", x.site ?? "",
                  x.scanner ?? "", x.date ?? ""].map(csvField).joined(separator: ",") + "\n"
        }
        return s
    }

    /// Writes evaluation.json, predictions.csv and report.html into `directory`.
    public static func write(result: EvaluationResult, samples: [EvaluationSample], to directory: URL) throws {
        try OutputFolder.create(directory)
        // Each file appears complete under its name or not at all (a full disk leaves only the old one).
        try AtomicWrite.write(try json(result), to: directory.appendingPathComponent("evaluation.json"))
        try AtomicWrite.write(predictionsCSV(samples), to: directory.appendingPathComponent("predictions.csv"))
        try writeReport(result: result, to: directory.appendingPathComponent("report.html"))
    }

    /// sha256 of a file, nil when unreadable.
    public static func fingerprint(file: String) -> String? { try? SHA256Hasher.hex(ofFile: file) }
}

extension Artifacts {
    /// sha256 of bytes (profiles are fingerprinted by their canonical JSON).
    public static func fingerprint(data: Data) -> String { SHA256Hasher.hex(of: data) }
}
