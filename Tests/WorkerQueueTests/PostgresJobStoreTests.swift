import Foundation
import TestSupport
import XCTest
import WorkerQueue

/// The PostgreSQL job queue on a private cluster started for this class (Debian's `postgresql`), a fresh
/// database per test: the shared contract, two workers sharing a queue, a dead worker's lease taken over,
/// SKIP LOCKED not waiting, and password handling against a SCRAM-authenticated role.
final class PostgresJobStoreTests: XCTestCase {
    nonisolated(unsafe) private static var server: PostgresServer?
    nonisolated(unsafe) private static var startFailure: String?
    private static let secureRole = "queue_secured"
    private static let securePassword = "s3cret-Pa55word"

    private let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    private var database = ""
    private var opened = StoreList()

    override class func setUp() {
        super.setUp()
        do {
            let started = try PostgresServer(extraHBA: ["host all \(secureRole) 127.0.0.1/32 scram-sha-256"])
            try started.psql("CREATE ROLE \(secureRole) LOGIN PASSWORD '\(securePassword)'")
            server = started
        } catch {
            startFailure = "\(error)"
        }
    }

    override class func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    override func setUpWithError() throws {
        guard let server = Self.server else {
            throw PostgresServer.Failure(description: "no PostgreSQL server for the tests: \(Self.startFailure ?? "not started")")
        }
        database = try server.createDatabase()
        opened = StoreList()
    }

    override func tearDown() async throws {
        for store in opened.all { try? await store.close() }
    }

    private var server: PostgresServer {
        get throws {
            guard let server = Self.server else { throw PostgresServer.Failure(description: Self.startFailure ?? "no server") }
            return server
        }
    }

    private func location() throws -> PostgresLocation {
        let parsed = try JobStoreLocation(parsing: try server.url(database: database))
        guard case .postgres(let location) = parsed else { throw PostgresServer.Failure(description: "not a postgres URL: \(parsed)") }
        return location
    }

    private func open(_ policy: RetryPolicy = JobStoreContract.policy) async throws -> PostgresJobStore {
        let store = try await PostgresJobStore(location: try location(), retryPolicy: policy, maximumConnections: 4,
                                               clock: { Date(timeIntervalSince1970: 1_700_000_000) })
        opened.append(store)
        return store
    }

    private var contract: JobStoreContract {
        get throws {
            let location = try self.location()
            let opened = self.opened
            return JobStoreContract(
                open: { policy in
                    let store = try await PostgresJobStore(location: location, retryPolicy: policy, maximumConnections: 4,
                                                           clock: { Date(timeIntervalSince1970: 1_700_000_000) })
                    opened.append(store)
                    return store
                },
                location: location.description,
                migrations: { store in
                    guard let store = store as? PostgresJobStore else {
                        throw JobStoreError.invalidArgument(location: location.description, message: "not PostgreSQL")
                    }
                    return try await store.appliedMigrations()
                })
        }
    }

    // MARK: The contract shared with SQLite

    func testEnqueueIsIdempotent() async throws { try await contract.idempotentEnqueue() }
    func testLeaseIsExclusiveAcrossTwoStores() async throws { try await contract.leaseIsExclusiveAcrossTwoStores() }
    func testExpiredLeaseIsTakenOverAndStolenLeaseRefusesCompletion() async throws {
        try await contract.expiredLeaseIsTakenOverAndStolenLeaseRefusesCompletion()
    }
    func testBackoffScheduleThenDeadLetterThenRetry() async throws { try await contract.backoffScheduleThenDeadLetterThenRetry() }
    func testReleaseGivesTheJobBackWithoutCountingTheAttempt() async throws { try await contract.releaseGivesTheJobBackWithoutCountingTheAttempt() }
    func testLeaseLostOnEveryAttemptEndsDead() async throws { try await contract.leaseLostOnEveryAttemptEndsDead() }
    func testNewVersionSupersedesPendingAndBecomesCurrent() async throws { try await contract.newVersionSupersedesPendingAndBecomesCurrent() }
    func testBatchAndCursorAreAtomic() async throws { try await contract.batchAndCursorAreAtomic() }
    func testConcurrentEnqueuesOfOneSeriesTakeTurns() async throws { try await contract.concurrentEnqueuesOfOneSeriesTakeTurns() }
    func testCountsListSkipAndPurge() async throws { try await contract.countsListSkipAndPurge() }
    func testReopenKeepsJobsAndMigrationsRunOnce() async throws { try await contract.reopenKeepsJobsAndMigrationsRunOnce() }
    func testTwoStoresOpeningAtOnceMigrateOnce() async throws {
        try await contract.twoStoresOpeningAtOnceMigrateOnce()
        let rows = try server.psql("SELECT position, name FROM schema_migrations ORDER BY position", database: database)
        XCTAssertEqual(rows.trimmingCharacters(in: .whitespacesAndNewlines), "1|v1-jobs\n2|v2-review")
    }

