import FileAccess
import Foundation

/// The files `dsa-triage monitor --out DIR` writes: monitoring.json, report.html and groups.csv, each
/// atomically (complete under its name or not at all).
public enum MonitoringArtifacts {
    /// The files `write` produces, in order.
    public static let fileNames = ["monitoring.json", "report.html", "groups.csv"]

    /// Writes the three files into `directory` (created when missing); a failure names the file.
    public static func write(_ report: MonitoringReport, to directory: URL) throws(MonitoringError) {
        func attempt(_ name: String, _ body: () throws -> Void) throws(MonitoringError) {
            do { try body() } catch { throw .writeFailed(file: name, reason: "\(error)") }
        }
        try attempt(directory.lastPathComponent) { try OutputFolder.create(directory) }
        try attempt("monitoring.json") { try AtomicWrite.write(try report.jsonData(), to: directory.appendingPathComponent("monitoring.json")) }
        try attempt("report.html") { try AtomicWrite.write(MonitoringHTML.render(report), to: directory.appendingPathComponent("report.html")) }
        try attempt("groups.csv") { try AtomicWrite.write(MonitoringCSV.groups(report), to: directory.appendingPathComponent("groups.csv")) }
    }
}
