import Foundation
import Logging
import Monitoring
@testable import Service
import WorkerQueue
import XCTest

/// The dashboard's report: evaluations never overlap (a burst of callers shares one), a stale report is
/// returned at once while one evaluation refreshes it in the background, and an older report never replaces
/// a newer one.
final class DashboardReportTests: XCTestCase {
    private let t0 = Date(timeIntervalSince1970: 1_780_000_000)

    private func report(at now: Date) throws -> MonitoringReport {
        try Monitor.evaluate(cases: [], verdicts: [], reference: nil, now: now)
    }

    func testConcurrentCallersShareOneEvaluation() async throws {
        let gate = EvaluationGate()
        let counter = Counter()
        let made = try report(at: t0)
        let reports = try await withThrowingTaskGroup(of: Date.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await gate.run {
                        await counter.increment()
                        try await Task.sleep(nanoseconds: 300_000_000)
                        return made
                    }.now
                }
            }
            return try await group.reduce(into: [Date]()) { $0.append($1) }
        }
        XCTAssertEqual(reports.count, 8)
        let t0 = self.t0
        XCTAssertTrue(reports.allSatisfy { $0 == t0 })
        let evaluations = await counter.value
        // All eight arrive within microseconds of each other and the evaluation takes 300 ms.
        XCTAssertEqual(evaluations, 1, "a burst of callers costs one evaluation")
        let latest = await gate.latest()
        XCTAssertEqual(latest?.now, t0)
        // Once it is done, the next call evaluates again.
        _ = try await gate.run { await counter.increment(); return made }
        let after = await counter.value
        XCTAssertEqual(after, 2)
    }

    func testBackgroundRefreshDoesNotBlockAndNeverGoesBackInTime() async throws {
        let gate = EvaluationGate()
        _ = try await gate.run { [t0] in try Monitor.evaluate(cases: [], verdicts: [], reference: nil, now: t0) }
        let release = Latch()
        let later = try report(at: t0.addingTimeInterval(600))
        await gate.refreshInBackground {
            await release.wait()
            return later
        }
        // Returned at once; the old report stands until the evaluation ends.
        let during = await gate.latest()
        XCTAssertEqual(during?.now, t0)
        // A second refresh while one runs starts nothing (it would hang on the latch's second wait otherwise).
        let counter = Counter()
        await gate.refreshInBackground { await counter.increment(); return later }
        await release.open()
        let expected = t0.addingTimeInterval(600)
        let refreshed = try await poll { await gate.latest()?.now == expected }
        XCTAssertTrue(refreshed, "the background evaluation's report replaced the stale one")
        let started = await counter.value
        XCTAssertEqual(started, 0, "a refresh while one runs is not a second evaluation")

        // An evaluation as of an earlier time (a replay) returns its report but leaves the newer one shown.
        let earlier = try await gate.run { [t0] in try Monitor.evaluate(cases: [], verdicts: [], reference: nil, now: t0.addingTimeInterval(-60)) }
        XCTAssertEqual(earlier.now, t0.addingTimeInterval(-60))
        let shown = await gate.latest()
        XCTAssertEqual(shown?.now, t0.addingTimeInterval(600))
        // A failing refresh keeps the report.
        await gate.refreshInBackground { throw CancellationError() }
        try await Task.sleep(nanoseconds: 100_000_000)
        let kept = await gate.latest()
        XCTAssertEqual(kept?.now, t0.addingTimeInterval(600))
    }

    /// The monitor's dashboard report on a real SQLite store: fresh enough is returned as is; too old is
    /// returned at once (the page shows its time) and refreshed in the background as of the request's time.
    func testDashboardReportIsStaleWhileRevalidating() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("DashboardReportTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteJobStore(path: dir.appendingPathComponent("q.sqlite").path)
        let monitor = AlertMonitor(store: store, reference: nil, intervalSeconds: 60, webhook: nil, site: nil, http: nil,
                                   logger: Logger(label: "test"))
        XCTAssertEqual(monitor.dashboardMaximumAgeSeconds, 180)
        let first = try await monitor.dashboardReport(now: t0)
        XCTAssertEqual(first.now, t0, "before any report, the caller waits for one as of its time")
        let young = try await monitor.dashboardReport(now: t0.addingTimeInterval(100))
        XCTAssertEqual(young.now, t0)
        try await Task.sleep(nanoseconds: 300_000_000)
        let notRefreshed = await monitor.latestReport()
        XCTAssertEqual(notRefreshed?.now, t0, "a report younger than the limit is not re-evaluated")
        let stale = try await monitor.dashboardReport(now: t0.addingTimeInterval(200))
        XCTAssertEqual(stale.now, t0, "a stale report is returned at once")
        let expected = t0.addingTimeInterval(200)
        let refreshed = try await poll { await monitor.latestReport()?.now == expected }
        XCTAssertTrue(refreshed, "and refreshed in the background")
        let loopOff = AlertMonitor(store: store, reference: nil, intervalSeconds: 0, webhook: nil, site: nil, http: nil,
                                   logger: Logger(label: "test"))
        XCTAssertEqual(loopOff.dashboardMaximumAgeSeconds, 60)
        try await store.close()
    }

    private func poll(_ condition: @escaping @Sendable () async -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if await condition() { return true }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return false
    }
}

private actor Counter {
    private(set) var value = 0
    func increment() { value += 1 }
}

/// A one-shot gate: `wait` suspends until `open`.
private actor Latch {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func open() {
        isOpen = true
        waiters.forEach { $0.resume() }
        waiters = []
    }
}
