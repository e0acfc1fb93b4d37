import Foundation

/// A reviewer's role: reviewers adjudicate; admins also manage users and acknowledge alerts.
public enum UserRole: String, Sendable, Codable, CaseIterable {
    case reviewer
    case admin
}

/// A user account of the review UI. The password is kept only as a bcrypt hash (made by the caller).
public struct UserAccount: Hashable, Sendable, Codable {
    public var id: Int64
    /// Login name (not a patient identifier; 1–64 characters of letters, digits, `.`, `_`, `-`).
    public var name: String
    public var role: UserRole
    public var passwordHash: String
    public var disabled: Bool
    public var createdAt: Date

    public init(id: Int64, name: String, role: UserRole, passwordHash: String, disabled: Bool, createdAt: Date) {
        (self.id, self.name, self.role, self.passwordHash, self.disabled, self.createdAt) = (id, name, role, passwordHash, disabled, createdAt)
    }
}

/// A login session. Only a hash of the cookie's token is stored; the CSRF token is per session.
public struct ReviewSession: Hashable, Sendable, Codable {
    /// SHA-256 (hex) of the session cookie's random token.
    public var tokenHash: String
    public var userID: Int64
    public var csrfToken: String
    public var createdAt: Date
    public var expiresAt: Date

    public init(tokenHash: String, userID: Int64, csrfToken: String, createdAt: Date, expiresAt: Date) {
        (self.tokenHash, self.userID, self.csrfToken, self.createdAt, self.expiresAt) = (tokenHash, userID, csrfToken, createdAt, expiresAt)
    }
}

/// What the model (or the router) decided for a case.
public enum CaseDecision: String, Sendable, Codable, CaseIterable {
    case blocked
    case patent
    case manualReview = "manual_review"
    /// Routed away before any model work (not XA, pediatric, …).
    case skipped
    /// The series could not be read.
    case unreadable
}

/// Why a case is on the reviewers' worklist.
public enum WorklistReason: String, Sendable, Codable, CaseIterable {
    /// The model routed it to manual review (uncertain or failed a quality check).
    case manualReview = "manual_review"
    /// A random audit sample of the cases the model decided alone (against verification bias).
    case auditSample = "audit_sample"
}

/// One triaged series version (one done job), as the reviewers and monitoring see it. It holds no patient
/// names, IDs, birth dates or accession numbers; the Study/Series Instance UIDs are kept because the
/// viewer link and the verified SR need them, and are never shown raw in logs.
public struct ReviewCase: Hashable, Sendable, Codable {
    /// The job id this case came from (one case per job; recording the same job again changes nothing).
    public var jobID: Int64
    /// Hash of the Series Instance UID (the queue's `SeriesKey`).
    public var seriesKey: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    /// When the result was made.
    public var decidedAt: Date
    public var decision: CaseDecision
    public var reasons: [String]
    /// P(blocked), absent for skipped and unreadable cases.
    public var pBlocked: Double?
    /// The profile's operating point and review band at the time of the decision.
    public var threshold: Double?
    public var reviewBandLow: Double?
    public var reviewBandHigh: Double?
    /// The site (the worker's configured site name), and equipment fields from the DICOM header
    /// (Manufacturer, Manufacturer's Model Name, Software Versions, Protocol Name): none identifies a patient.
    public var site: String?
    public var manufacturer: String?
    public var manufacturerModel: String?
    public var softwareVersions: String?
    public var protocolName: String?
    /// Input statistics for label-free drift: mean gray and dynamic range of the model image (0–255), frames in the run.
    public var meanGray: Double?
    public var dynamicRange: Double?
    public var frameCount: Int?
    /// 1-based frame numbers the model image was made from.
    public var framesUsed: [Int]
    /// Why it is on the worklist, or nil when it is not.
    public var worklistReason: WorklistReason?
    /// The probability with which a case of this decision was put on the worklist (1 for manual review,
    /// the audit fraction for audit samples, 0 when not sampled); monitoring weights verdicts by its inverse.
    public var samplingProbability: Double
    /// File name of the model input image (PNG) in the worker's image folder, when kept.
    public var imageFile: String?
    /// SOP Instance UID of the unverified SR sent to the PACS, when one was sent.
    public var reportSOPInstanceUID: String?
    /// Verdicts recorded for the case so far, as the store read it (ignored by `recordCase`).
    public var verdictCount: Int

