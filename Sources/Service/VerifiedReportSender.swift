import Foundation
import Logging
import StructuredReport
import WorkerQueue

/// After a reviewer's verdict: the verified version of the case's SR (Verification Flag VERIFIED, the
/// reviewer as Verifying Observer, their reading and comment, the unverified SR as predecessor) goes to the
/// same destination, and its SOP Instance UID is noted on the verdict. A later verdict by another reviewer
/// gives another verified version; the same verdict sent again replaces itself.
public struct VerifiedReportSender: Sendable {
    public let archive: ReviewArchive
    public let destination: ResultDestination
    public let store: any ReviewStore
    /// Verifying Organization (the site's name).
    public let organization: String
    public let attempts: Int
    let logger: Logger

    public init(archive: ReviewArchive, destination: ResultDestination, store: any ReviewStore, organization: String,
                attempts: Int = 3, logger: Logger) {
        (self.archive, self.destination, self.store, self.organization, self.attempts, self.logger) = (archive, destination, store, organization, attempts, logger)
    }

    /// Sends the verified SR for `verdict`; returns its SOP Instance UID, or nil when the case had no SR.
    @discardableResult
    public func send(verdict: VerdictRecord, reviewCase: ReviewCase) async throws -> String? {
        guard destination.sendsReports, reviewCase.reportSOPInstanceUID != nil else { return nil }
        let assessment: ReviewerVerification.Assessment
        switch verdict.verdict {
        case .patent: assessment = .patent
        case .blocked: assessment = .blocked
        case .nonDiagnostic: assessment = .nonDiagnostic
        }
        let verification = ReviewerVerification(observerName: verdict.userName, organization: organization,
                                                dateTime: verdict.recordedAt, assessment: assessment, comment: verdict.comment)
        let report = try archive.report(jobID: reviewCase.jobID).verified(verification)
        _ = try await destination.send(try report.encode(), attempts: attempts)
        try await store.setVerifiedReport(verdictID: verdict.id, sopInstanceUID: report.sopInstanceUID, now: nil)
        var log = logger
        log[metadataKey: "job"] = "\(reviewCase.jobID)"
        log.info("verified SR sent", metadata: ["verdict": "\(verdict.verdict.rawValue)", "verdict_id": "\(verdict.id)"])
        return report.sopInstanceUID
    }
}
