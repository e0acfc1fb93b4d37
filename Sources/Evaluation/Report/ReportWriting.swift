import FileAccess
import Foundation

/// Why the report page could not be written.
public struct ReportWriteError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot write report \(path): \(reason)" }
}

extension HTMLReport {
    /// Renders `doc` and writes it, UTF-8, to `url` (atomically), e.g. `OUT/report.html`.
    public static func write(_ doc: ReportDocument, to url: URL) throws {
        do {
            try AtomicWrite.write(render(doc), to: url)
        } catch let error as FileWriteError {
            throw ReportWriteError(path: url.path, reason: error.reason)
        }
    }
}
