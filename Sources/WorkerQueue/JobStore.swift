import Foundation

/// Where a job stands. The raw values are what the database stores.
///
///     pending ──lease──▶ leased ──complete──▶ done
///        ▲                 │ └──fail (attempts left)──▶ failed_retrying ──(backoff elapsed) lease──▶ leased
///        │                 └──fail (no attempts left)──▶ dead ──retry (operator)──▶ pending
///        └── a newer version of the series: pending / failed_retrying ──▶ superseded
///     pending / leased / failed_retrying ──skip──▶ skipped
public enum JobState: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case pending
    case leased
    case done
    case failedRetrying = "failed_retrying"
    case dead
    case superseded
    case skipped

    /// Finished states: nothing leases them again (`dead` only through an operator's `retry`).
    public var isTerminal: Bool {
        switch self {
        case .done, .dead, .superseded, .skipped: return true
        case .pending, .leased, .failedRetrying: return false
        }
    }

    public var description: String { rawValue }
}

/// The idempotency key of a job: a SHA-256 (hex) over everything that decides the result, composed with
/// `JobKey.make`. Two deliveries of the same series with the same instances, model, adapter and profile
/// have the same key, so the second enqueue is a duplicate.
public struct JobKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// A series as the queue knows it: a hash of its Series Instance UID (`SeriesKey.hashing(uid:)`), never
/// the UID itself.
public struct SeriesKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// Result of an enqueue: a new job, or the job that already has this idempotency key.
public enum EnqueueOutcome: Hashable, Sendable {
    case created(Int64)
    case duplicate(Int64)

    public var id: Int64 {
        switch self {
        case .created(let id), .duplicate(let id): return id
        }
    }
}

/// One job of a batch enqueue.
public struct EnqueueItem: Hashable, Sendable {
    public var key: JobKey
    public var series: SeriesKey
    /// The caller's JSON: paths inside the spool and hashed UIDs only (see docs/WORKER_QUEUE.md).
    public var payload: String

    public init(key: JobKey, series: SeriesKey, payload: String) {
        self.key = key
        self.series = series
        self.payload = payload
    }
}

/// Bounded retries with exponential backoff: the delay after the n-th failed attempt is
/// `min(maxDelay, baseDelay · 2^(n-1))` seconds.
public struct RetryPolicy: Hashable, Sendable {
    public var maxAttempts: Int
    public var baseDelay: TimeInterval
    public var maxDelay: TimeInterval

    public init(maxAttempts: Int = 5, baseDelay: TimeInterval = 30, maxDelay: TimeInterval = 3600) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = max(0, baseDelay)
        self.maxDelay = max(0, maxDelay)
    }

    /// Seconds to wait after `attempt` (1-based) failed.
    public func delay(afterAttempt attempt: Int) -> TimeInterval {
        let exponent = Double(max(0, min(attempt - 1, 62)))
        return min(maxDelay, baseDelay * pow(2, exponent))
    }
}

/// A job row as read back.
public struct Job: Hashable, Sendable {
    public var id: Int64
    public var key: JobKey
    public var series: SeriesKey
    /// 1 for the first job of a series; each later instance set of the series makes the next version.
    public var version: Int
    public var state: JobState
    /// Leases taken so far (each lease is an attempt).
    public var attempts: Int
    public var maxAttempts: Int
    /// When a pending or retrying job may next be leased.
    public var nextAttemptAt: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var heartbeatAt: Date?
    public var lastError: String?
    public var skipReason: String?
    public var payload: String
    /// The triage record (JSON) once done.
    public var result: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    /// Whether this job is its series' current (newest) version.
    public var isCurrent: Bool
}

/// Errors of a job store; each names the database it concerns.
public enum JobStoreError: Error, Hashable, Sendable, CustomStringConvertible, LocalizedError {
    /// The database could not be opened, migrated or queried.
    case database(location: String, message: String)
    /// No job with this id.
    case notFound(location: String, id: Int64)
    /// The caller no longer holds the job's lease (it expired and another worker took it, or the job
    /// changed state).
    case leaseLost(location: String, id: Int64, owner: String, state: JobState, currentOwner: String?)
    /// The operation does not apply to a job in this state.
    case invalidState(location: String, id: Int64, operation: String, state: JobState)
    /// An argument the store refuses (empty key, negative limit, non-terminal purge, …).
    case invalidArgument(location: String, message: String)
    /// A stored value the store cannot read back.
    case corrupt(location: String, message: String)

