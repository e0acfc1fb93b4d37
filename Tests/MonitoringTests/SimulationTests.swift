import Foundation
import Monitoring
import WorkerQueue
import XCTest

/// 120 days of traffic; on day 60 one scanner's sensitivity drops from 0.95 to 0.75. The monitor, run at the
/// end of every day with the default configuration, must alert for that scanner within `maxDelayDays`, never
/// for the other scanners or before the change, and never on a stable run of the same length.
final class SimulationTests: XCTestCase {
    static let changeDay = 60
    static let maxDelayDays = 45
    /// Groups whose cases never come from the changed scanner (Alpha 3 at North).
    static let unaffected: Set<String> = ["site=South", "manufacturer=Borealis", "manufacturer=Coro", "model=Beta 2", "model=Gamma 1",
                                          "software_version=VB20", "software_version=VC30"]
    static let changed: Set<String> = ["manufacturer=Acme", "model=Alpha 3", "software_version=VA10"]

    /// First day each (kind, group) condition held, evaluating at the end of each day.
    static func dailyAlerts(cases: [ReviewCase], verdicts: [VerdictRecord], reference: ReferenceDistribution,
                            days: Int) throws -> [String: Int] {
        var cfg = MonitoringConfiguration()
        cfg.windowDays = [cfg.alertWindowDays]
        cfg.lastVerdicts = 0
        cfg.includeCharts = false
        var first: [String: Int] = [:]
        var caseEnd = 0, verdictEnd = 0
        for d in 0..<days {
            let now = SimulatedTraffic.start.addingTimeInterval(Double(d + 1) * SimulatedTraffic.day)
            while caseEnd < cases.count && cases[caseEnd].decidedAt <= now { caseEnd += 1 }
            while verdictEnd < verdicts.count && verdicts[verdictEnd].recordedAt <= now { verdictEnd += 1 }
            let report = try Monitor.evaluate(cases: Array(cases[..<caseEnd]), verdicts: Array(verdicts[..<verdictEnd]),
                                              reference: reference, configuration: cfg, now: now)
            for c in report.conditions where first["\(c.kind) \(c.group)"] == nil { first["\(c.kind) \(c.group)"] = d }
        }
        return first
    }

    func testScannerSensitivityDropIsDetectedWithoutFalseAlarms() throws {
        var traffic = SimulatedTraffic()
        traffic.change = (scanner: 0, day: Self.changeDay, sensitivity: 0.75)
        let (cases, verdicts) = traffic.generate(seed: 18_060)
        let reference = traffic.reference(seed: 7)
        let started = Date()
        let first = try Self.dailyAlerts(cases: cases, verdicts: verdicts, reference: reference, days: traffic.days)

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

    func testStableRunRaisesNoAlert() throws {
        let traffic = SimulatedTraffic()
        let (cases, verdicts) = traffic.generate(seed: 18_061)
        let first = try Self.dailyAlerts(cases: cases, verdicts: verdicts, reference: traffic.reference(seed: 7), days: traffic.days)
        print("monitoring simulation (stable): \(cases.count) cases, \(verdicts.count) verdicts; false alarms: \(first.count) \(first)")
        XCTAssertTrue(first.isEmpty, "alerts on a stable run: \(first)")
    }
}
