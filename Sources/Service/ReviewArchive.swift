import DICOM
import FileAccess
import Foundation
import StructuredReport

/// What a verified SR needs after the job's instances have left the spool, kept for cases on the worklist
/// whose unverified SR went to the PACS: the first instance's header (the file up to its Pixel Data, so the
/// patient and study modules can be copied into the SR again — identifiers stay in DICOM files on the
/// worker's disk, as in the spool, never in the database) and the report's own inputs (UIDs, frames, the
/// model's call, the algorithm) as JSON.
public struct ReviewArchive: Sendable {
    /// `<spool>/review`.
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    struct Entry: Codable {
        var evidence: [SourceInstance]
        var decision: PatencyDecision
        var pBlocked: Double?
        var reasons: [String]
        var algorithm: AlgorithmIdentification
        var jobKey: String
        var contentDateTime: Date
    }

    func headerURL(_ jobID: Int64) -> URL { folder.appendingPathComponent("\(jobID).dcm") }
    func entryURL(_ jobID: Int64) -> URL { folder.appendingPathComponent("\(jobID).json") }

    /// Keeps what re-creating `input`'s report needs; `sourceFile` is the file `input.source` was read from.
    public func save(jobID: Int64, input: PatencyReportInput, sourceFile: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = try DICOMFile(url: sourceFile)
        var bytes = try Data(contentsOf: sourceFile, options: .alwaysMapped)
        // Everything before the Pixel Data element is a complete Part 10 file without the image; a deflated
        // stream's offsets are not file offsets, so such a file is kept whole.
        if file.transferSyntaxUID != DICOMTransferSyntax.deflatedExplicitVRLittleEndian, let offset = file.dataset[.pixelData]?.offset,
           offset <= bytes.count {
            bytes = bytes.prefix(offset)
        }
        try DurableFile.write(Data(bytes), to: headerURL(jobID))
        let entry = Entry(evidence: input.evidence, decision: input.decision, pBlocked: input.pBlocked, reasons: input.reasons,
                          algorithm: input.algorithm, jobKey: input.jobKey, contentDateTime: input.contentDateTime)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        try DurableFile.write(try encoder.encode(entry), to: entryURL(jobID))
    }

    /// Whether a job's report can be re-created.
    public func contains(jobID: Int64) -> Bool {
        FileManager.default.fileExists(atPath: entryURL(jobID).path) && FileManager.default.fileExists(atPath: headerURL(jobID).path)
    }

    /// The unverified report the job sent, re-created (same SOP Instance UID: it derives from the job key).
    public func report(jobID: Int64) throws -> PatencyReport {
        guard contains(jobID: jobID) else { throw ReviewArchiveError(message: "nothing kept for job \(jobID) (no SR was sent, or it was purged)") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let entry: Entry
        do { entry = try decoder.decode(Entry.self, from: try Data(contentsOf: entryURL(jobID))) } catch {
            throw ReviewArchiveError(message: "job \(jobID): the kept report inputs are unreadable: \(error)")
        }
        let source = try DICOMFile(url: headerURL(jobID)).dataset
        let input = PatencyReportInput(source: source, evidence: entry.evidence, decision: entry.decision, pBlocked: entry.pBlocked,
                                       reasons: entry.reasons, algorithm: entry.algorithm, jobKey: entry.jobKey,
                                       contentDateTime: entry.contentDateTime)
        return try PatencyReport(input)
    }

    /// Removes what was kept for a job.
    public func remove(jobID: Int64) {
        try? FileManager.default.removeItem(at: headerURL(jobID))
        try? FileManager.default.removeItem(at: entryURL(jobID))
    }
}

/// A verified report that cannot be made, in words without identifiers.
public struct ReviewArchiveError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
