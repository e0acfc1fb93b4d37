import Foundation
import TestSupport
import XCTest
@testable import WorkerQueue

/// The review tables of the PostgreSQL store on a private cluster (Debian's `postgresql`), a fresh database
/// per test: the shared `ReviewStoreContract` (direct SQL through psql as the superuser), the upgrade from a
/// jobs-only database, concurrent alert raises, and plans and timings on 100 000 cases and 20 000 verdicts.
final class PostgresReviewStoreTests: XCTestCase {
    nonisolated(unsafe) private static var server: PostgresServer?
    nonisolated(unsafe) private static var startFailure: String?

    private let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    private var database = ""
    private var opened = ReviewStoreList()

    override class func setUp() {
        super.setUp()
        do {
            server = try PostgresServer()
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
        database = try server.createDatabase(prefix: "review")
        opened = ReviewStoreList()
    }

    override func tearDown() async throws {
        for store in opened.all { try? await store.close() }
    }

    private var server: PostgresServer {
        get throws {
            guard let server = Self.server else {
                throw PostgresServer.Failure(description: "no PostgreSQL server for the tests: \(Self.startFailure ?? "not started")")
            }
            return server
        }
    }

    private func location() throws -> PostgresLocation {
        let parsed = try JobStoreLocation(parsing: try server.url(database: database))
        guard case .postgres(let location) = parsed else { throw PostgresServer.Failure(description: "not a postgres URL: \(parsed)") }
        return location
    }

    private func open() async throws -> PostgresJobStore {
        let store = try await PostgresJobStore(location: try location(), maximumConnections: 4,
                                               clock: { Date(timeIntervalSince1970: 1_700_000_000) })
        opened.append(store)
        return store
    }

    private var contract: ReviewStoreContract {
        get throws {
            let location = try self.location()
            let opened = self.opened
            let server = try self.server
            let database = self.database
            return ReviewStoreContract(
                open: {
                    let store = try await PostgresJobStore(location: location, maximumConnections: 4,
                                                           clock: { Date(timeIntervalSince1970: 1_700_000_000) })
                    opened.append(store)
                    return store
                },
                rawSQL: { sql in try server.psql(sql, database: database) })
        }
    }

    func testUsersAreUniqueCanBeDisabledAndChangePassword() async throws { try await contract.usersAreUniqueCanBeDisabledAndChangePassword() }
    func testSessionsExpireAndAreDeletedAndPurged() async throws { try await contract.sessionsExpireAndAreDeletedAndPurged() }
    func testRecordCaseIsIdempotentAndRoundTrips() async throws { try await contract.recordCaseIsIdempotentAndRoundTrips() }
    func testWorklistOrderAndEveryFilter() async throws { try await contract.worklistOrderAndEveryFilter() }
    func testCountsAndDisagreements() async throws { try await contract.countsAndDisagreements() }
    func testVerdictsAndAuditEventsAreAppendOnly() async throws {
        try await contract.verdictsAndAuditEventsAreAppendOnly()
        // TRUNCATE would bypass row triggers: statement triggers refuse it too.
        for table in ["verdicts", "audit_events"] {
            XCTAssertThrowsError(try server.psql("TRUNCATE \(table) CASCADE", database: database)) { error in
                XCTAssertTrue("\(error)".contains("append-only"), "\(error)")
            }
        }
    }
    func testBulkImportWritesVerdictsAuditAndSummaries() async throws { try await contract.bulkImportWritesVerdictsAuditAndSummaries() }
    func testCasesAndVerdictsByTimeRange() async throws { try await contract.casesAndVerdictsByTimeRange() }
    func testAlertsDedupeResolveAndAcknowledge() async throws { try await contract.alertsDedupeResolveAndAcknowledge() }

    func testUpgradeFromJobsOnlyDatabaseAppliesReviewMigrationOnce() async throws {
        let old = try await PostgresJobStore(location: try location(), password: nil, retryPolicy: RetryPolicy(), maximumConnections: 2,
                                             connectTimeout: 10, clock: { Date(timeIntervalSince1970: 1_700_000_000) },
                                             logger: .init(label: "test"), migratingUpTo: "v1-jobs")
        let before = try await old.appliedMigrations()
        XCTAssertEqual(before, ["v1-jobs"])
        var ids: [Int64] = []
        for n in 1...3 {
            let key = JobKey.make(seriesUIDHash: SeriesKey.hashing(uid: "1.2.3.\(n)").rawValue, instanceSetHash: "set",
                                  modelFingerprint: "m", adapterFingerprint: nil, profileHash: "p")
            ids.append(try await old.enqueue(key: key, series: SeriesKey.hashing(uid: "1.2.3.\(n)"), payload: "{}", now: t0).id)
        }
        await old.close()
        try await contract.upgradeFromJobsOnly(jobIDs: ids) { store in
            guard let store = store as? PostgresJobStore else { throw JobStoreError.invalidArgument(location: "test", message: "not PostgreSQL") }
            return try await store.appliedMigrations()
        }
        let rows = try server.psql("SELECT position, name FROM schema_migrations ORDER BY position", database: database)
        XCTAssertEqual(rows.trimmingCharacters(in: .whitespacesAndNewlines), "1|v1-jobs\n2|v2-review")
    }

    /// Two monitors (two pools) raise the same alert sixteen times at once: one alert exists, one raise
    /// reported it new, and its one `alert_opened` audit event.
    func testConcurrentRaisesOfOneAlertMakeOneAlert() async throws {
        let a = try await open(), b = try await open()
        let outcomes = try await withThrowingTaskGroup(of: (Int64, Bool).self) { group in
            for index in 0..<16 {
                let store = index % 2 == 0 ? a : b
                let t0 = self.t0
                group.addTask {
                    let (alert, isNew) = try await store.raiseAlert(kind: "psi_p_blocked", scope: "manufacturer=GE", message: "PSI \(index)",
                                                                    value: 0.3, limit: 0.25, now: t0.addingTimeInterval(Double(index)))
                    return (alert.id, isNew)
                }
            }
            var all: [(Int64, Bool)] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        XCTAssertEqual(Set(outcomes.map(\.0)).count, 1, "every raise names the same alert")
        XCTAssertEqual(outcomes.filter(\.1).count, 1, "exactly one raise opened it")
        let count = try server.psql("SELECT count(*) FROM alerts", database: database)
        XCTAssertEqual(count.trimmingCharacters(in: .whitespacesAndNewlines), "1")
        let opened = try server.psql("SELECT count(*) FROM audit_events WHERE action = 'alert_opened'", database: database)
        XCTAssertEqual(opened.trimmingCharacters(in: .whitespacesAndNewlines), "1")
    }

    func testLocationOpensOneStoreForJobsAndReviews() async throws {
        let database = try await JobStoreLocation(parsing: try server.url(database: self.database)).open()
        opened.append(database)
        let id = try await database.enqueue(key: JobKey(rawValue: "k"), series: SeriesKey(rawValue: "s"), payload: "{}", now: t0).id
        let recorded = try await database.recordCase(try contract.sampleCase(id, decision: .blocked))
        XCTAssertTrue(recorded)
        XCTAssertTrue(database is PostgresJobStore)
    }

    /// 100 000 cases and 20 000 verdicts: the worklist queries are index scans (no sequential scan of
    /// `cases`) and every page query stays far below a second.
    func testWorklistAndDashboardQueriesUseIndexesAndStayFastAt100000Cases() async throws {
        let store = try await open()
        let contract = try self.contract
        let started = Date()
        try await contract.seedLarge(store, cases: 100_000, verdicts: 20_000)
        print(String(format: "PostgreSQL: seeded 100000 cases and 20000 verdicts in %.1f s", Date().timeIntervalSince(started)))
        try server.psql("ANALYZE", database: database)
        for filter in [WorklistFilter(state: .pending), WorklistFilter(state: .reviewed), WorklistFilter(state: .all),
                       WorklistFilter(state: .pending, decision: .blocked), WorklistFilter(state: .all, site: "north")] {
            let plan = try await store.worklistQueryPlan(filter)
            print("PostgreSQL plan \(filter.state) decision=\(filter.decision?.rawValue ?? "-") site=\(filter.site ?? "-"): \(plan.joined(separator: " | "))")
            XCTAssertFalse(plan.contains { $0.contains("Seq Scan on cases") }, "the worklist scans the table: \(plan)")
        }
        let countsPlan = try await store.queryPlan(ReviewSQL.counts, values: [])
        print("PostgreSQL plan counts: \(countsPlan.joined(separator: " | "))")
        XCTAssertFalse(countsPlan.contains { $0.contains("Seq Scan on cases") }, "\(countsPlan)")
        for column in [ReviewSQL.siteColumn] + ReviewSQL.scannerColumns {
            // The filter lists: a loose index scan (one index probe per distinct value), never a pass over cases.
            let plan = try await store.queryPlan(ReviewSQL.distinctValues(ofIndexed: column), values: [])
            print("PostgreSQL plan facets \(column): \(plan.joined(separator: " | "))")
            XCTAssertFalse(plan.contains { $0.contains("Seq Scan on cases") }, "the \(column) list scans cases: \(plan)")
            XCTAssertTrue(plan.contains { $0.contains("Index Only Scan") || $0.contains("Index Scan") }, "\(plan)")
        }
        try await contract.timeQueries(store, label: "PostgreSQL")
    }
}

/// Stores a test opened, closed in tearDown (their pools would otherwise keep connections open).
private final class ReviewStoreList: @unchecked Sendable {
    private let lock = NSLock()
    private var stores: [any WorkerDatabase] = []

    func append(_ store: any WorkerDatabase) { lock.withLock { stores.append(store) } }
    var all: [any WorkerDatabase] { lock.withLock { stores } }
}