    public init(jobID: Int64, seriesKey: String, studyInstanceUID: String, seriesInstanceUID: String, decidedAt: Date,
                decision: CaseDecision, reasons: [String] = [], pBlocked: Double? = nil, threshold: Double? = nil,
                reviewBandLow: Double? = nil, reviewBandHigh: Double? = nil, site: String? = nil,
                manufacturer: String? = nil, manufacturerModel: String? = nil, softwareVersions: String? = nil,
                protocolName: String? = nil, meanGray: Double? = nil, dynamicRange: Double? = nil, frameCount: Int? = nil,
                framesUsed: [Int] = [], worklistReason: WorklistReason? = nil, samplingProbability: Double = 0,
                imageFile: String? = nil, reportSOPInstanceUID: String? = nil, verdictCount: Int = 0) {
        self.jobID = jobID
        self.seriesKey = seriesKey
        self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.decidedAt = decidedAt
        self.decision = decision
        self.reasons = reasons
        self.pBlocked = pBlocked
        self.threshold = threshold
        self.reviewBandLow = reviewBandLow
        self.reviewBandHigh = reviewBandHigh
        self.site = site
        self.manufacturer = manufacturer
        self.manufacturerModel = manufacturerModel
        self.softwareVersions = softwareVersions
        self.protocolName = protocolName
        self.meanGray = meanGray
        self.dynamicRange = dynamicRange
        self.frameCount = frameCount
        self.framesUsed = framesUsed
        self.worklistReason = worklistReason
        self.samplingProbability = samplingProbability
        self.imageFile = imageFile
        self.reportSOPInstanceUID = reportSOPInstanceUID
        self.verdictCount = verdictCount
    }
}

/// A reviewer's verdict on a case.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    case patent
    case blocked
    case nonDiagnostic = "non_diagnostic"
}

/// One recorded verdict. Verdicts are append-only: a later verdict (by the same or another reviewer) is a
/// new row beside the earlier ones.
public struct VerdictRecord: Hashable, Sendable, Codable {
    public var id: Int64
    public var caseJobID: Int64
    public var userID: Int64
    public var userName: String
    public var verdict: Verdict
    public var comment: String?
    public var recordedAt: Date
    /// SOP Instance UID of the verified SR sent for this verdict, once sent.
    public var verifiedReportSOPInstanceUID: String?

    public init(id: Int64, caseJobID: Int64, userID: Int64, userName: String, verdict: Verdict, comment: String?,
                recordedAt: Date, verifiedReportSOPInstanceUID: String? = nil) {
        (self.id, self.caseJobID, self.userID, self.userName, self.verdict) = (id, caseJobID, userID, userName, verdict)
        (self.comment, self.recordedAt, self.verifiedReportSOPInstanceUID) = (comment, recordedAt, verifiedReportSOPInstanceUID)
    }
}

/// Which cases a worklist query returns.
public struct WorklistFilter: Hashable, Sendable {
    /// `pending`: on the worklist and without a verdict; `reviewed`: with at least one verdict; `all`: every case.
    public enum ReviewState: String, Sendable, CaseIterable { case pending, reviewed, all }
    public var state: ReviewState
    public var decision: CaseDecision?
    public var site: String?
    /// Matches Manufacturer or Manufacturer's Model Name exactly.
    public var scanner: String?
    public var from: Date?
    public var to: Date?
    public var limit: Int

    public init(state: ReviewState = .pending, decision: CaseDecision? = nil, site: String? = nil, scanner: String? = nil,
                from: Date? = nil, to: Date? = nil, limit: Int = 200) {
        (self.state, self.decision, self.site, self.scanner, self.from, self.to, self.limit) = (state, decision, site, scanner, from, to, limit)
    }
}

/// The counts shown at the top of the worklist.
public struct WorklistCounts: Hashable, Sendable, Codable {
    public var pendingManualReview: Int
    public var pendingAuditSamples: Int
    public var reviewed: Int
    /// Cases with verdicts that disagree (different verdicts from different reviewers).
    public var disagreements: Int
    public init(pendingManualReview: Int, pendingAuditSamples: Int, reviewed: Int, disagreements: Int) {
        (self.pendingManualReview, self.pendingAuditSamples, self.reviewed, self.disagreements) = (pendingManualReview, pendingAuditSamples, reviewed, disagreements)
    }
}