    public var description: String {
        switch self {
        case .database(let location, let message):
            return "job database \(location): \(message)"
        case .notFound(let location, let id):
            return "job database \(location): no job \(id)"
        case .leaseLost(let location, let id, let owner, let state, let currentOwner):
            let holder = currentOwner.map { " (now held by \($0))" } ?? ""
            return "job database \(location): job \(id) is no longer leased by \(owner); it is \(state)\(holder)"
        case .invalidState(let location, let id, let operation, let state):
            return "job database \(location): cannot \(operation) job \(id), which is \(state)"
        case .invalidArgument(let location, let message):
            return "job database \(location): \(message)"
        case .corrupt(let location, let message):
            return "job database \(location): unreadable row: \(message)"
        }
    }

    public var errorDescription: String? { description }
}

/// The durable job queue of the PACS worker. `SQLiteJobStore` is the embedded implementation;
/// `PostgresJobStore` (`FOR UPDATE SKIP LOCKED`) serves several worker processes. Every operation is one
/// transaction. `now` is injectable everywhere (nil: the store's clock) so schedules are testable.
///
/// The requirements are `async` so that a network database can implement them; the SQLite store
/// satisfies them with synchronous methods.
public protocol JobStore: Sendable {
    /// Adds a job unless one with `key` exists. A new key for a known series makes the next version and
    /// supersedes the series' older pending or retrying jobs.
    func enqueue(key: JobKey, series: SeriesKey, payload: String, now: Date?) async throws(JobStoreError) -> EnqueueOutcome
    /// Enqueues every item and sets the cursor in one transaction: all of it is written or none.
    func enqueueBatch(_ items: [EnqueueItem], cursor: (name: String, value: String)?, now: Date?) async throws(JobStoreError) -> [EnqueueOutcome]
    /// Takes the oldest ready job (pending or retrying with its time come, or leased with its lease
    /// expired) for `owner`, atomically.
    func lease(owner: String, leaseSeconds: TimeInterval, now: Date?) async throws(JobStoreError) -> Job?
    /// Extends the lease `owner` holds; `JobStoreError.leaseLost` when it holds it no longer.
    func heartbeat(id: Int64, owner: String, leaseSeconds: TimeInterval, now: Date?) async throws(JobStoreError) -> Job
    /// Stores the result and marks the job done, if `owner` still holds the lease.
    func complete(id: Int64, owner: String, result: String, now: Date?) async throws(JobStoreError) -> Job
    /// Records a failed attempt: retried after the backoff, or dead once the attempts are spent.
    func fail(id: Int64, owner: String, error: String, now: Date?) async throws(JobStoreError) -> Job
    /// Gives a leased job back unfinished (graceful shutdown): pending again at once, the attempt uncounted.
    func release(id: Int64, owner: String, now: Date?) async throws(JobStoreError) -> Job
    /// Marks a job that will not be processed (routing, population limits) with its reason.
    func skip(id: Int64, reason: String, now: Date?) async throws(JobStoreError) -> Job
    /// Operator: a dead job becomes pending again with its attempts reset.
    func retry(id: Int64, now: Date?) async throws(JobStoreError) -> Job
    /// Deletes jobs in the given (terminal) states last updated before `olderThan`; returns how many.
    func purge(olderThan: Date, states: Set<JobState>) async throws(JobStoreError) -> Int
    /// Jobs per state (every state present, zero included).
    func counts() async throws(JobStoreError) -> [JobState: Int]
    /// Jobs, newest first, in one state or all.
    func list(state: JobState?, limit: Int) async throws(JobStoreError) -> [Job]
    func job(id: Int64) async throws(JobStoreError) -> Job?
    /// The series' current (newest) job.
    func currentJob(series: SeriesKey) async throws(JobStoreError) -> Job?
    func setCursor(name: String, value: String, now: Date?) async throws(JobStoreError)
    func cursor(name: String) async throws(JobStoreError) -> String?
    /// Releases the connection or pool when the worker stops; later calls fail with `JobStoreError.database`.
    func close() async throws(JobStoreError)
}
