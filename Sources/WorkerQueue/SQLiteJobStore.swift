import Foundation
import GRDB

/// The job queue in one SQLite file (WAL, `synchronous = FULL`), through GRDB. Several stores — in one
/// process or several — may open the same file: every change is a `BEGIN IMMEDIATE` transaction, so two
/// leasers never take the same job, and a busy database is waited for (`busyTimeout`) rather than failed.
///
/// Only hashed UIDs, paths inside the spool and the triage record are stored; see docs/WORKER_QUEUE.md.
public final class SQLiteJobStore: JobStore {
    /// The database file, as given.
    public let path: String
    public let retryPolicy: RetryPolicy
    let clock: @Sendable () -> Date
    private let queue: DatabaseQueue
    /// Held for each operation and by `close`: GRDB must not be called on a closed connection, so every
    /// call checks the flag first, and a close waits for the operation in flight.
    private let gate = Gate()

    /// Opens (creating if needed) and migrates the queue at `path`.
    ///
    /// - Parameters:
    ///   - retryPolicy: attempts and backoff of new jobs (the maximum is stored per job at enqueue).
    ///   - busyTimeout: how long a transaction waits for another connection's write lock.
    ///   - clock: the time used when an operation is given no `now`.
    public convenience init(path: String, retryPolicy: RetryPolicy = RetryPolicy(), busyTimeout: TimeInterval = 10,
                            clock: @escaping @Sendable () -> Date = { Date() }) throws(JobStoreError) {
        try self.init(path: path, retryPolicy: retryPolicy, busyTimeout: busyTimeout, clock: clock, migratingUpTo: nil)
    }

