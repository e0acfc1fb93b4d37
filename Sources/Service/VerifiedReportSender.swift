import Foundation
import Logging
import StructuredReport
import ServiceLifecycle
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

extension VerifiedReportSender {
    /// Verdicts of the last `lookback` seconds whose case went to the PACS as an SR but whose verified SR has not
    /// been noted as sent (the send after the verdict failed, or the worker stopped before it): each is sent now,
    /// unless `backoff` says its last failure is too recent. Returns how many were sent.
    @discardableResult
    public func sendPending(now: Date = Date(), lookback: TimeInterval = 30 * 86_400, backoff: VerifiedReportBackoff) async throws -> Int {
        guard destination.sendsReports else { return 0 }
        let pending = try await store.verdicts(from: now.addingTimeInterval(-lookback), to: nil)
            .filter { $0.verifiedReportSOPInstanceUID == nil }
        var sent = 0
        for verdict in pending where await backoff.isDue(verdict.id, now: now) {
            guard let reviewCase = try await store.reviewCase(jobID: verdict.caseJobID), reviewCase.reportSOPInstanceUID != nil else { continue }
            do {
                if try await send(verdict: verdict, reviewCase: reviewCase) != nil { sent += 1 }
                await backoff.succeeded(verdict.id)
            } catch {
                let (attempt, next) = await backoff.failed(verdict.id, now: now)
                logger.error("verified SR not sent; will retry", metadata: [
                    "job": "\(reviewCase.jobID)", "verdict_id": "\(verdict.id)", "attempt": "\(attempt)",
                    "next_in_seconds": "\(Int(next.timeIntervalSince(now)))", "error": "\(error)"])
            }
        }
        return sent
    }
}

/// When a verdict whose verified SR failed may be tried again: the pause doubles from `base` up to `maximum`.
/// In memory: after a restart every pending verdict is tried once more at once.
public actor VerifiedReportBackoff {
    private var state: [Int64: (attempts: Int, next: Date)] = [:]
    public let base: TimeInterval
    public let maximum: TimeInterval

    public init(base: TimeInterval = 60, maximum: TimeInterval = 3600) { (self.base, self.maximum) = (base, maximum) }

    public func isDue(_ verdictID: Int64, now: Date) -> Bool { state[verdictID].map { $0.next <= now } ?? true }

    public func failed(_ verdictID: Int64, now: Date) -> (attempt: Int, next: Date) {
        let attempts = (state[verdictID]?.attempts ?? 0) + 1
        let pause = min(maximum, base * pow(2, Double(attempts - 1)))
        let next = now.addingTimeInterval(pause)
        state[verdictID] = (attempts, next)
        return (attempts, next)
    }

    public func succeeded(_ verdictID: Int64) { state[verdictID] = nil }
}

/// The service that catches verified SRs up: every `intervalSeconds` it sends those still pending, so a
/// verdict recorded while the destination was down, or just before the worker stopped, still reaches the PACS.
public struct VerifiedReportSweeper: Service {
    public let sender: VerifiedReportSender
    public let intervalSeconds: Double
    public let backoff: VerifiedReportBackoff
    let logger: Logger

    public init(sender: VerifiedReportSender, intervalSeconds: Double = 60, backoff: VerifiedReportBackoff = VerifiedReportBackoff(), logger: Logger) {
        (self.sender, self.intervalSeconds, self.backoff, self.logger) = (sender, intervalSeconds, backoff, logger)
    }

    public func run() async throws {
        await runPeriodically(every: intervalSeconds) {
            do {
                let sent = try await sender.sendPending(backoff: backoff)
                if sent > 0 { logger.notice("pending verified SRs sent", metadata: ["count": "\(sent)"]) }
            } catch {
                logger.error("could not look for pending verified SRs", metadata: ["error": "\(error)"])
            }
        }
    }
}
