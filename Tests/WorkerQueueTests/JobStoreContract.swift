import Foundation
import XCTest
import WorkerQueue

/// The behaviours every `JobStore` shows, written once against the protocol and run on each store (SQLite
/// files in `WorkerQueueTests`, a private PostgreSQL cluster in `PostgresJobStoreTests`), with explicit times.
struct JobStoreContract: Sendable {
    /// Opens a new store (its own connection or pool, as another process would) on the test's database.
    let open: @Sendable (RetryPolicy) async throws -> any JobStore
    /// Text the store's errors must contain (the file path, the URL without password).
    let location: String
    /// The applied migrations, as the concrete store reports them.
    let migrations: @Sendable (any JobStore) async throws -> [String]

    let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    static let policy = RetryPolicy(maxAttempts: 3, baseDelay: 10, maxDelay: 25)

    func key(_ n: Int, instances: String = "set") -> JobKey {
        JobKey.make(seriesUIDHash: SeriesKey.hashing(uid: "1.2.3.\(n)").rawValue, instanceSetHash: instances,
                    modelFingerprint: "model", adapterFingerprint: "adapter", profileHash: "profile")
    }

    func series(_ n: Int) -> SeriesKey { SeriesKey.hashing(uid: "1.2.3.\(n)") }

    func idempotentEnqueue() async throws {
        let store = try await open(Self.policy)
        let first = try await store.enqueue(key: key(1), series: series(1), payload: #"{"spool":"a"}"#, now: t0)
        guard case .created(let id) = first else { return XCTFail("expected a new job, got \(first)") }
        let again = try await store.enqueue(key: key(1), series: series(1), payload: #"{"spool":"b"}"#, now: t0)
        XCTAssertEqual(again, .duplicate(id))
        let counts = try await store.counts()
        XCTAssertEqual(counts[.pending], 1)
        let job = try await store.job(id: id)
        XCTAssertEqual(job?.payload, #"{"spool":"a"}"#)
        XCTAssertEqual(job?.version, 1)
        XCTAssertEqual(job?.isCurrent, true)
        XCTAssertEqual(job?.maxAttempts, 3)
        XCTAssertEqual(job?.createdAt, t0)
    }

    func leaseIsExclusiveAcrossTwoStores() async throws {
        let a = try await open(Self.policy), b = try await open(Self.policy)
        _ = try await a.enqueue(key: key(1), series: series(1), payload: "{}", now: t0)
        let leased = try await a.lease(owner: "worker-a", leaseSeconds: 60, now: t0)
        XCTAssertEqual(leased?.state, .leased)
        XCTAssertEqual(leased?.leaseOwner, "worker-a")
        XCTAssertEqual(leased?.attempts, 1)
        XCTAssertEqual(leased?.leaseExpiresAt, t0.addingTimeInterval(60))
        let other = try await b.lease(owner: "worker-b", leaseSeconds: 60, now: t0.addingTimeInterval(59))
        XCTAssertNil(other)
        let seen = try await b.job(id: leased?.id ?? -1)
        XCTAssertEqual(seen?.leaseOwner, "worker-a")
    }

    func expiredLeaseIsTakenOverAndStolenLeaseRefusesCompletion() async throws {
        let a = try await open(Self.policy), b = try await open(Self.policy)
        let id = try await a.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        let firstLease = try await a.lease(owner: "a", leaseSeconds: 30, now: t0)
        XCTAssertNotNil(firstLease)
        // A heartbeat moves the expiry: at t0+40 the lease still holds.
        let beat = try await a.heartbeat(id: id, owner: "a", leaseSeconds: 30, now: t0.addingTimeInterval(20))
        XCTAssertEqual(beat.leaseExpiresAt, t0.addingTimeInterval(50))
        XCTAssertEqual(beat.heartbeatAt, t0.addingTimeInterval(20))
        let beforeExpiry = try await b.lease(owner: "b", leaseSeconds: 30, now: t0.addingTimeInterval(40))
        XCTAssertNil(beforeExpiry)
        // After the expiry another worker takes it over.
        let taken = try await b.lease(owner: "b", leaseSeconds: 30, now: t0.addingTimeInterval(51))
        XCTAssertEqual(taken?.id, id)
        XCTAssertEqual(taken?.attempts, 2)
        await expectError({ () async throws(JobStoreError) in
            try await a.heartbeat(id: id, owner: "a", leaseSeconds: 30, now: t0.addingTimeInterval(52))
        }) { error in
            guard case .leaseLost(_, id, "a", .leased, "b"?) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(error.description.contains(location), error.description)
        }
        await expectError({ () async throws(JobStoreError) in
            try await a.complete(id: id, owner: "a", result: "{}", now: t0.addingTimeInterval(52))
        })
        let done = try await b.complete(id: id, owner: "b", result: #"{"decision":"patent"}"#, now: t0.addingTimeInterval(53))
        XCTAssertEqual(done.state, .done)
        XCTAssertEqual(done.result, #"{"decision":"patent"}"#)
        XCTAssertNil(done.leaseOwner)
        XCTAssertEqual(done.finishedAt, t0.addingTimeInterval(53))
        await expectError({ () async throws(JobStoreError) in
            try await b.complete(id: id, owner: "b", result: "{}", now: t0.addingTimeInterval(54))
        }) { error in
            guard case .leaseLost(_, id, "b", .done, nil) = error else { return XCTFail("\(error)") }
        }
    }

    func backoffScheduleThenDeadLetterThenRetry() async throws {
        let policy = RetryPolicy(maxAttempts: 4, baseDelay: 10, maxDelay: 25)
        XCTAssertEqual((1...5).map(policy.delay(afterAttempt:)), [10, 20, 25, 25, 25])
        let store = try await open(policy)
        let id = try await store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        var now = t0
        for (attempt, delay) in [(1, 10.0), (2, 20.0), (3, 25.0)] {
            let job = try await store.lease(owner: "w", leaseSeconds: 60, now: now)
            XCTAssertEqual(job?.attempts, attempt)
            let failed = try await store.fail(id: id, owner: "w", error: "download failed \(attempt)", now: now)
            XCTAssertEqual(failed.state, .failedRetrying)
            XCTAssertEqual(failed.lastError, "download failed \(attempt)")
            XCTAssertEqual(failed.nextAttemptAt, now.addingTimeInterval(delay))
            let duringBackoff = try await store.lease(owner: "w", leaseSeconds: 60, now: now.addingTimeInterval(delay - 1))
            XCTAssertNil(duringBackoff)
            now = now.addingTimeInterval(delay)
        }
        let lastAttempt = try await store.lease(owner: "w", leaseSeconds: 60, now: now)
        XCTAssertNotNil(lastAttempt)
        let dead = try await store.fail(id: id, owner: "w", error: "model refused", now: now)
        XCTAssertEqual(dead.state, .dead)
        XCTAssertEqual(dead.lastError, "model refused")
        XCTAssertEqual(dead.attempts, 4)
        let afterDeath = try await store.lease(owner: "w", leaseSeconds: 60, now: now.addingTimeInterval(1e6))
        XCTAssertNil(afterDeath)
        let other = try await store.enqueue(key: key(2), series: series(2), payload: "{}", now: now).id
        await expectError({ () async throws(JobStoreError) in try await store.retry(id: other, now: nil) }) { error in
            guard case .invalidState(_, other, "retry", .pending) = error else { return XCTFail("\(error)") }
        }
        _ = try await store.skip(id: other, reason: "out of scope", now: now)
        let revived = try await store.retry(id: id, now: now.addingTimeInterval(5))
        XCTAssertEqual(revived.state, .pending)
        XCTAssertEqual(revived.attempts, 0)
        XCTAssertNil(revived.finishedAt)
        let revivedLease = try await store.lease(owner: "w", leaseSeconds: 60, now: now.addingTimeInterval(5))?.id
        XCTAssertEqual(revivedLease, id)
    }

    func releaseGivesTheJobBackWithoutCountingTheAttempt() async throws {
        let store = try await open(Self.policy)
        _ = try await store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0)
        guard let leased = try await store.lease(owner: "w1", leaseSeconds: 60, now: t0) else { return XCTFail("nothing leased") }
        XCTAssertEqual(leased.attempts, 1)
        await expectError({ () async throws(JobStoreError) in try await store.release(id: leased.id, owner: "w2", now: t0) }) { error in
            guard case .leaseLost(_, leased.id, "w2", .leased, "w1"?) = error else { return XCTFail("\(error)") }
        }
        let released = try await store.release(id: leased.id, owner: "w1", now: t0.addingTimeInterval(5))
        XCTAssertEqual(released.state, .pending)
        XCTAssertEqual(released.attempts, 0)
        XCTAssertNil(released.leaseOwner)
        XCTAssertEqual(released.nextAttemptAt, t0.addingTimeInterval(5))
        let again = try await store.lease(owner: "w2", leaseSeconds: 60, now: t0.addingTimeInterval(5))
        XCTAssertEqual(again?.id, leased.id)
        XCTAssertEqual(again?.attempts, 1)
    }

    func leaseLostOnEveryAttemptEndsDead() async throws {
        let store = try await open(RetryPolicy(maxAttempts: 2, baseDelay: 1, maxDelay: 1))
        let id = try await store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        let firstTry = try await store.lease(owner: "a", leaseSeconds: 10, now: t0)
        XCTAssertNotNil(firstTry)
        let secondTry = try await store.lease(owner: "b", leaseSeconds: 10, now: t0.addingTimeInterval(11))
        XCTAssertNotNil(secondTry)
        let thirdTry = try await store.lease(owner: "c", leaseSeconds: 10, now: t0.addingTimeInterval(22))
        XCTAssertNil(thirdTry)
        let job = try await store.job(id: id)
        XCTAssertEqual(job?.state, .dead)
        XCTAssertEqual(job?.lastError, "lease expired on the last attempt (worker lost 2 times)")
        XCTAssertNil(job?.leaseOwner)
    }

    func newVersionSupersedesPendingAndBecomesCurrent() async throws {
        let store = try await open(Self.policy)
        let v1 = try await store.enqueue(key: key(1, instances: "a"), series: series(1), payload: "{}", now: t0).id
        // Version 1 finishes; its result stays.
        _ = try await store.lease(owner: "w", leaseSeconds: 60, now: t0)
        _ = try await store.complete(id: v1, owner: "w", result: #"{"v":1}"#, now: t0)
        let v2 = try await store.enqueue(key: key(1, instances: "ab"), series: series(1), payload: "{}", now: t0.addingTimeInterval(1)).id
        let v3 = try await store.enqueue(key: key(1, instances: "abc"), series: series(1), payload: "{}", now: t0.addingTimeInterval(2)).id
        var jobs: [Job] = []
        for id in [v1, v2, v3] {
            guard let job = try await store.job(id: id) else { return XCTFail("job \(id) missing") }
            jobs.append(job)
        }
        XCTAssertEqual(jobs.map(\.version), [1, 2, 3])
        XCTAssertEqual(jobs.map(\.state), [.done, .superseded, .pending])
        XCTAssertEqual(jobs.map(\.isCurrent), [false, false, true])
        XCTAssertEqual(jobs[0].result, #"{"v":1}"#)
        XCTAssertEqual(jobs[1].finishedAt, t0.addingTimeInterval(2))
        let currentID = try await store.currentJob(series: series(1))?.id
        XCTAssertEqual(currentID, v3)
        let leasedID = try await store.lease(owner: "w", leaseSeconds: 60, now: t0.addingTimeInterval(3))?.id
        XCTAssertEqual(leasedID, v3)
        // A version arriving while the current one is leased: the leased one may finish, the new one is current.
        let v4 = try await store.enqueue(key: key(1, instances: "abcd"), series: series(1), payload: "{}", now: t0.addingTimeInterval(4)).id
        let finished = try await store.complete(id: v3, owner: "w", result: #"{"v":3}"#, now: t0.addingTimeInterval(5))
        XCTAssertEqual(finished.state, .done)
        XCTAssertFalse(finished.isCurrent)
        let current = try await store.currentJob(series: series(1))
        XCTAssertEqual(current?.id, v4)
        XCTAssertEqual(current?.version, 4)
        let unknownSeries = try await store.currentJob(series: series(99))
        XCTAssertNil(unknownSeries)
    }

    func batchAndCursorAreAtomic() async throws {
        let store = try await open(Self.policy)
        let items = (1...3).map { EnqueueItem(key: key($0), series: series($0), payload: "{}") }
            + [EnqueueItem(key: key(1), series: series(1), payload: "{}")]
        let outcomes = try await store.enqueueBatch(items, cursor: (name: "orthanc", value: "41"), now: t0)
        XCTAssertEqual(outcomes.count, 4)
        XCTAssertEqual(Set(outcomes.prefix(3).map(\.id)).count, 3)
        XCTAssertEqual(outcomes[3], .duplicate(outcomes[0].id), "a key twice in one batch is one job")
        let cursorAfterBatch = try await store.cursor(name: "orthanc")
        XCTAssertEqual(cursorAfterBatch, "41")
        // The third item fails after two were inserted in the transaction: nothing of the batch is kept.
        let broken = [EnqueueItem(key: key(4), series: series(4), payload: "{}"), EnqueueItem(key: key(5), series: series(5), payload: "{}"),
                      EnqueueItem(key: JobKey(rawValue: ""), series: series(6), payload: "{}")]
        await expectError({ () async throws(JobStoreError) in
            try await store.enqueueBatch(broken, cursor: (name: "orthanc", value: "57"), now: t0)
        }) { error in
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }
        let cursorAfterFailure = try await store.cursor(name: "orthanc")
        XCTAssertEqual(cursorAfterFailure, "41")
        let jobCount = try await store.list(state: nil, limit: 100).count
        XCTAssertEqual(jobCount, 3)
        let rolledBackSeries = try await store.currentJob(series: series(4))
        XCTAssertNil(rolledBackSeries)
        // The rolled-back series made no version: its first delivery is still version 1.
        let retried = try await store.enqueueBatch(Array(broken.prefix(2)), cursor: (name: "orthanc", value: "57"), now: t0)
        let retriedVersion = try await store.job(id: retried[0].id)?.version
        XCTAssertEqual(retriedVersion, 1)
        try await store.setCursor(name: "orthanc", value: "60", now: t0)
        let cursorSet = try await store.cursor(name: "orthanc")
        XCTAssertEqual(cursorSet, "60")
        let missingCursor = try await store.cursor(name: "inbox")
        XCTAssertNil(missingCursor)
        await expectError({ () async throws(JobStoreError) in try await store.setCursor(name: "", value: "1", now: t0) })
    }

    func countsListSkipAndPurge() async throws {
        let store = try await open(Self.policy)
        var ids: [Int64] = []
        for n in 1...5 { ids.append(try await store.enqueue(key: key(n), series: series(n), payload: "{}", now: t0.addingTimeInterval(Double(n))).id) }
        _ = try await store.skip(id: ids[0], reason: "pediatric: not validated", now: t0)
        let leased = try await store.lease(owner: "w", leaseSeconds: 60, now: t0.addingTimeInterval(10))
        XCTAssertEqual(leased?.id, ids[1], "the oldest ready job first")
        _ = try await store.complete(id: ids[1], owner: "w", result: "{}", now: t0.addingTimeInterval(10))
        await expectError({ () async throws(JobStoreError) in try await store.skip(id: ids[1], reason: "late", now: t0) }) { error in
            guard case .invalidState(_, ids[1], "skip", .done) = error else { return XCTFail("\(error)") }
        }
        let counts = try await store.counts()
        XCTAssertEqual(counts[.pending], 3)
        XCTAssertEqual(counts[.done], 1)
        XCTAssertEqual(counts[.skipped], 1)
        XCTAssertEqual(counts[.dead], 0)
        XCTAssertEqual(counts.count, JobState.allCases.count)
        let pendingIDs = try await store.list(state: .pending, limit: 2).map(\.id)
        XCTAssertEqual(pendingIDs, [ids[4], ids[3]])
        let skipReason = try await store.list(state: .skipped, limit: 10).first?.skipReason
        XCTAssertEqual(skipReason, "pediatric: not validated")
        let allIDs = try await store.list(state: nil, limit: 10).map(\.id)
        XCTAssertEqual(allIDs, ids.reversed())
        await expectError({ () async throws(JobStoreError) in try await store.list(state: nil, limit: -1) })
        await expectError({ () async throws(JobStoreError) in
            try await store.purge(olderThan: t0.addingTimeInterval(100), states: [.pending])
        }) { error in
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }
        let purgedFirst = try await store.purge(olderThan: t0.addingTimeInterval(5), states: [.done, .skipped])
        XCTAssertEqual(purgedFirst, 1)
        let purgedSecond = try await store.purge(olderThan: t0.addingTimeInterval(11), states: [.done, .skipped])
        XCTAssertEqual(purgedSecond, 1)
        let purgedJob = try await store.job(id: ids[1])
        XCTAssertNil(purgedJob)
        let purgedCurrent = try await store.currentJob(series: series(2))
        XCTAssertNil(purgedCurrent)
        // The purged series keeps its version count: a new delivery is version 2.
        let next = try await store.enqueue(key: key(2, instances: "more"), series: series(2), payload: "{}", now: t0.addingTimeInterval(12))
        let nextVersion = try await store.job(id: next.id)?.version
        XCTAssertEqual(nextVersion, 2)
        await expectError({ () async throws(JobStoreError) in try await store.skip(id: 999_999, reason: "x", now: t0) }) { error in
            guard case .notFound(_, 999_999) = error else { return XCTFail("\(error)") }
        }
    }

    func reopenKeepsJobsAndMigrationsRunOnce() async throws {
        let store = try await open(Self.policy)
        let id = try await store.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        _ = try await store.lease(owner: "w", leaseSeconds: 60, now: t0)
        _ = try await store.complete(id: id, owner: "w", result: #"{"ok":true}"#, now: t0)
        try await store.setCursor(name: "c", value: "7", now: t0)
        let applied = try await migrations(store)
        try await store.close()
        await expectError({ () async throws(JobStoreError) in try await store.counts() }) { error in
            guard case .database = error else { return XCTFail("\(error)") }
            XCTAssertTrue(error.description.contains(location), error.description)
        }
        let reopened = try await open(Self.policy)
        let reapplied = try await migrations(reopened)
        XCTAssertEqual(reapplied, applied)
        XCTAssertEqual(applied, ["v1-jobs", "v2-review"])
        let keptResult = try await reopened.job(id: id)?.result
        XCTAssertEqual(keptResult, #"{"ok":true}"#)
        let keptCursor = try await reopened.cursor(name: "c")
        XCTAssertEqual(keptCursor, "7")
        let redelivered = try await reopened.enqueue(key: key(1), series: series(1), payload: "{}", now: t0)
        XCTAssertEqual(redelivered, .duplicate(id))
    }

    func twoStoresOpeningAtOnceMigrateOnce() async throws {
        async let first = open(Self.policy)
        async let second = open(Self.policy)
        let (a, b) = try await (first, second)
        let appliedByA = try await migrations(a)
        XCTAssertEqual(appliedByA, ["v1-jobs", "v2-review"])
        let appliedByB = try await migrations(b)
        XCTAssertEqual(appliedByB, ["v1-jobs", "v2-review"])
        let id = try await a.enqueue(key: key(1), series: series(1), payload: "{}", now: t0).id
        let secondDelivery = try await b.enqueue(key: key(1), series: series(1), payload: "{}", now: t0)
        XCTAssertEqual(secondDelivery, .duplicate(id))
    }

    /// Two workers enqueue instance sets of one series at once (the same ten, and ten of their own each):
    /// every key is one job, the versions are 1…30 without a gap or a repeat, and only the newest is pending
    /// and current.
    func concurrentEnqueuesOfOneSeriesTakeTurns() async throws {
        let stores = [try await open(Self.policy), try await open(Self.policy)]
        let outcomes = try await withThrowingTaskGroup(of: [EnqueueOutcome].self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask {
                    var outcomes: [EnqueueOutcome] = []
                    for n in 0..<10 {
                        outcomes.append(try await store.enqueue(key: key(1, instances: "shared-\(n)"), series: series(1), payload: "{}", now: t0))
                        outcomes.append(try await store.enqueue(key: key(1, instances: "own-\(index)-\(n)"), series: series(1), payload: "{}", now: t0))
                    }
                    return outcomes
                }
            }
            var all: [EnqueueOutcome] = []
            for try await outcomes in group { all += outcomes }
            return all
        }
        let created = outcomes.filter { if case .created = $0 { return true } else { return false } }
        XCTAssertEqual(created.count, 30, "each key once")
        XCTAssertEqual(Set(outcomes.map(\.id)).count, 30)
        let jobs = try await stores[0].list(state: nil, limit: 100)
        XCTAssertEqual(jobs.map(\.version).sorted(), Array(1...30))
        XCTAssertEqual(jobs.filter { $0.state == .pending }.map(\.version), [30])
        XCTAssertEqual(jobs.filter { $0.state == .superseded }.count, 29)
        XCTAssertEqual(jobs.filter(\.isCurrent).map(\.version), [30])
        let current = try await stores[1].currentJob(series: series(1))
        XCTAssertEqual(current?.version, 30)
    }

    /// Workers (each with its own store) lease and complete until the queue is empty; returns the ids each
    /// one completed.
    func drain(jobs count: Int, workers: Int, work: Duration = .zero) async throws -> [[Int64]] {
        let stores = try await (0..<workers).asyncMap { _ in try await open(Self.policy) }
        let items = (0..<count).map { EnqueueItem(key: key($0), series: series($0), payload: #"{"n":\#($0)}"#) }
        _ = try await stores[0].enqueueBatch(items, cursor: nil, now: t0)
        let now = t0.addingTimeInterval(1)
        return try await withThrowingTaskGroup(of: (Int, [Int64]).self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask {
                    let owner = "worker-\(index)"
                    var done: [Int64] = []
                    while let job = try await store.lease(owner: owner, leaseSeconds: 600, now: now) {
                        if work > .zero { try await Task.sleep(for: work) }
                        let finished = try await store.complete(id: job.id, owner: owner, result: #"{"by":"\#(owner)"}"#, now: now)
                        XCTAssertEqual(finished.state, .done)
                        done.append(job.id)
                    }
                    return (index, done)
                }
            }
            var byWorker = Array(repeating: [Int64](), count: workers)
            for try await (index, done) in group { byWorker[index] = done }
            return byWorker
        }
    }

    /// Several stores drain one queue concurrently: every job completed once, by exactly one worker.
    func concurrentWorkersCompleteEachJobOnce(jobs count: Int, workers: Int, work: Duration = .zero) async throws -> [[Int64]] {
        let byWorker = try await drain(jobs: count, workers: workers, work: work)
        let all = byWorker.flatMap { $0 }
        XCTAssertEqual(all.count, count, "jobs completed")
        XCTAssertEqual(Set(all).count, count, "a job was completed twice")
        let store = try await open(Self.policy)
        let doneCount = try await store.counts()[.done]
        XCTAssertEqual(doneCount, count)
        for (index, ids) in byWorker.enumerated() {
            for id in ids {
                let job = try await store.job(id: id)
                XCTAssertEqual(job?.result, #"{"by":"worker-\#(index)"}"#, "job \(id) finished by another worker")
                XCTAssertEqual(job?.attempts, 1, "job \(id) was leased more than once")
            }
        }
        return byWorker
    }
}

/// Fails unless `body` throws a `JobStoreError`; `check` inspects it.
func expectError<T>(_ body: () async throws(JobStoreError) -> T, file: StaticString = #filePath, line: UInt = #line,
                    _ check: (JobStoreError) -> Void = { _ in }) async {
    do {
        let value = try await body()
        XCTFail("expected a JobStoreError, got \(value)", file: file, line: line)
    } catch {
        check(error)
    }
}

extension Sequence {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values: [T] = []
        for element in self { values.append(try await transform(element)) }
        return values
    }
}
