import Foundation
import Monitoring
import WorkerQueue
import XCTest

/// 120 days of traffic; on day 60 one scanner's sensitivity drops from 0.95 to 0.75. The traffic goes through
/// the worker's real database (a SQLite `SQLiteJobStore` in a temporary folder: bulk `recordCases` and
/// `importVerdicts`), and before each evaluation the monitor's input is read back with `cases(from:to:)` and
/// `verdicts(from:to:)`, as the service and `dsa-triage monitor` read it. The monitor, run with the default
/// configuration at the end of every week until day 50 and of every day from then on, must alert for that
/// scanner within `maxDelayDays`, never for the other scanners or before the change, and never on a stable
/// run of the same length.
final class SimulationTests: XCTestCase {
    static let changeDay = 60
    static let maxDelayDays = 45
    /// Evaluated every day from here on (weekly before, to keep the test short).
    static let dailyFrom = 50
    /// Groups whose cases never come from the changed scanner (Alpha 3 at North).
    static let unaffected: Set<String> = ["site=South", "manufacturer=Borealis", "manufacturer=Coro", "model=Beta 2", "model=Gamma 1",
                                          "software_version=VB20", "software_version=VC30"]
    static let changed: Set<String> = ["manufacturer=Acme", "model=Alpha 3", "software_version=VA10"]

    /// Writes the traffic into a fresh SQLite worker database (one reviewer account) and returns the store.
    static func database(cases: [ReviewCase], verdicts: [VerdictRecord]) async throws -> SQLiteJobStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dsa-monitoring-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = try SQLiteJobStore(path: dir.appendingPathComponent("worker.sqlite").path)
        let reviewer = try await store.addUser(name: "reviewer", role: .reviewer, passwordHash: "$2b$12$simulation-only",
                                               now: SimulatedTraffic.start.addingTimeInterval(-SimulatedTraffic.day))
        let recorded = try await store.recordCases(cases)
        XCTAssertEqual(recorded, cases.count)
        let imported = try await store.importVerdicts(verdicts.map {
            VerdictImport(caseJobID: $0.caseJobID, userID: reviewer.id, verdict: $0.verdict, comment: $0.comment, at: $0.recordedAt)
        })
        XCTAssertEqual(imported, verdicts.count)
        return store
    }

    /// First day each (kind, group) condition held, evaluating at the end of the evaluated days on what the
    /// database holds by then.
    static func dailyAlerts(cases: [ReviewCase], verdicts: [VerdictRecord], reference: ReferenceDistribution,
                            days: Int) async throws -> [String: Int] {
        var cfg = MonitoringConfiguration()
        cfg.windowDays = [cfg.alertWindowDays]
        cfg.lastVerdicts = 0
        cfg.includeCharts = false
        let store = try await database(cases: cases, verdicts: verdicts)
        var first: [String: Int] = [:]
        for d in 0..<days where d >= dailyFrom || d % 7 == 6 {
            let now = SimulatedTraffic.start.addingTimeInterval(Double(d + 1) * SimulatedTraffic.day)
            // The store's ranges are [from, to): the next representable time after `now` includes `now` itself.
            let to = Date(timeIntervalSinceReferenceDate: now.timeIntervalSinceReferenceDate.nextUp)
            let stored = try await store.cases(from: nil, to: to)
            let labels = try await store.verdicts(from: nil, to: to)
            XCTAssertEqual(stored.count, cases.count(where: { $0.decidedAt <= now }), "day \(d): cases read back")
            XCTAssertEqual(labels.count, verdicts.count(where: { $0.recordedAt <= now }), "day \(d): verdicts read back")
            let report = try Monitor.evaluate(cases: stored, verdicts: labels, reference: reference, configuration: cfg, now: now)
            for c in report.conditions where first["\(c.kind) \(c.group)"] == nil { first["\(c.kind) \(c.group)"] = d }
        }
        // What came back is what went in: decisions, groups, sampling probabilities and times.
        let all = try await store.cases(from: nil, to: nil)
        XCTAssertEqual(all.map(\.jobID), cases.map(\.jobID))
        for (a, b) in zip(all, cases) where a.decision != b.decision || a.samplingProbability != b.samplingProbability
            || a.manufacturerModel != b.manufacturerModel || abs(a.decidedAt.timeIntervalSince(b.decidedAt)) > 1e-3 || a.pBlocked != b.pBlocked {
            XCTFail("case \(b.jobID) changed on its way through the database")
            break
        }
        try await store.close()
        return first
    }

    func testScannerSensitivityDropIsDetectedWithoutFalseAlarms() async throws {
        var traffic = SimulatedTraffic()
        traffic.change = (scanner: 0, day: Self.changeDay, sensitivity: 0.75)
        let (cases, verdicts) = traffic.generate(seed: 18_060)
        let reference = traffic.reference(seed: 7)
        let started = Date()
        let first = try await Self.dailyAlerts(cases: cases, verdicts: verdicts, reference: reference, days: traffic.days)

        let early = first.filter { $0.value < Self.changeDay }
        let wrongGroup = first.filter { key, _ in Self.unaffected.contains { key.hasSuffix(" " + $0) } }
        let detections = first.filter { key, day in day >= Self.changeDay && Self.changed.contains { key.hasSuffix(" " + $0) } }
        let delay = detections.values.min().map { $0 - Self.changeDay }
        print("monitoring simulation (drop): \(cases.count) cases, \(verdicts.count) verdicts; detection delay \(delay.map { "\($0) days" } ?? "none"); "
              + "alerts: \(first.sorted { $0.value < $1.value }.map { "\($0.key) on day \($0.value)" }); "
              + "false alarms: \(early.count + wrongGroup.count); \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        XCTAssertTrue(early.isEmpty, "alerts before the change: \(early)")
        XCTAssertTrue(wrongGroup.isEmpty, "alerts for unaffected scanners: \(wrongGroup)")
        let d = try XCTUnwrap(delay, "no alert for the changed scanner")
        XCTAssertLessThanOrEqual(d, Self.maxDelayDays)
        XCTAssertNotNil(detections["cusum_false_negative model=Alpha 3"], "the false-negative CUSUM is the detector")
    }

    func testStableRunRaisesNoAlert() async throws {
        let traffic = SimulatedTraffic()
        let (cases, verdicts) = traffic.generate(seed: 18_061)
        let first = try await Self.dailyAlerts(cases: cases, verdicts: verdicts, reference: traffic.reference(seed: 7), days: traffic.days)
        print("monitoring simulation (stable): \(cases.count) cases, \(verdicts.count) verdicts; false alarms: \(first.count) \(first)")
        XCTAssertTrue(first.isEmpty, "alerts on a stable run: \(first)")
    }
}
