import Foundation
import XCTest
@testable import WorkerQueue

/// The SQLite job queue on real files in a temporary folder, with explicit times.
final class WorkerQueueTests: XCTestCase {
    private var folder: URL = FileManager.default.temporaryDirectory
    private let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("WorkerQueueTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private var dbPath: String { folder.appendingPathComponent("queue.sqlite").path }

    private func open(_ policy: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: 10, maxDelay: 25)) throws -> SQLiteJobStore {
        try SQLiteJobStore(path: dbPath, retryPolicy: policy, clock: { Date(timeIntervalSince1970: 1_700_000_000) })
    }

    private func key(_ n: Int, instances: String = "set") -> JobKey {
        JobKey.make(seriesUIDHash: SeriesKey.hashing(uid: "1.2.3.\(n)").rawValue, instanceSetHash: instances,
                    modelFingerprint: "model", adapterFingerprint: "adapter", profileHash: "profile")
    }

    private func series(_ n: Int) -> SeriesKey { SeriesKey.hashing(uid: "1.2.3.\(n)") }

    func testJobKeyIsStableAndSeparatesParts() {
        let a = JobKey.make(seriesUIDHash: "s", instanceSetHash: "i", modelFingerprint: "m", adapterFingerprint: nil, profileHash: "p")
        XCTAssertEqual(a, JobKey.make(seriesUIDHash: "s", instanceSetHash: "i", modelFingerprint: "m", adapterFingerprint: nil, profileHash: "p"))
        XCTAssertEqual(a.rawValue.count, 64)
        XCTAssertNotEqual(a, JobKey.make(seriesUIDHash: "s", instanceSetHash: "i", modelFingerprint: "m", adapterFingerprint: "", profileHash: "p"))
        XCTAssertNotEqual(JobKey.make(seriesUIDHash: "ab", instanceSetHash: "c", modelFingerprint: "m", adapterFingerprint: nil, profileHash: "p"),
                          JobKey.make(seriesUIDHash: "a", instanceSetHash: "bc", modelFingerprint: "m", adapterFingerprint: nil, profileHash: "p"))
        XCTAssertFalse(SeriesKey.hashing(uid: "1.2.3").rawValue.contains("1.2.3"))
    }

    /// The shared `JobStoreContract`, each store on the test's file with its own connection.
    private var contract: JobStoreContract {
        let path = dbPath
        return JobStoreContract(
            open: { policy in try SQLiteJobStore(path: path, retryPolicy: policy, clock: { Date(timeIntervalSince1970: 1_700_000_000) }) },
            location: path,
            migrations: { store in
                guard let store = store as? SQLiteJobStore else { throw JobStoreError.invalidArgument(location: path, message: "not SQLite") }
                return try store.appliedMigrations()
            })
    }

    func testFileIsInWALMode() throws {
        XCTAssertEqual(try open().journalMode(), "wal")
    }

    func testEnqueueIsIdempotent() async throws { try await contract.idempotentEnqueue() }
    func testLeaseIsExclusiveAcrossTwoStoresOnOneFile() async throws { try await contract.leaseIsExclusiveAcrossTwoStores() }
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
    func testTwoStoresOpeningAtOnceMigrateOnce() async throws { try await contract.twoStoresOpeningAtOnceMigrateOnce() }
    func testTwoStoresDrainingOneFileCompleteEachJobOnce() async throws {
        let byWorker = try await contract.concurrentWorkersCompleteEachJobOnce(jobs: 40, workers: 2)
        print("SQLite: jobs completed per worker: \(byWorker.map(\.count))")
    }

    func testUnopenableFileNamesThePath() {
        let path = folder.appendingPathComponent("missing/dir/queue.sqlite").path
        XCTAssertThrowsError(try SQLiteJobStore(path: path)) { error in
            guard case JobStoreError.database = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
    }

    func testConcurrentLeasersNeverDoubleLease() throws {
        let store = try open()
        let items = (0..<200).map { EnqueueItem(key: key($0), series: series($0), payload: "{}") }
        _ = try store.enqueueBatch(items, cursor: nil, now: t0)
        // Two threads share one store, two open their own connection to the file.
        let stores = [store, store, try open(), try open()]
        let leases = LeaseLog()
        let now = t0.addingTimeInterval(1)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            let owner = "worker-\(worker)"
            do {
                while let job = try stores[worker].lease(owner: owner, leaseSeconds: 600, now: now) {
                    leases.record(job.id)
                    _ = try stores[worker].complete(id: job.id, owner: owner, result: "{}", now: now)
                }
            } catch {
                leases.record(error: "\(error)")
            }
        }
        XCTAssertEqual(leases.errors, [])
        XCTAssertEqual(leases.ids.count, 200)
        XCTAssertEqual(Set(leases.ids).count, 200, "a job was leased twice")
        XCTAssertEqual(try store.counts()[.done], 200)
    }
}

/// Leased ids and errors collected from several threads.
private final class LeaseLog: @unchecked Sendable {
    private let lock = NSLock()
    private var leased: [Int64] = []
    private var failures: [String] = []

    func record(_ id: Int64) { lock.withLock { leased.append(id) } }
    func record(error: String) { lock.withLock { failures.append(error) } }
    var ids: [Int64] { lock.withLock { leased } }
    var errors: [String] { lock.withLock { failures } }
}
