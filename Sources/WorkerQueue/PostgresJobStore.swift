import Foundation
import Logging
import PostgresNIO

/// The job queue in a PostgreSQL database, for several worker processes sharing the load. Same states,
/// transitions, retry policy and errors as `SQLiteJobStore`; a lease is one transaction whose
/// `SELECT … FOR UPDATE SKIP LOCKED` takes the oldest ready row that no other transaction holds, so
/// concurrent workers never take the same job and never wait for each other.
///
/// The store owns a connection pool (postgres-nio's `PostgresClient`) whose `run()` it drives from a task
/// started by `init` and ended by `close()`. Only hashed UIDs, spool paths and the triage record are
/// stored; see docs/WORKER_QUEUE.md.
public final class PostgresJobStore: JobStore {
    /// The database, without password: what errors and logs name.
    public let location: PostgresLocation
    public let retryPolicy: RetryPolicy
    let clock: @Sendable () -> Date
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    let logger: Logger
    private let gate = ClosedGate()

    /// Connects, applies the missing migrations (under an advisory lock, so two workers starting at once
    /// migrate once) and starts the connection pool.
    ///
    /// - Parameters:
    ///   - password: the password to connect with; nil: the URL's, if any (`PostgresLocation.resolvedPassword`
    ///     adds the password file and `PGPASSWORD`).
    ///   - retryPolicy: attempts and backoff of new jobs (the maximum is stored per job at enqueue).
    ///   - maximumConnections: the pool's size; one operation holds one connection for its transaction.
    ///   - connectTimeout: how long one connection attempt may take.
    ///   - clock: the time used when an operation is given no `now`.
    ///   - logger: connection and pool events (never the password).
    public convenience init(location: PostgresLocation, password: String? = nil, retryPolicy: RetryPolicy = RetryPolicy(),
                maximumConnections: Int = 8, connectTimeout: TimeInterval = 10,
                clock: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "dsa-triage.worker-queue")) async throws(JobStoreError) {
        try await self.init(location: location, password: password, retryPolicy: retryPolicy, maximumConnections: maximumConnections,
                            connectTimeout: connectTimeout, clock: clock, logger: logger, migratingUpTo: nil)
    }

    /// Connects and migrates up to `lastMigration` (nil: all), so that tests can make a database of an
    /// older schema and check the upgrade.
    init(location: PostgresLocation, password: String?, retryPolicy: RetryPolicy, maximumConnections: Int,
         connectTimeout: TimeInterval, clock: @escaping @Sendable () -> Date, logger: Logger,
         migratingUpTo lastMigration: String?) async throws(JobStoreError) {
        var location = location
        let secret = password ?? location.password
        location.password = nil
        self.location = location
        self.retryPolicy = retryPolicy
        self.clock = clock
        self.logger = logger
        let name = location.description

        // One direct connection first: a wrong host, user, password or database fails now with the server's
        // words, instead of the pool retrying in the background, and the migrations run on it.
        do {
            var configuration = PostgresConnection.Configuration(
                host: location.host, port: location.port, username: location.user, password: secret,
                database: location.database, tls: try Self.connectionTLS(location.tls))
            configuration.options.connectTimeout = .milliseconds(Int64(max(0.001, connectTimeout) * 1000))
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            do {
                let applied = try await PostgresSchema.migrate(connection, now: clock(), logger: logger, upTo: lastMigration)
                if !applied.isEmpty { logger.info("job queue migrated", metadata: ["location": "\(name)", "applied": "\(applied)"]) }
            } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
        } catch {
            throw Self.map(error, location: name)
        }

        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: secret,
            database: location.database, tls: Self.clientTLS(location.tls))
        configuration.options.maximumConnections = max(1, maximumConnections)
        configuration.options.connectTimeout = .milliseconds(Int64(max(0.001, connectTimeout) * 1000))
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        // Return once the pool's task runs, so the first operation finds the pool started.
        let (started, signal) = AsyncStream<Void>.makeStream()
        runTask = Task {
            signal.finish()
            await client.run()
        }
        for await _ in started {}
    }

    deinit {
        runTask.cancel()
    }

    /// Stops the pool (its connections close); later calls fail with `JobStoreError.database`. Call it once
    /// the work using the store has stopped: an operation in flight may fail.
    public func close() async {
        guard gate.close() else { return }
        runTask.cancel()
        await runTask.value
    }

    /// Names of the applied migrations, oldest first.
    public func appliedMigrations() async throws(JobStoreError) -> [String] {
        try await read { c in
            try await self.rows(c, "SELECT name FROM schema_migrations ORDER BY position").map { try $0["name"].decode(String.self) }
        }
    }

    // MARK: Enqueue

    public func enqueue(key: JobKey, series: SeriesKey, payload: String, now: Date? = nil) async throws(JobStoreError) -> EnqueueOutcome {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            let outcome = try await self.insert(c, EnqueueItem(key: key, series: series, payload: payload), t: t)
            try await self.dropUnusedSeries(c, [series.rawValue])
            return outcome
        }
    }

    public func enqueueBatch(_ items: [EnqueueItem], cursor: (name: String, value: String)?, now: Date? = nil) async throws(JobStoreError) -> [EnqueueOutcome] {
        let t = (now ?? clock()).timeIntervalSince1970
        let cursor = cursor.map { (name: $0.name, value: $0.value) }
        return try await transaction { c in
            // Series rows locked in one order: two batches sharing series wait for each other instead of
            // deadlocking.
            let seriesKeys = Set(items.map(\.series.rawValue).filter { !$0.isEmpty }).sorted()
            for series in seriesKeys { _ = try await self.lockSeries(c, series) }
            var outcomes: [EnqueueOutcome] = []
            for item in items { outcomes.append(try await self.insert(c, item, t: t)) }
            if let cursor { try await self.storeCursor(c, name: cursor.name, value: cursor.value, t: t) }
            try await self.dropUnusedSeries(c, seriesKeys)
            return outcomes
        }
    }

    private func insert(_ c: PostgresConnection, _ item: EnqueueItem, t: Double) async throws -> EnqueueOutcome {
        guard !item.key.rawValue.isEmpty else { throw JobStoreError.invalidArgument(location: name, message: "empty idempotency key") }
        guard !item.series.rawValue.isEmpty else { throw JobStoreError.invalidArgument(location: name, message: "empty series key") }
        if let id = try await jobID(c, key: item.key) { return .duplicate(id) }
        // The series row, locked until commit, serialises the versions of one series: two workers
        // enqueueing instance sets of the same series cannot both make version 2.
        let latest = try await lockSeries(c, item.series.rawValue)
        // Under the lock: an enqueue of this key that committed while we waited is visible now.
        if let id = try await jobID(c, key: item.key) { return .duplicate(id) }
        let version = latest + 1
        let inserted = try await rows(c, """
            INSERT INTO job (idempotency_key, series_key, version, state, attempts, max_attempts, next_attempt_at,
                             payload, created_at, updated_at)
            VALUES (\(item.key.rawValue), \(item.series.rawValue), \(version), 'pending', 0, \(retryPolicy.maxAttempts), \(t),
                    \(item.payload), \(t), \(t))
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id
            """)
        guard let id = try inserted.first?["id"].decode(Int64.self) else {
            // The key was committed meanwhile under another series' lock: still a duplicate.
            guard let id = try await jobID(c, key: item.key) else {
                throw JobStoreError.database(location: name, message: "job with key \(item.key) neither inserted nor found")
            }
            return .duplicate(id)
        }
        // Older versions not yet worked on will never be: the newer instance set replaces them. A leased
        // older version finishes, but the series' current job is the new one.
        try await execute(c, """
            UPDATE job SET state = 'superseded', updated_at = \(t), finished_at = \(t)
            WHERE series_key = \(item.series.rawValue) AND state IN ('pending', 'failed_retrying') AND id <> \(id)
            """)
        try await execute(c, "UPDATE series SET latest_version = \(version), current_job_id = \(id) WHERE series_key = \(item.series.rawValue)")
        return .created(id)
    }

    private func jobID(_ c: PostgresConnection, key: JobKey) async throws -> Int64? {
        try await rows(c, "SELECT id FROM job WHERE idempotency_key = \(key.rawValue)").first?["id"].decode(Int64.self)
    }

    /// Creates the series row if needed (version 0), locks it until commit and returns its latest version.
    private func lockSeries(_ c: PostgresConnection, _ series: String) async throws -> Int {
        try await execute(c, """
            INSERT INTO series (series_key, latest_version, current_job_id) VALUES (\(series), 0, NULL)
            ON CONFLICT (series_key) DO NOTHING
            """)
        guard let row = try await rows(c, "SELECT latest_version FROM series WHERE series_key = \(series) FOR UPDATE").first else {
            throw JobStoreError.database(location: name, message: "series row vanished while locked")
        }
        return try row["latest_version"].decode(Int.self)
    }

    /// Removes series rows this transaction created but gave no job (every item was a duplicate).
    private func dropUnusedSeries(_ c: PostgresConnection, _ series: [String]) async throws {
        guard !series.isEmpty else { return }
        try await execute(c, "DELETE FROM series WHERE series_key = ANY(\(series)) AND latest_version = 0")
    }

    // MARK: Leases

    public func lease(owner: String, leaseSeconds: TimeInterval, now: Date? = nil) async throws(JobStoreError) -> Job? {
        guard !owner.isEmpty, leaseSeconds > 0 else {
            throw .invalidArgument(location: name, message: "a lease needs an owner and a positive duration")
        }
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c -> Job? in
            // SKIP LOCKED: a row another worker's transaction is taking is passed over, not waited for.
            while let row = try await self.rows(c, """
                SELECT id, state, attempts, max_attempts FROM job
                WHERE (state IN ('pending', 'failed_retrying') AND next_attempt_at <= \(t))
                   OR (state = 'leased' AND lease_expires_at <= \(t))
                ORDER BY CASE WHEN state = 'leased' THEN lease_expires_at ELSE next_attempt_at END, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
                """).first {
                let id = try row["id"].decode(Int64.self)
                let state = try row["state"].decode(String.self)
                let attempts = try row["attempts"].decode(Int.self)
                let maxAttempts = try row["max_attempts"].decode(Int.self)
                if state == JobState.leased.rawValue, attempts >= maxAttempts {
                    // Its worker died on every attempt: a job that kills workers goes to the dead letters.
                    try await self.execute(c, """
                        UPDATE job SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL, updated_at = \(t), finished_at = \(t),
                                       last_error = 'lease expired on the last attempt (worker lost ' || attempts || ' times)'
                        WHERE id = \(id)
                        """)
                    continue
                }
                try await self.execute(c, """
                    UPDATE job SET state = 'leased', attempts = attempts + 1, lease_owner = \(owner), lease_expires_at = \(t + leaseSeconds),
                                   heartbeat_at = \(t), updated_at = \(t)
                    WHERE id = \(id)
                    """)
                return try await self.requireJob(c, id: id)
            }
            return nil
        }
    }

    public func heartbeat(id: Int64, owner: String, leaseSeconds: TimeInterval, now: Date? = nil) async throws(JobStoreError) -> Job {
        guard leaseSeconds > 0 else { throw .invalidArgument(location: name, message: "a lease needs a positive duration") }
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            _ = try await self.requireLease(c, id: id, owner: owner)
            try await self.execute(c, """
                UPDATE job SET lease_expires_at = \(t + leaseSeconds), heartbeat_at = \(t), updated_at = \(t) WHERE id = \(id)
                """)
            return try await self.requireJob(c, id: id)
        }
    }

    public func complete(id: Int64, owner: String, result: String, now: Date? = nil) async throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            _ = try await self.requireLease(c, id: id, owner: owner)
            try await self.execute(c, """
                UPDATE job SET state = 'done', result = \(result), lease_owner = NULL, lease_expires_at = NULL,
                               updated_at = \(t), finished_at = \(t)
                WHERE id = \(id)
                """)
            return try await self.requireJob(c, id: id)
        }
    }

    public func fail(id: Int64, owner: String, error: String, now: Date? = nil) async throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            let attempts = try await self.requireLease(c, id: id, owner: owner)
            if attempts.used >= attempts.allowed {
                try await self.execute(c, """
                    UPDATE job SET state = 'dead', last_error = \(error), lease_owner = NULL, lease_expires_at = NULL,
                                   updated_at = \(t), finished_at = \(t)
                    WHERE id = \(id)
                    """)
            } else {
                let next = t + self.retryPolicy.delay(afterAttempt: attempts.used)
                try await self.execute(c, """
                    UPDATE job SET state = 'failed_retrying', last_error = \(error), next_attempt_at = \(next), lease_owner = NULL,
                                   lease_expires_at = NULL, updated_at = \(t)
                    WHERE id = \(id)
                    """)
            }
            return try await self.requireJob(c, id: id)
        }
    }

    public func release(id: Int64, owner: String, now: Date? = nil) async throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            _ = try await self.requireLease(c, id: id, owner: owner)
            try await self.execute(c, """
                UPDATE job SET state = 'pending', attempts = GREATEST(attempts - 1, 0), next_attempt_at = \(t), lease_owner = NULL,
                               lease_expires_at = NULL, updated_at = \(t)
                WHERE id = \(id)
                """)
            return try await self.requireJob(c, id: id)
        }
    }

    public func skip(id: Int64, reason: String, now: Date? = nil) async throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            let state = try await self.lockState(c, id: id)
            guard !state.isTerminal else {
                throw JobStoreError.invalidState(location: self.name, id: id, operation: "skip", state: state)
            }
            try await self.execute(c, """
                UPDATE job SET state = 'skipped', skip_reason = \(reason), lease_owner = NULL, lease_expires_at = NULL,
                               updated_at = \(t), finished_at = \(t)
                WHERE id = \(id)
                """)
            return try await self.requireJob(c, id: id)
        }
    }

    public func retry(id: Int64, now: Date? = nil) async throws(JobStoreError) -> Job {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            let state = try await self.lockState(c, id: id)
            guard state == .dead else {
                throw JobStoreError.invalidState(location: self.name, id: id, operation: "retry", state: state)
            }
            try await self.execute(c, """
                UPDATE job SET state = 'pending', attempts = 0, next_attempt_at = \(t), updated_at = \(t), finished_at = NULL
                WHERE id = \(id)
                """)
            return try await self.requireJob(c, id: id)
        }
    }

    // MARK: Operators

    public func purge(olderThan: Date, states: Set<JobState>) async throws(JobStoreError) -> Int {
        if let live = states.first(where: { !$0.isTerminal }) {
            throw .invalidArgument(location: name, message: "purge removes finished jobs only, not \(live) ones")
        }
        guard !states.isEmpty else { return 0 }
        let names = states.map(\.rawValue).sorted()
        let t = olderThan.timeIntervalSince1970
        return try await transaction { c in
            let removed = try await self.rows(c, "DELETE FROM job WHERE state = ANY(\(names)) AND updated_at < \(t) RETURNING id")
                .map { try $0["id"].decode(Int64.self) }
            // The series keeps its version count (a later delivery is the next version) but no current job.
            if !removed.isEmpty {
                try await self.execute(c, "UPDATE series SET current_job_id = NULL WHERE current_job_id = ANY(\(removed))")
            }
            return removed.count
        }
    }

    public func counts() async throws(JobStoreError) -> [JobState: Int] {
        try await read { c in
            var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
            for row in try await self.rows(c, "SELECT state, COUNT(*) AS n FROM job GROUP BY state") {
                let name = try row["state"].decode(String.self)
                guard let state = JobState(rawValue: name) else {
                    throw JobStoreError.corrupt(location: self.name, message: "unknown state '\(name)'")
                }
                counts[state] = try row["n"].decode(Int.self)
            }
            return counts
        }
    }

    public func list(state: JobState?, limit: Int) async throws(JobStoreError) -> [Job] {
        guard limit >= 0 else { throw .invalidArgument(location: name, message: "negative list limit \(limit)") }
        return try await read { c in
            let rows: [PostgresRandomAccessRow]
            if let state {
                rows = try await self.rows(c, "\(unescaped: Self.select) WHERE job.state = \(state.rawValue) ORDER BY job.id DESC LIMIT \(limit)")
            } else {
                rows = try await self.rows(c, "\(unescaped: Self.select) ORDER BY job.id DESC LIMIT \(limit)")
            }
            return try rows.map { row in try self.decodeJob(row) }
        }
    }

    public func job(id: Int64) async throws(JobStoreError) -> Job? {
        try await read { c in try await self.fetchJob(c, id: id) }
    }

    public func currentJob(series: SeriesKey) async throws(JobStoreError) -> Job? {
        try await read { c in
            guard let row = try await self.rows(c, "SELECT current_job_id FROM series WHERE series_key = \(series.rawValue)").first,
                  let id = try row["current_job_id"].decode(Int64?.self) else { return nil }
            return try await self.fetchJob(c, id: id)
        }
    }

    // MARK: Cursors

    public func setCursor(name: String, value: String, now: Date? = nil) async throws(JobStoreError) {
        let t = (now ?? clock()).timeIntervalSince1970
        try await transaction { c in try await self.storeCursor(c, name: name, value: value, t: t) }
    }

    public func cursor(name: String) async throws(JobStoreError) -> String? {
        try await read { c in
            try await self.rows(c, "SELECT value FROM cursor WHERE name = \(name)").first?["value"].decode(String.self)
        }
    }

    private func storeCursor(_ c: PostgresConnection, name cursorName: String, value: String, t: Double) async throws {
        guard !cursorName.isEmpty else { throw JobStoreError.invalidArgument(location: name, message: "empty cursor name") }
        try await execute(c, """
            INSERT INTO cursor (name, value, updated_at) VALUES (\(cursorName), \(value), \(t))
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """)
    }

    // MARK: Rows

    /// The location as errors name it.
    var name: String { location.description }

    private func fetchJob(_ c: PostgresConnection, id: Int64) async throws -> Job? {
        try await rows(c, "\(unescaped: Self.select) WHERE job.id = \(id)").first.map { row in try decodeJob(row) }
    }

    private func requireJob(_ c: PostgresConnection, id: Int64) async throws -> Job {
        guard let job = try await fetchJob(c, id: id) else { throw JobStoreError.notFound(location: name, id: id) }
        return job
    }

    /// The job's state, its row locked until commit.
    private func lockState(_ c: PostgresConnection, id: Int64) async throws -> JobState {
        guard let row = try await rows(c, "SELECT state FROM job WHERE id = \(id) FOR UPDATE").first else {
            throw JobStoreError.notFound(location: name, id: id)
        }
        return try jobState(row)
    }

    /// The job's attempts, if `owner` holds its lease (an expired lease no one has taken over still counts);
    /// the row stays locked until commit, so a takeover waits for this transaction or wins before it.
    private func requireLease(_ c: PostgresConnection, id: Int64, owner: String) async throws -> (used: Int, allowed: Int) {
        guard let row = try await rows(c, "SELECT state, lease_owner, attempts, max_attempts FROM job WHERE id = \(id) FOR UPDATE").first else {
            throw JobStoreError.notFound(location: name, id: id)
        }
        let state = try jobState(row)
        let holder = try row["lease_owner"].decode(String?.self)
        guard state == .leased, holder == owner else {
            throw JobStoreError.leaseLost(location: name, id: id, owner: owner, state: state, currentOwner: state == .leased ? holder : nil)
        }
        return (try row["attempts"].decode(Int.self), try row["max_attempts"].decode(Int.self))
    }

    // MARK: Statements and transactions

    func rows(_ c: PostgresConnection, _ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await c.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    func execute(_ c: PostgresConnection, _ query: PostgresQuery) async throws {
        _ = try await c.query(query, logger: logger).collect()
    }

    /// Runs `body` in one transaction on one pooled connection (READ COMMITTED, PostgreSQL's default: the
    /// row locks taken by the statements are what make each operation safe); any error rolls it back.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws(JobStoreError) -> T {
        guard gate.isOpen else { throw .database(location: name, message: "the store is closed") }
        do {
            return try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: self.logger)
                do {
                    let value = try await body(connection)
                    try await connection.query("COMMIT", logger: self.logger)
                    return value
                } catch {
                    // The body's error says what went wrong; a failed rollback (a broken connection) adds nothing.
                    _ = try? await connection.query("ROLLBACK", logger: self.logger)
                    throw error
                }
            }
        } catch {
            throw Self.map(error, location: name)
        }
    }

    /// Runs one read statement (or a few, each seeing the latest commits) outside a transaction.
    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws(JobStoreError) -> T {
        guard gate.isOpen else { throw .database(location: name, message: "the store is closed") }
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw Self.map(error, location: name)
        }
    }
}

/// Whether a store was closed; checked before each operation, so a closed store answers with an error
/// instead of a pool that no longer runs.
private final class ClosedGate: @unchecked Sendable {
    private let lock = NSLock()
    /// Read and written only with `lock` held.
    private var closed = false

    var isOpen: Bool { lock.withLock { !closed } }

    /// Marks the gate closed; false when it already was.
    func close() -> Bool {
        lock.withLock {
            if closed { return false }
            closed = true
            return true
        }
    }
}