    /// Opens and migrates up to `lastMigration` (nil: all), so that tests can make a database of an
    /// older schema and check the upgrade.
    init(path: String, retryPolicy: RetryPolicy, busyTimeout: TimeInterval, clock: @escaping @Sendable () -> Date,
         migratingUpTo lastMigration: String?) throws(JobStoreError) {
        self.path = path
        self.retryPolicy = retryPolicy
        self.clock = clock
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "WorkerQueue"
        configuration.prepareDatabase { db in
            // WAL with FULL sync: a committed transaction survives a power cut, not only a killed process.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        queue = try Self.openAndMigrate(path: path, configuration: configuration, upTo: lastMigration)
    }

    /// Opens the file and applies the missing migrations. Another store opening the same new file at the
    /// same moment can make one attempt fail: switching a fresh file to WAL is refused while the other
    /// connection holds it ("database is locked"), and GRDB reads the applied migrations before taking the
    /// write lock, so both may try to apply `v1-jobs` ("table already exists"). A later attempt finds WAL
    /// and the schema in place; a real failure fails every attempt and is reported.
    private static func openAndMigrate(path: String, configuration: Configuration, upTo lastMigration: String?) throws(JobStoreError) -> DatabaseQueue {
        var attempt = 1
        while true {
            do {
                let queue = try DatabaseQueue(path: path, configuration: configuration)
                do {
                    if let lastMigration {
                        try migrator.migrate(queue, upTo: lastMigration)
                    } else {
                        try migrator.migrate(queue)
                    }
                } catch {
                    try? queue.close()
                    throw error
                }
                return queue
            } catch {
                guard attempt < 5 else {
                    throw JobStoreError.database(location: path, message: "cannot open: \(describe(error))")
                }
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
                attempt += 1
            }
        }
    }

    /// Closes the connection; later calls fail with `JobStoreError.database`.
    public func close() throws(JobStoreError) {
        gate.lock.lock()
        defer { gate.lock.unlock() }
        guard !gate.closed else { return }
        do { try queue.close() } catch { throw .database(location: path, message: "cannot close: \(Self.describe(error))") }
        gate.closed = true
    }

    // MARK: Schema

    /// The versioned schema. Append migrations; never edit a registered one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-jobs") { db in
            try db.execute(sql: """
                CREATE TABLE job (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    series_key TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'leased', 'done', 'failed_retrying', 'dead', 'superseded', 'skipped')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    max_attempts INTEGER NOT NULL,
                    next_attempt_at REAL NOT NULL,
                    lease_owner TEXT,
                    lease_expires_at REAL,
                    heartbeat_at REAL,
                    last_error TEXT,
                    skip_reason TEXT,
                    payload TEXT NOT NULL,
                    result TEXT,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    finished_at REAL,
                    UNIQUE (series_key, version)
                );
                CREATE INDEX job_ready ON job (state, next_attempt_at, id);
                CREATE INDEX job_lease ON job (state, lease_expires_at);
                CREATE INDEX job_updated ON job (state, updated_at);
                CREATE TABLE series (
                    series_key TEXT PRIMARY KEY,
                    latest_version INTEGER NOT NULL,
                    current_job_id INTEGER
                );
                CREATE TABLE cursor (
                    name TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    updated_at REAL NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2-review") { db in
            try db.execute(sql: SQLiteReviewSchema.sql)
        }
        return migrator
    }

    /// Identifiers of the applied migrations, oldest first.
    public func appliedMigrations() throws(JobStoreError) -> [String] {
        try read { db in try Self.migrator.appliedMigrations(db) }
    }

    /// The journal mode SQLite reports ("wal").
    public func journalMode() throws(JobStoreError) -> String {
        try read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    // MARK: Enqueue

    public func enqueue(key: JobKey, series: SeriesKey, payload: String, now: Date? = nil) throws(JobStoreError) -> EnqueueOutcome {
        let now = now ?? clock()
        return try write { db in try self.insert(db, EnqueueItem(key: key, series: series, payload: payload), now: now) }
    }

    public func enqueueBatch(_ items: [EnqueueItem], cursor: (name: String, value: String)?, now: Date? = nil) throws(JobStoreError) -> [EnqueueOutcome] {
        let now = now ?? clock()
        return try write { db in
            var outcomes: [EnqueueOutcome] = []
            for item in items { outcomes.append(try self.insert(db, item, now: now)) }
            if let cursor { try self.storeCursor(db, name: cursor.name, value: cursor.value, now: now) }
            return outcomes
        }
    }

    private func insert(_ db: Database, _ item: EnqueueItem, now: Date) throws -> EnqueueOutcome {
        guard !item.key.rawValue.isEmpty else { throw JobStoreError.invalidArgument(location: path, message: "empty idempotency key") }
        guard !item.series.rawValue.isEmpty else { throw JobStoreError.invalidArgument(location: path, message: "empty series key") }
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM job WHERE idempotency_key = ?", arguments: [item.key.rawValue]) {
            return .duplicate(id)
        }
        let latest = try Int.fetchOne(db, sql: "SELECT latest_version FROM series WHERE series_key = ?", arguments: [item.series.rawValue])
        let version = (latest ?? 0) + 1
        let t = now.timeIntervalSince1970
        // Older versions not yet worked on will never be: the newer instance set replaces them. A leased
        // older version finishes, but the series' current job is the new one.
        try db.execute(sql: """
            UPDATE job SET state = 'superseded', updated_at = ?, finished_at = ?
            WHERE series_key = ? AND state IN ('pending', 'failed_retrying')
            """, arguments: [t, t, item.series.rawValue])
        try db.execute(sql: """
            INSERT INTO job (idempotency_key, series_key, version, state, attempts, max_attempts, next_attempt_at,
                             payload, created_at, updated_at)
            VALUES (?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?)
            """, arguments: [item.key.rawValue, item.series.rawValue, version, retryPolicy.maxAttempts, t, item.payload, t, t])
        let id = db.lastInsertedRowID
        try db.execute(sql: """
            INSERT INTO series (series_key, latest_version, current_job_id) VALUES (?, ?, ?)
            ON CONFLICT (series_key) DO UPDATE SET latest_version = excluded.latest_version, current_job_id = excluded.current_job_id
            """, arguments: [item.series.rawValue, version, id])
        return .created(id)
    }

    // MARK: Leases

    public func lease(owner: String, leaseSeconds: TimeInterval, now: Date? = nil) throws(JobStoreError) -> Job? {
        guard !owner.isEmpty, leaseSeconds > 0 else {
            throw .invalidArgument(location: path, message: "a lease needs an owner and a positive duration")
        }
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db -> Job? in
            while let row = try Row.fetchOne(db, sql: """
                SELECT id, state, attempts, max_attempts FROM job
                WHERE (state IN ('pending', 'failed_retrying') AND next_attempt_at <= ?)
                   OR (state = 'leased' AND lease_expires_at <= ?)
                ORDER BY CASE WHEN state = 'leased' THEN lease_expires_at ELSE next_attempt_at END, id
                LIMIT 1
                """, arguments: [t, t]) {
                let id: Int64 = try row.decode(forColumn: "id")
                let state: String = try row.decode(forColumn: "state")
                let attempts: Int = try row.decode(forColumn: "attempts")
                let maxAttempts: Int = try row.decode(forColumn: "max_attempts")
                if state == JobState.leased.rawValue, attempts >= maxAttempts {
                    // Its worker died on every attempt: a job that kills workers goes to the dead letters.
                    try db.execute(sql: """
                        UPDATE job SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, finished_at = ?,
                                       last_error = 'lease expired on the last attempt (worker lost ' || attempts || ' times)'
                        WHERE id = ?
                        """, arguments: [t, t, id])
                    continue
                }
                try db.execute(sql: """
                    UPDATE job SET state = 'leased', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?,
                                   heartbeat_at = ?, updated_at = ?
                    WHERE id = ?
                    """, arguments: [owner, t + leaseSeconds, t, t, id])
                return try self.fetchJob(db, id: id)
            }
            return nil
        }
    }

    public func heartbeat(id: Int64, owner: String, leaseSeconds: TimeInterval, now: Date? = nil) throws(JobStoreError) -> Job {
        guard leaseSeconds > 0 else { throw .invalidArgument(location: path, message: "a lease needs a positive duration") }
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            _ = try self.requireLease(db, id: id, owner: owner)
            try db.execute(sql: "UPDATE job SET lease_expires_at = ?, heartbeat_at = ?, updated_at = ? WHERE id = ?",
                           arguments: [t + leaseSeconds, t, t, id])
            return try self.requireJob(db, id: id)
        }
    }

    public func complete(id: Int64, owner: String, result: String, now: Date? = nil) throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            _ = try self.requireLease(db, id: id, owner: owner)
            try db.execute(sql: """
                UPDATE job SET state = 'done', result = ?, lease_owner = NULL, lease_expires_at = NULL,
                               updated_at = ?, finished_at = ?
                WHERE id = ?
                """, arguments: [result, t, t, id])
            return try self.requireJob(db, id: id)
        }
    }

    public func fail(id: Int64, owner: String, error: String, now: Date? = nil) throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            let job = try self.requireLease(db, id: id, owner: owner)
            if job.attempts >= job.maxAttempts {
                try db.execute(sql: """
                    UPDATE job SET state = 'dead', last_error = ?, lease_owner = NULL, lease_expires_at = NULL,
                                   updated_at = ?, finished_at = ?
                    WHERE id = ?
                    """, arguments: [error, t, t, id])
            } else {
                let next = t + self.retryPolicy.delay(afterAttempt: job.attempts)
                try db.execute(sql: """
                    UPDATE job SET state = 'failed_retrying', last_error = ?, next_attempt_at = ?, lease_owner = NULL,
                                   lease_expires_at = NULL, updated_at = ?
                    WHERE id = ?
                    """, arguments: [error, next, t, id])
            }
            return try self.requireJob(db, id: id)
        }
    }

    public func release(id: Int64, owner: String, now: Date? = nil) throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            _ = try self.requireLease(db, id: id, owner: owner)
            try db.execute(sql: """
                UPDATE job SET state = 'pending', attempts = MAX(attempts - 1, 0), next_attempt_at = ?, lease_owner = NULL,
                               lease_expires_at = NULL, updated_at = ?
                WHERE id = ?
                """, arguments: [t, t, id])
            return try self.requireJob(db, id: id)
        }
    }

    public func skip(id: Int64, reason: String, now: Date? = nil) throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            let job = try self.requireJob(db, id: id)
            guard !job.state.isTerminal else {
                throw JobStoreError.invalidState(location: self.path, id: id, operation: "skip", state: job.state)
            }
            try db.execute(sql: """
                UPDATE job SET state = 'skipped', skip_reason = ?, lease_owner = NULL, lease_expires_at = NULL,
                               updated_at = ?, finished_at = ?
                WHERE id = ?
                """, arguments: [reason, t, t, id])
            return try self.requireJob(db, id: id)
        }
    }

    public func retry(id: Int64, now: Date? = nil) throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            let job = try self.requireJob(db, id: id)
            guard job.state == .dead else {
                throw JobStoreError.invalidState(location: self.path, id: id, operation: "retry", state: job.state)
            }
            try db.execute(sql: """
                UPDATE job SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?, finished_at = NULL
                WHERE id = ?
                """, arguments: [t, t, id])
            return try self.requireJob(db, id: id)
        }
    }

    // MARK: Operators

    public func purge(olderThan: Date, states: Set<JobState>) throws(JobStoreError) -> Int {
        if let live = states.first(where: { !$0.isTerminal }) {
            throw .invalidArgument(location: path, message: "purge removes finished jobs only, not \(live) ones")
        }
        guard !states.isEmpty else { return 0 }
        let names = states.map(\.rawValue).sorted()
        return try write { db in
            let marks = Array(repeating: "?", count: names.count).joined(separator: ", ")
            var arguments = StatementArguments(names)
            arguments += [olderThan.timeIntervalSince1970]
            try db.execute(sql: "DELETE FROM job WHERE state IN (\(marks)) AND updated_at < ?", arguments: arguments)
            let removed = db.changesCount
            // The series keeps its version count (a later delivery is the next version) but no current job.
            try db.execute(sql: "UPDATE series SET current_job_id = NULL WHERE current_job_id NOT IN (SELECT id FROM job)")
            return removed
        }
    }

    public func counts() throws(JobStoreError) -> [JobState: Int] {
        try read { db in
            var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM job GROUP BY state") {
                let name: String = try row.decode(forColumn: "state")
                guard let state = JobState(rawValue: name) else {
                    throw JobStoreError.corrupt(location: self.path, message: "unknown state '\(name)'")
                }
                counts[state] = try row.decode(forColumn: "n")
            }
            return counts
        }
    }

    public func list(state: JobState?, limit: Int) throws(JobStoreError) -> [Job] {
        guard limit >= 0 else { throw .invalidArgument(location: path, message: "negative list limit \(limit)") }
        return try read { db in
            let rows: [Row]
            if let state {
                rows = try Row.fetchAll(db, sql: Self.select + " WHERE job.state = ? ORDER BY job.id DESC LIMIT ?",
                                        arguments: [state.rawValue, limit])
            } else {
                rows = try Row.fetchAll(db, sql: Self.select + " ORDER BY job.id DESC LIMIT ?", arguments: [limit])
            }
            return try rows.map { row in try self.decodeJob(row) }
        }
    }

    public func job(id: Int64) throws(JobStoreError) -> Job? {
        try read { db in try self.fetchJob(db, id: id) }
    }

    public func currentJob(series: SeriesKey) throws(JobStoreError) -> Job? {
        try read { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT current_job_id FROM series WHERE series_key = ?",
                                              arguments: [series.rawValue]) else { return nil }
            return try self.fetchJob(db, id: id)
        }
    }

    // MARK: Cursors

    public func setCursor(name: String, value: String, now: Date? = nil) throws(JobStoreError) {
        let now = now ?? clock()
        try write { db in try self.storeCursor(db, name: name, value: value, now: now) }
    }

    public func cursor(name: String) throws(JobStoreError) -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM cursor WHERE name = ?", arguments: [name]) }
    }

    private func storeCursor(_ db: Database, name: String, value: String, now: Date) throws {
        guard !name.isEmpty else { throw JobStoreError.invalidArgument(location: path, message: "empty cursor name") }
        try db.execute(sql: """
            INSERT INTO cursor (name, value, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """, arguments: [name, value, now.timeIntervalSince1970])
    }

    // MARK: Rows

    private static let select = """
        SELECT job.*, (series.current_job_id IS NOT NULL AND series.current_job_id = job.id) AS is_current
        FROM job LEFT JOIN series ON series.series_key = job.series_key
        """

    private func fetchJob(_ db: Database, id: Int64) throws -> Job? {
        try Row.fetchOne(db, sql: Self.select + " WHERE job.id = ?", arguments: [id]).map { row in try decodeJob(row) }
    }

    private func requireJob(_ db: Database, id: Int64) throws -> Job {
        guard let job = try fetchJob(db, id: id) else { throw JobStoreError.notFound(location: path, id: id) }
        return job
    }

    /// The job, if `owner` holds its lease (an expired lease no one has taken over still counts).
    private func requireLease(_ db: Database, id: Int64, owner: String) throws -> Job {
        let job = try requireJob(db, id: id)
        guard job.state == .leased, job.leaseOwner == owner else {
            throw JobStoreError.leaseLost(location: path, id: id, owner: owner, state: job.state,
                                          currentOwner: job.state == .leased ? job.leaseOwner : nil)
        }
        return job
    }

    private func decodeJob(_ row: Row) throws -> Job {
        func date(_ column: String) throws -> Date { Date(timeIntervalSince1970: try row.decode(forColumn: column)) }
        func optionalDate(_ column: String) throws -> Date? {
            (try row.decode(Double?.self, forColumn: column)).map { Date(timeIntervalSince1970: $0) }
        }
        let stateName: String = try row.decode(forColumn: "state")
        guard let state = JobState(rawValue: stateName) else {
            throw JobStoreError.corrupt(location: path, message: "unknown state '\(stateName)'")
        }
        return Job(
            id: try row.decode(forColumn: "id"),
            key: JobKey(rawValue: try row.decode(forColumn: "idempotency_key")),
            series: SeriesKey(rawValue: try row.decode(forColumn: "series_key")),
            version: try row.decode(forColumn: "version"),
            state: state,
            attempts: try row.decode(forColumn: "attempts"),
            maxAttempts: try row.decode(forColumn: "max_attempts"),
            nextAttemptAt: try date("next_attempt_at"),
            leaseOwner: try row.decode(forColumn: "lease_owner"),
            leaseExpiresAt: try optionalDate("lease_expires_at"),
            heartbeatAt: try optionalDate("heartbeat_at"),
            lastError: try row.decode(forColumn: "last_error"),
            skipReason: try row.decode(forColumn: "skip_reason"),
            payload: try row.decode(forColumn: "payload"),
            result: try row.decode(forColumn: "result"),
            createdAt: try date("created_at"),
            updatedAt: try date("updated_at"),
            finishedAt: try optionalDate("finished_at"),
            isCurrent: (try row.decode(Int?.self, forColumn: "is_current") ?? 0) != 0)
    }

    // MARK: Transactions

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction (the write lock taken up front, so two
    /// connections never both read a job as free and then both take it); any error rolls it back.
    func write<T>(_ body: (Database) throws -> T) throws(JobStoreError) -> T {
        gate.lock.lock()
        defer { gate.lock.unlock() }
        guard !gate.closed else { throw .database(location: path, message: "the store is closed") }
        do {
            return try queue.writeWithoutTransaction { db in
                var value: T?
                try db.inTransaction(.immediate) {
                    value = try body(db)
                    return .commit
                }
                guard let value else {
                    // inTransaction runs the closure exactly once or throws; kept as an error, not a trap.
                    throw JobStoreError.database(location: self.path, message: "transaction returned no value")
                }
                return value
            }
        } catch let error as JobStoreError {
            throw error
        } catch {
            throw .database(location: path, message: Self.describe(error))
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(JobStoreError) -> T {
        gate.lock.lock()
        defer { gate.lock.unlock() }
        guard !gate.closed else { throw .database(location: path, message: "the store is closed") }
        do {
            return try queue.read(body)
        } catch let error as JobStoreError {
            throw error
        } catch {
            throw .database(location: path, message: Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return "\(error.resultCode): \(error.message ?? "no message")"
        }
        return "\(error)"
    }
}

/// Whether a store was closed, behind the lock its operations hold.
private final class Gate: @unchecked Sendable {
    let lock = NSLock()
    /// Read and written only with `lock` held.
    var closed = false
}
