import Foundation
import XCTest
@testable import WorkerQueue

/// The review tables of the SQLite store on a real file: the shared `ReviewStoreContract`, the upgrade
/// from a jobs-only file, the query plans of the worklist, and timings on 100 000 cases and 20 000 verdicts.
final class SQLiteReviewStoreTests: XCTestCase {
    private var folder: URL = FileManager.default.temporaryDirectory
    private let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("SQLiteReviewStoreTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private var dbPath: String { folder.appendingPathComponent("worker.sqlite").path }

    private var contract: ReviewStoreContract {
        let path = dbPath
        return ReviewStoreContract(
            open: { try SQLiteJobStore(path: path, clock: { Date(timeIntervalSince1970: 1_700_000_000) }) },
            rawSQL: { sql in try SQLiteJobStore(path: path).executeUnchecked(sql) })
    }

    func testUsersAreUniqueCanBeDisabledAndChangePassword() async throws { try await contract.usersAreUniqueCanBeDisabledAndChangePassword() }
    func testSessionsExpireAndAreDeletedAndPurged() async throws { try await contract.sessionsExpireAndAreDeletedAndPurged() }
    func testRecordCaseIsIdempotentAndRoundTrips() async throws { try await contract.recordCaseIsIdempotentAndRoundTrips() }
    func testWorklistOrderAndEveryFilter() async throws { try await contract.worklistOrderAndEveryFilter() }
    func testCountsAndDisagreements() async throws { try await contract.countsAndDisagreements() }
    func testVerdictsAndAuditEventsAreAppendOnly() async throws { try await contract.verdictsAndAuditEventsAreAppendOnly() }
    func testBulkImportWritesVerdictsAuditAndSummaries() async throws { try await contract.bulkImportWritesVerdictsAuditAndSummaries() }
    func testCasesAndVerdictsByTimeRange() async throws { try await contract.casesAndVerdictsByTimeRange() }
    func testAlertsDedupeResolveAndAcknowledge() async throws { try await contract.alertsDedupeResolveAndAcknowledge() }

    func testUpgradeFromJobsOnlyFileAppliesReviewMigrationOnce() async throws {
        let old = try SQLiteJobStore(path: dbPath, retryPolicy: RetryPolicy(), busyTimeout: 10, clock: { Date(timeIntervalSince1970: 1_700_000_000) },
                                     migratingUpTo: "v1-jobs")
        XCTAssertEqual(try old.appliedMigrations(), ["v1-jobs"])
        var ids: [Int64] = []
        for n in 1...3 {
            let key = JobKey.make(seriesUIDHash: SeriesKey.hashing(uid: "1.2.3.\(n)").rawValue, instanceSetHash: "set",
                                  modelFingerprint: "m", adapterFingerprint: nil, profileHash: "p")
            ids.append(try old.enqueue(key: key, series: SeriesKey.hashing(uid: "1.2.3.\(n)"), payload: "{}", now: t0).id)
        }
        try old.close()
        try await contract.upgradeFromJobsOnly(jobIDs: ids) { store in
            guard let store = store as? SQLiteJobStore else { throw JobStoreError.invalidArgument(location: "test", message: "not SQLite") }
            return try store.appliedMigrations()
        }
    }

    func testLocationOpensOneStoreForJobsAndReviews() async throws {
        let database = try await JobStoreLocation(parsing: "sqlite:\(dbPath)").open()
        let id = try await database.enqueue(key: JobKey(rawValue: "k"), series: SeriesKey(rawValue: "s"), payload: "{}", now: t0).id
        let recorded = try await database.recordCase(contract.sampleCase(id, decision: .blocked))
        XCTAssertTrue(recorded)
        let asJobs: any JobStore = database
        let job = try await asJobs.job(id: id)
        XCTAssertEqual(job?.state, .pending)
        try await database.close()
    }

    /// 100 000 cases and 20 000 verdicts: the worklist queries use an index for their order (no temporary
    /// B-tree sort, no full scan) and every page query stays far below a second.
    func testWorklistAndDashboardQueriesUseIndexesAndStayFastAt100000Cases() async throws {
        let store = try SQLiteJobStore(path: dbPath)
        let started = Date()
        try await contract.seedLarge(store, cases: 100_000, verdicts: 20_000)
        print(String(format: "SQLite: seeded 100000 cases and 20000 verdicts in %.1f s", Date().timeIntervalSince(started)))
        try store.executeUnchecked("ANALYZE")
        for filter in [WorklistFilter(state: .pending), WorklistFilter(state: .reviewed), WorklistFilter(state: .all),
                       WorklistFilter(state: .pending, decision: .blocked), WorklistFilter(state: .all, site: "north")] {
            let plan = try store.worklistQueryPlan(filter)
            print("SQLite plan \(filter.state) decision=\(filter.decision?.rawValue ?? "-") site=\(filter.site ?? "-"): \(plan.joined(separator: " | "))")
            XCTAssertFalse(plan.contains { $0.contains("TEMP B-TREE") }, "the worklist sorts in memory: \(plan)")
            XCTAssertFalse(plan.contains { $0.hasPrefix("SCAN cases") && !$0.contains("INDEX") }, "the worklist scans the table: \(plan)")
        }
        let countsPlan = try store.queryPlan(ReviewSQL.counts, values: [])
        print("SQLite plan counts: \(countsPlan.joined(separator: " | "))")
        XCTAssertFalse(countsPlan.contains { $0.hasPrefix("SCAN cases") && !$0.contains("INDEX") }, "\(countsPlan)")
        for column in [ReviewSQL.siteColumn] + ReviewSQL.scannerColumns {
            // The filter lists: a loose index scan (index searches), never a pass over the table or a whole index.
            let plan = try store.queryPlan(ReviewSQL.distinctValues(ofIndexed: column), values: [])
            print("SQLite plan facets \(column): \(plan.joined(separator: " | "))")
            XCTAssertFalse(plan.contains { $0.hasPrefix("SCAN cases") }, "the \(column) list scans cases: \(plan)")
            XCTAssertTrue(plan.contains { $0.hasPrefix("SEARCH cases") && $0.contains("INDEX") }, "\(plan)")
        }
        let range = ReviewSQL.range("decided_at", from: t0, to: t0.addingTimeInterval(86_400), dialect: .sqlite)
        let rangePlan = try store.queryPlan(ReviewSQL.caseSelect + range.sql + " ORDER BY decided_at, job_id", values: range.values)
        XCTAssertTrue(rangePlan.contains { $0.contains("cases_decided") }, "\(rangePlan)")
        try await contract.timeQueries(store, label: "SQLite")
    }
}