/// A monitoring alert as stored: opened by the monitor, acknowledged by an admin with a note.
public struct AlertRecord: Hashable, Sendable, Codable {
    public enum State: String, Sendable, Codable, CaseIterable { case open, acknowledged, resolved }
    public var id: Int64
    /// What fired, e.g. `sensitivity_floor`, `cusum_false_negative`, `cusum_review_rate`, `psi_p_blocked`.
    public var kind: String
    /// Where: `overall`, `site=…`, `manufacturer=…`.
    public var scope: String
    public var message: String
    public var value: Double
    public var limit: Double
    public var state: State
    public var openedAt: Date
    public var updatedAt: Date
    public var acknowledgedBy: String?
    public var note: String?
    /// When an admin acknowledged it, and when its condition cleared.
    public var acknowledgedAt: Date?
    public var resolvedAt: Date?

    public init(id: Int64, kind: String, scope: String, message: String, value: Double, limit: Double, state: State,
                openedAt: Date, updatedAt: Date, acknowledgedBy: String? = nil, note: String? = nil,
                acknowledgedAt: Date? = nil, resolvedAt: Date? = nil) {
        (self.id, self.kind, self.scope, self.message, self.value, self.limit) = (id, kind, scope, message, value, limit)
        (self.state, self.openedAt, self.updatedAt, self.acknowledgedBy, self.note) = (state, openedAt, updatedAt, acknowledgedBy, note)
        (self.acknowledgedAt, self.resolvedAt) = (acknowledgedAt, resolvedAt)
    }
}

/// One line of the append-only audit log (who did what, when). Never holds patient identifiers.
public struct AuditEvent: Hashable, Sendable, Codable {
    public var id: Int64
    public var at: Date
    /// User name, or `system`.
    public var actor: String
    /// e.g. `login`, `login_failed`, `logout`, `verdict`, `user_added`, `user_disabled`, `alert_opened`, `alert_acknowledged`, `verified_sr_sent`.
    public var action: String
    public var caseJobID: Int64?
    public var detail: String

    public init(id: Int64, at: Date, actor: String, action: String, caseJobID: Int64?, detail: String) {
        (self.id, self.at, self.actor, self.action, self.caseJobID, self.detail) = (id, at, actor, action, caseJobID, detail)
    }
}

/// One verdict of a bulk import (`ReviewStore.importVerdicts`): seeded databases for benchmarks and simulations.
public struct VerdictImport: Hashable, Sendable {
    public var caseJobID: Int64
    public var userID: Int64
    public var verdict: Verdict
    public var comment: String?
    public var at: Date

    public init(caseJobID: Int64, userID: Int64, verdict: Verdict, comment: String? = nil, at: Date) {
        (self.caseJobID, self.userID, self.verdict, self.comment, self.at) = (caseJobID, userID, verdict, comment, at)
    }
}

/// The review and monitoring data in the worker's database (the same database as the job queue: SQLite or
/// PostgreSQL). Verdicts and audit events are append-only; every write that a person makes also writes an
/// audit event in the same transaction.
public protocol ReviewStore: Sendable {
    // Users and sessions
    /// Adds a user (and the `user_added` audit event by `actor`); a taken name is `JobStoreError.invalidArgument`.
    func addUser(name: String, role: UserRole, passwordHash: String, actor: String, now: Date?) async throws(JobStoreError) -> UserAccount
    /// Disables (ending its sessions) or enables a user; an unknown name is `JobStoreError.invalidArgument`.
    func setUserDisabled(name: String, disabled: Bool, actor: String, now: Date?) async throws(JobStoreError) -> UserAccount
    /// Replaces a user's bcrypt hash (its sessions stay); an unknown name is `JobStoreError.invalidArgument`.
    func setPasswordHash(name: String, passwordHash: String, actor: String, now: Date?) async throws(JobStoreError) -> UserAccount
    /// Every account, by name, for `dsa-triage users list` and the admin page.
    func users() async throws(JobStoreError) -> [UserAccount]
    /// The account with this login name (enabled or not), for logging in.
    func user(name: String) async throws(JobStoreError) -> UserAccount?
    /// The account a session or verdict names.
    func user(id: Int64) async throws(JobStoreError) -> UserAccount?
    /// Stores a new session; a token hash already stored, or an unknown user, is `JobStoreError.invalidArgument`.
    func createSession(_ session: ReviewSession) async throws(JobStoreError)
    /// The session with this token hash when it exists, has not expired at `now`, and its user is enabled.
    func session(tokenHash: String, now: Date?) async throws(JobStoreError) -> ReviewSession?
    /// Ends a session (logout); an unknown hash changes nothing.
    func deleteSession(tokenHash: String) async throws(JobStoreError)
    /// Removes expired sessions; returns how many.
    func purgeSessions(now: Date?) async throws(JobStoreError) -> Int

