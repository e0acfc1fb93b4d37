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

    func testEnqueueIsIdempotentAndFileIsWAL() throws {
        let store = try open()
        XCTAssertEqual(try store.journalMode(), "wal")
        let first = try store.enqueue(key: key(1), series: series(1), payload: #"{"spool":"a"}"#, now: t0)
        guard case .created(let id) = first else { return XCTFail("expected a new job, got \(first)") }
        XCTAssertEqual(try store.enqueue(key: key(1), series: series(1), payload: #"{"spool":"b"}"#, now: t0), .duplicate(id))
        XCTAssertEqual(try store.counts()[.pending], 1)
        let job = try XCTUnwrap(try store.job(id: id))
        XCTAssertEqual(job.payload, #"{"spool":"a"}"#)
        XCTAssertEqual(job.version, 1)
        XCTAssertTrue(job.isCurrent)
        XCTAssertEqual(job.maxAttempts, 3)
    }

    func testLeaseIsExclusiveAcrossTwoStoresOnOneFile() throws {
        let a = try open(), b = try open()
        _ = try a.enqueue(key: key(1), series: series(1), payload: "{}", now: t0)
        let leased = try XCTUnwrap(try a.lease(owner: "worker-a", leaseSeconds: 60, now: t0))
        XCTAssertEqual(leased.state, .leased)
        XCTAssertEqual(leased.leaseOwner, "worker-a")
        XCTAssertEqual(leased.attempts, 1)
        XCTAssertNil(try b.lease(owner: "worker-b", leaseSeconds: 60, now: t0.addingTimeInterval(59)))
        XCTAssertEqual(try b.job(id: leased.id)?.leaseOwner, "worker-a")
    }

    func testExpiredLeaseIsTakenOverAndStolenLeaseRefusesCompletion() throws {
        let a = try open(), b = try open()
        let id = try a.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        _ = try XCTUnwrap(try a.lease(owner: "a", leaseSeconds: 30, now: t0))
        // A heartbeat moves the expiry: at t0+40 the lease still holds.
        let beat = try a.heartbeat(id: id, owner: "a", leaseSeconds: 30, now: t0.addingTimeInterval(20))
        XCTAssertEqual(beat.leaseExpiresAt, t0.addingTimeInterval(50))
        XCTAssertNil(try b.lease(owner: "b", leaseSeconds: 30, now: t0.addingTimeInterval(40)))
        // After the expiry another worker takes it over.
        let taken = try XCTUnwrap(try b.lease(owner: "b", leaseSeconds: 30, now: t0.addingTimeInterval(51)))
        XCTAssertEqual(taken.id, id)
        XCTAssertEqual(taken.attempts, 2)
        XCTAssertThrowsError(try a.heartbeat(id: id, owner: "a", leaseSeconds: 30, now: t0.addingTimeInterval(52))) { error in
            guard case JobStoreError.leaseLost(_, id, "a", .leased, "b"?) = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains(self.dbPath), "\(error)")
        }
        XCTAssertThrowsError(try a.complete(id: id, owner: "a", result: "{}", now: t0.addingTimeInterval(52)))
        let done = try b.complete(id: id, owner: "b", result: #"{"decision":"patent"}"#, now: t0.addingTimeInterval(53))
        XCTAssertEqual(done.state, .done)
        XCTAssertEqual(done.result, #"{"decision":"patent"}"#)
        XCTAssertNil(done.leaseOwner)
        XCTAssertThrowsError(try b.complete(id: id, owner: "b", result: "{}", now: t0.addingTimeInterval(54)))
    }

    func testBackoffScheduleThenDeadLetterThenRetry() throws {
        let policy = RetryPolicy(maxAttempts: 4, baseDelay: 10, maxDelay: 25)
        XCTAssertEqual((1...5).map(policy.delay(afterAttempt:)), [10, 20, 25, 25, 25])
        let store = try open(policy)
        let id = try store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        var now = t0
        for (attempt, delay) in [(1, 10.0), (2, 20.0), (3, 25.0)] {
            let job = try XCTUnwrap(try store.lease(owner: "w", leaseSeconds: 60, now: now))
            XCTAssertEqual(job.attempts, attempt)
            let failed = try store.fail(id: id, owner: "w", error: "download failed \(attempt)", now: now)
            XCTAssertEqual(failed.state, .failedRetrying)
            XCTAssertEqual(failed.nextAttemptAt, now.addingTimeInterval(delay))
            XCTAssertNil(try store.lease(owner: "w", leaseSeconds: 60, now: now.addingTimeInterval(delay - 1)))
            now = now.addingTimeInterval(delay)
        }
        _ = try XCTUnwrap(try store.lease(owner: "w", leaseSeconds: 60, now: now))
        let dead = try store.fail(id: id, owner: "w", error: "model refused", now: now)
        XCTAssertEqual(dead.state, .dead)
        XCTAssertEqual(dead.lastError, "model refused")
        XCTAssertEqual(dead.attempts, 4)
        XCTAssertNil(try store.lease(owner: "w", leaseSeconds: 60, now: now.addingTimeInterval(1e6)))
        let other = try store.enqueue(key: key(2), series: series(2), payload: "{}", now: now).id
        XCTAssertThrowsError(try store.retry(id: other)) { error in
            guard case JobStoreError.invalidState(_, _, "retry", .pending) = error else { return XCTFail("\(error)") }
        }
        _ = try store.skip(id: other, reason: "out of scope", now: now)
        let revived = try store.retry(id: id, now: now.addingTimeInterval(5))
        XCTAssertEqual(revived.state, .pending)
        XCTAssertEqual(revived.attempts, 0)
        XCTAssertEqual(try store.lease(owner: "w", leaseSeconds: 60, now: now.addingTimeInterval(5))?.id, id)
    }

    func testReleaseGivesTheJobBackWithoutCountingTheAttempt() throws {
        let store = try open()
        _ = try store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0)
        let leased = try XCTUnwrap(store.lease(owner: "w1", leaseSeconds: 60, now: t0))
        XCTAssertEqual(leased.attempts, 1)
        XCTAssertThrowsError(try store.release(id: leased.id, owner: "w2", now: t0))
        let released = try store.release(id: leased.id, owner: "w1", now: t0.addingTimeInterval(5))
        XCTAssertEqual(released.state, .pending)
        XCTAssertEqual(released.attempts, 0)
        XCTAssertNil(released.leaseOwner)
        let again = try XCTUnwrap(store.lease(owner: "w2", leaseSeconds: 60, now: t0.addingTimeInterval(5)))
        XCTAssertEqual(again.id, leased.id)
        XCTAssertEqual(again.attempts, 1)
    }

    func testLeaseLostOnEveryAttemptEndsDead() throws {
        let store = try open(RetryPolicy(maxAttempts: 2, baseDelay: 1, maxDelay: 1))
        let id = try store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        XCTAssertNotNil(try store.lease(owner: "a", leaseSeconds: 10, now: t0))
        XCTAssertNotNil(try store.lease(owner: "b", leaseSeconds: 10, now: t0.addingTimeInterval(11)))
        XCTAssertNil(try store.lease(owner: "c", leaseSeconds: 10, now: t0.addingTimeInterval(22)))
        let job = try XCTUnwrap(try store.job(id: id))
        XCTAssertEqual(job.state, .dead)
        XCTAssertNotNil(job.lastError)
    }

    func testNewVersionSupersedesPendingAndBecomesCurrent() throws {
        let store = try open()
        let v1 = try store.enqueue(key: key(1, instances: "a"), series: series(1), payload: "{}", now: t0).id
        // Version 1 finishes; its result stays.
        _ = try store.lease(owner: "w", leaseSeconds: 60, now: t0)
        _ = try store.complete(id: v1, owner: "w", result: #"{"v":1}"#, now: t0)
        let v2 = try store.enqueue(key: key(1, instances: "ab"), series: series(1), payload: "{}", now: t0.addingTimeInterval(1)).id
        let v3 = try store.enqueue(key: key(1, instances: "abc"), series: series(1), payload: "{}", now: t0.addingTimeInterval(2)).id
        let jobs = try [v1, v2, v3].map { try XCTUnwrap(try store.job(id: $0)) }
        XCTAssertEqual(jobs.map(\.version), [1, 2, 3])
        XCTAssertEqual(jobs.map(\.state), [.done, .superseded, .pending])
        XCTAssertEqual(jobs.map(\.isCurrent), [false, false, true])
        XCTAssertEqual(jobs[0].result, #"{"v":1}"#)
        XCTAssertEqual(try store.currentJob(series: series(1))?.id, v3)
        XCTAssertEqual(try store.lease(owner: "w", leaseSeconds: 60, now: t0.addingTimeInterval(3))?.id, v3)
        // A version arriving while the current one is leased: the leased one may finish, the new one is current.
        let v4 = try store.enqueue(key: key(1, instances: "abcd"), series: series(1), payload: "{}", now: t0.addingTimeInterval(4)).id
        let finished = try store.complete(id: v3, owner: "w", result: #"{"v":3}"#, now: t0.addingTimeInterval(5))
        XCTAssertEqual(finished.state, .done)
        XCTAssertFalse(finished.isCurrent)
        XCTAssertEqual(try store.currentJob(series: series(1))?.id, v4)
        XCTAssertEqual(try store.currentJob(series: series(1))?.version, 4)
    }

    func testBatchAndCursorAreAtomic() throws {
        let store = try open()
        let items = (1...3).map { EnqueueItem(key: key($0), series: series($0), payload: "{}") }
        let outcomes = try store.enqueueBatch(items, cursor: (name: "orthanc", value: "41"), now: t0)
        XCTAssertEqual(outcomes.map(\.id).count, 3)
        XCTAssertEqual(try store.cursor(name: "orthanc"), "41")
        // The third item fails after two were inserted in the transaction: nothing of the batch is kept.
        let broken = [EnqueueItem(key: key(4), series: series(4), payload: "{}"), EnqueueItem(key: key(5), series: series(5), payload: "{}"),
                      EnqueueItem(key: JobKey(rawValue: ""), series: series(6), payload: "{}")]
        XCTAssertThrowsError(try store.enqueueBatch(broken, cursor: (name: "orthanc", value: "57"), now: t0)) { error in
            guard case JobStoreError.invalidArgument = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try store.cursor(name: "orthanc"), "41")
        XCTAssertEqual(try store.list(state: nil, limit: 100).count, 3)
        XCTAssertNil(try store.currentJob(series: series(4)))
        try store.setCursor(name: "orthanc", value: "60", now: t0)
        XCTAssertEqual(try store.cursor(name: "orthanc"), "60")
    }

    func testCountsListSkipAndPurge() throws {
        let store = try open()
        let ids = try (1...5).map { try store.enqueue(key: key($0), series: series($0), payload: "{}", now: t0.addingTimeInterval(Double($0))).id }
        _ = try store.skip(id: ids[0], reason: "pediatric: not validated", now: t0)
        let leased = try XCTUnwrap(try store.lease(owner: "w", leaseSeconds: 60, now: t0.addingTimeInterval(10)))
        XCTAssertEqual(leased.id, ids[1], "the oldest ready job first")
        _ = try store.complete(id: leased.id, owner: "w", result: "{}", now: t0.addingTimeInterval(10))
        XCTAssertThrowsError(try store.skip(id: ids[1], reason: "late", now: t0))
        let counts = try store.counts()
        XCTAssertEqual(counts[.pending], 3)
        XCTAssertEqual(counts[.done], 1)
        XCTAssertEqual(counts[.skipped], 1)
        XCTAssertEqual(counts[.dead], 0)
        XCTAssertEqual(counts.count, JobState.allCases.count)
        XCTAssertEqual(try store.list(state: .pending, limit: 2).map(\.id), [ids[4], ids[3]])
        XCTAssertEqual(try store.list(state: .skipped, limit: 10).first?.skipReason, "pediatric: not validated")
        XCTAssertThrowsError(try store.purge(olderThan: t0.addingTimeInterval(100), states: [.pending]))
        XCTAssertEqual(try store.purge(olderThan: t0.addingTimeInterval(5), states: [.done, .skipped]), 1)
        XCTAssertEqual(try store.purge(olderThan: t0.addingTimeInterval(11), states: [.done, .skipped]), 1)
        XCTAssertNil(try store.job(id: ids[1]))
        XCTAssertNil(try store.currentJob(series: series(2)))
        XCTAssertThrowsError(try store.skip(id: 999, reason: "x", now: t0)) { error in
            guard case JobStoreError.notFound(_, 999) = error else { return XCTFail("\(error)") }
        }
    }

    func testReopenKeepsJobsAndMigrationsRunOnce() throws {
        var store: SQLiteJobStore? = try open()
        let id = try XCTUnwrap(store).enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        _ = try XCTUnwrap(store).lease(owner: "w", leaseSeconds: 60, now: t0)
        _ = try XCTUnwrap(store).complete(id: id, owner: "w", result: #"{"ok":true}"#, now: t0)
        try XCTUnwrap(store).setCursor(name: "c", value: "7", now: t0)
        let migrations = try XCTUnwrap(store).appliedMigrations()
        try XCTUnwrap(store).close()
        XCTAssertThrowsError(try XCTUnwrap(store).counts()) { error in
            guard case JobStoreError.database = error else { return XCTFail("\(error)") }
        }
        store = nil
        let reopened = try open()
        XCTAssertEqual(try reopened.appliedMigrations(), migrations)
        XCTAssertEqual(migrations, ["v1-jobs"])
        XCTAssertEqual(try reopened.job(id: id)?.result, #"{"ok":true}"#)
        XCTAssertEqual(try reopened.cursor(name: "c"), "7")
        XCTAssertEqual(try reopened.enqueue(key: key(1), series: series(1), payload: "{}", now: t0), .duplicate(id))
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

    func testStoreIsUsableThroughTheProtocol() async throws {
        let store: any JobStore = try open()
        let outcome = try await store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0)
        let job = try await store.lease(owner: "w", leaseSeconds: 10, now: t0)
        XCTAssertEqual(job?.id, outcome.id)
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