    // MARK: Several workers

    /// The issue's acceptance test: two workers (two pools, as two processes would have) share 20 series;
    /// each is completed exactly once, by one of them, and both took part.
    func testTwoWorkersProcessTwentySeriesExactlyOnce() async throws {
        let byWorker = try await contract.concurrentWorkersCompleteEachJobOnce(jobs: 20, workers: 2, work: .milliseconds(20))
        print("PostgreSQL: series completed per worker: \(byWorker.map(\.count))")
        XCTAssertTrue(byWorker.allSatisfy { !$0.isEmpty }, "one worker took every job: \(byWorker.map(\.count))")
        XCTAssertTrue(Set(byWorker[0]).isDisjoint(with: byWorker[1]))
    }

    /// Worker A leases a job and dies (its pool closes, no heartbeat, no release): B gets nothing until
    /// the lease expires, then takes it over as attempt 2 and completes it.
    func testKilledWorkersLeaseIsTakenOverAfterExpiry() async throws {
        let a = try await open(), b = try await open()
        let id = try await a.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        let leased = try await a.lease(owner: "worker-a", leaseSeconds: 30, now: t0)
        XCTAssertEqual(leased?.id, id)
        await a.close()
        let early = try await b.lease(owner: "worker-b", leaseSeconds: 30, now: t0.addingTimeInterval(29.9))
        XCTAssertNil(early, "the lease of the dead worker has not expired yet")
        let holder = try await b.job(id: id)?.leaseOwner
        XCTAssertEqual(holder, "worker-a")
        let taken = try await b.lease(owner: "worker-b", leaseSeconds: 30, now: t0.addingTimeInterval(30))
        XCTAssertEqual(taken?.id, id)
        XCTAssertEqual(taken?.attempts, 2)
        XCTAssertEqual(taken?.leaseOwner, "worker-b")
        // Worker A restarted under its old name cannot write the result of the lease it lost.
        let restarted = try await open()
        await expectError({ () async throws(JobStoreError) in
            try await restarted.complete(id: id, owner: "worker-a", result: "{}", now: t0.addingTimeInterval(31))
        }) { error in
            guard case .leaseLost(_, id, "worker-a", .leased, "worker-b"?) = error else { return XCTFail("\(error)") }
        }
        let done = try await b.complete(id: id, owner: "worker-b", result: #"{"decision":"patent"}"#, now: t0.addingTimeInterval(40))
        XCTAssertEqual(done.state, .done)
        XCTAssertEqual(done.attempts, 2)
    }

    /// A job row locked by another transaction (a worker in the middle of taking it) is skipped, not
    /// waited for: the lease returns the next job at once.
    func testLeaseSkipsRowsLockedByAnotherTransaction() async throws {
        let store = try await open()
        let first = try await store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        let second = try await store.enqueue(key: key(2), series: series(2), payload: "{}", now: t0.addingTimeInterval(1)).id
        let holder = try server.psqlInBackground(
            "BEGIN; SELECT id FROM job WHERE id = \(first) FOR UPDATE; SELECT pg_sleep(4); COMMIT;", database: database)
        defer { holder.waitUntilExit() }
        // Wait until the other session holds the row lock.
        var locked = false
        for _ in 0..<100 where !locked {
            let waiting = try server.psql("""
                SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND query LIKE '%pg_sleep%' AND state = 'active'
                  AND pid <> pg_backend_pid()
                """)
            locked = waiting.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
            if !locked { try await Task.sleep(for: .milliseconds(50)) }
        }
        XCTAssertTrue(locked, "the locking session did not start")
        let started = Date()
        let leased = try await store.lease(owner: "w", leaseSeconds: 60, now: t0.addingTimeInterval(2))
        let waited = Date().timeIntervalSince(started)
        XCTAssertEqual(leased?.id, second, "the locked oldest job is skipped")
        XCTAssertLessThan(waited, 2, "the lease waited for the other transaction's lock")
        let lockedJobState = try await store.job(id: first)?.state
        XCTAssertEqual(lockedJobState, .pending)
    }

    // MARK: Connection, password and errors

    func testOpeningFromURLWithPasswordFileAndWrongPasswordNeverShowsIt() async throws {
        let server = try self.server
        let secured = try server.createDatabase(prefix: "secured")
        try server.psql("ALTER DATABASE \(secured) OWNER TO \(Self.secureRole)")
        let url = server.url(database: secured, user: Self.secureRole)
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pgpass-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let passwordFile = folder.appendingPathComponent("password").path
        try "\(Self.securePassword)\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)

        // The password from the file (the URL has none): the store opens and works.
        let store = try await JobStoreLocation(parsing: url).open(retryPolicy: JobStoreContract.policy, passwordFile: passwordFile)
        opened.append(store)
        let id = try await store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        let jobState = try await store.job(id: id)?.state
        XCTAssertEqual(jobState, .pending)
        XCTAssertTrue(store is PostgresJobStore)

        // A wrong password in the URL wins over the file, fails with the server's words, and is never shown.
        let wrong = "wr0ng-Secret"
        let wrongURL = url.replacingOccurrences(of: "://\(Self.secureRole)@", with: "://\(Self.secureRole):\(wrong)@")
        let location = try JobStoreLocation(parsing: wrongURL)
        XCTAssertFalse("\(location)".contains(wrong))
        XCTAssertFalse(String(reflecting: location).contains(wrong))
        await expectError({ () async throws(JobStoreError) in
            try await location.open(retryPolicy: JobStoreContract.policy, passwordFile: passwordFile)
        }) { error in
            guard case .database = error else { return XCTFail("\(error)") }
            print("wrong password: \(error)")
            XCTAssertTrue(error.description.contains("password authentication failed"), error.description)
            XCTAssertTrue(error.description.contains("postgres://\(Self.secureRole)@"), error.description)
            XCTAssertFalse(error.description.contains(wrong), error.description)
            XCTAssertFalse(error.description.contains(Self.securePassword), error.description)
        }
        // No password anywhere: the server asks for one.
        await expectError({ () async throws(JobStoreError) in
            try await JobStoreLocation(parsing: url).open(retryPolicy: JobStoreContract.policy, passwordFile: nil)
        }) { error in
            guard case .database = error else { return XCTFail("\(error)") }
            XCTAssertTrue(error.description.contains("password"), error.description)
        }
    }

    func testMissingDatabaseAndClosedPortAreDatabaseErrorsNamingTheLocation() async throws {
        let server = try self.server
        let missing = try JobStoreLocation(parsing: server.url(database: "no_such_queue"))
        await expectError({ () async throws(JobStoreError) in try await missing.open(passwordFile: nil) }) { error in
            guard case .database = error else { return XCTFail("\(error)") }
            print("missing database: \(error)")
            XCTAssertTrue(error.description.contains(#"database "no_such_queue" does not exist"#), error.description)
            XCTAssertTrue(error.description.contains("no_such_queue"), error.description)
        }
        // A port nothing listens on: refused at once, not retried in the background.
        let closedPort = try JobStoreLocation(parsing: "postgres://postgres@127.0.0.1:1/queue?sslmode=disable")
        let started = Date()
        await expectError({ () async throws(JobStoreError) in try await closedPort.open(passwordFile: nil) }) { error in
            guard case .database = error else { return XCTFail("\(error)") }
            print("closed port: \(error)")
            XCTAssertTrue(error.description.contains("postgres://postgres@127.0.0.1:1/queue"), error.description)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    // MARK: Helpers

    private func key(_ n: Int) -> JobKey {
        JobKey.make(seriesUIDHash: series(n).rawValue, instanceSetHash: "set", modelFingerprint: "model",
                    adapterFingerprint: nil, profileHash: "profile")
    }

    private func series(_ n: Int) -> SeriesKey { SeriesKey.hashing(uid: "1.2.3.\(n)") }
}

/// Stores a test opened, closed in tearDown (their pools would otherwise keep connections open).
private final class StoreList: @unchecked Sendable {
    private let lock = NSLock()
    private var stores: [any JobStore] = []

    func append(_ store: any JobStore) { lock.withLock { stores.append(store) } }
    var all: [any JobStore] { lock.withLock { stores } }
}