    // Cases
    /// Records a case; recording a job that already has a case keeps the first and returns false.
    func recordCase(_ reviewCase: ReviewCase) async throws(JobStoreError) -> Bool
    /// Records many cases in one transaction (seeding benchmarks and simulations); returns how many were new.
    func recordCases(_ cases: [ReviewCase]) async throws(JobStoreError) -> Int
    /// One case, for its page.
    func reviewCase(jobID: Int64) async throws(JobStoreError) -> ReviewCase?
    /// Worklist order: manual review first, then blocked, then patent, then the rest; within each, oldest first.
    func worklist(_ filter: WorklistFilter) async throws(JobStoreError) -> [ReviewCase]
    /// The counts at the top of the worklist.
    func worklistCounts() async throws(JobStoreError) -> WorklistCounts
    /// Every case decided in [from, to) (nil: unbounded), oldest first, for monitoring.
    func cases(from: Date?, to: Date?) async throws(JobStoreError) -> [ReviewCase]
    /// Distinct sites and scanners (manufacturer and model names) seen, for the filters.
    func facets() async throws(JobStoreError) -> (sites: [String], scanners: [String])

    // Verdicts
    /// Appends a verdict (and its audit event) and returns it. An unknown case is `JobStoreError.notFound`;
    /// an unknown or disabled user is `JobStoreError.invalidArgument`.
    func addVerdict(caseJobID: Int64, userID: Int64, verdict: Verdict, comment: String?, now: Date?) async throws(JobStoreError) -> VerdictRecord
    /// Notes the SOP Instance UID of the verified SR sent for a verdict (and an audit event).
    /// Fills the column once: a second call for the same verdict is `JobStoreError.invalidArgument`.
    func setVerifiedReport(verdictID: Int64, sopInstanceUID: String, now: Date?) async throws(JobStoreError)
    /// Appends many verdicts (each with its audit event) in one transaction, for seeding; returns how many.
    func importVerdicts(_ verdicts: [VerdictImport]) async throws(JobStoreError) -> Int
    /// A case's verdicts, oldest first.
    func verdicts(caseJobID: Int64) async throws(JobStoreError) -> [VerdictRecord]
    /// Every verdict recorded in [from, to), oldest first.
    func verdicts(from: Date?, to: Date?) async throws(JobStoreError) -> [VerdictRecord]
    /// Job ids of cases whose verdicts disagree (two different verdicts from two different reviewers; one
    /// reviewer changing their mind is not a disagreement), oldest case first.
    func disagreements(limit: Int) async throws(JobStoreError) -> [Int64]

    // Alerts
    /// Opens an alert unless one of the same kind and scope is open or acknowledged (then updates its value,
    /// message and time); returns it and whether it is new.
    func raiseAlert(kind: String, scope: String, message: String, value: Double, limit: Double, now: Date?) async throws(JobStoreError) -> (AlertRecord, isNew: Bool)
    /// Marks the open/acknowledged alert of this kind and scope resolved (its condition cleared).
    func resolveAlert(kind: String, scope: String, now: Date?) async throws(JobStoreError) -> AlertRecord?
    /// An admin acknowledges an open (or again an acknowledged) alert with a note; a missing id is
    /// `JobStoreError.notFound`, a resolved alert `JobStoreError.invalidArgument`.
    func acknowledgeAlert(id: Int64, by user: String, note: String, now: Date?) async throws(JobStoreError) -> AlertRecord
    /// Alerts in the given states, newest first.
    func alerts(states: Set<AlertRecord.State>, limit: Int) async throws(JobStoreError) -> [AlertRecord]

    // Audit log
    /// Appends an event that no other write records (login, logout, failed login, …).
    func appendAudit(actor: String, action: String, caseJobID: Int64?, detail: String, now: Date?) async throws(JobStoreError)
    /// The newest events first.
    func auditEvents(limit: Int) async throws(JobStoreError) -> [AuditEvent]
}


extension ReviewStore {
    /// `addUser` with the actor `system` (the first admin, created before anyone can log in).
    public func addUser(name: String, role: UserRole, passwordHash: String, now: Date?) async throws(JobStoreError) -> UserAccount {
        try await addUser(name: name, role: role, passwordHash: passwordHash, actor: "system", now: now)
    }
}
