import Foundation
import Monitoring
import Server
import Service
import WorkerQueue

/// The review pages' dashboard, fed by the worker's monitoring loop: headline tiles, the per-group table of
/// the first window, weekly sensitivity/specificity and review-rate charts, and the calibration table; the
/// exports are monitoring.json and the group CSV. A page never waits on an evaluation once a report exists:
/// a stale one is shown (with its time) while one evaluation refreshes it (`AlertMonitor.dashboardReport`).
struct MonitoringDashboard: DashboardSource {
    let monitor: AlertMonitor

    func report(now: Date) async throws -> MonitoringReport {
        try await monitor.dashboardReport(now: now)
    }

    func figures(now: Date) async throws -> DashboardFigures {
        let r = try await report(now: now)
        func pct(_ e: Estimate) -> String {
            guard let v = e.value else { return "–" }
            let ci = e.ci.map { c in c.count == 2 ? String(format: " (%.0f–%.0f %%)", c[0] * 100, c[1] * 100) : "" } ?? ""
            return String(format: "%.1f %%", v * 100) + ci
        }
        var tiles = [DashboardFigures.Tile(label: "cases", value: "\(r.groundTruth.cases)", detail: "\(r.groundTruth.triaged) triaged"),
                     DashboardFigures.Tile(label: "adjudicated", value: "\(r.groundTruth.adjudicated)",
                                           detail: "\(r.groundTruth.disagreements) disagreements")]
        var tables: [DashboardFigures.Table] = []
        if let key = r.windowOrder.first, let window = r.windows[key] {
            if let o = window.groups["overall"] {
                tiles.append(.init(label: "sensitivity (\(window.label))", value: pct(o.sensitivity), detail: "weighted " + pct(o.weighted.sensitivity)))
                tiles.append(.init(label: "specificity (\(window.label))", value: pct(o.specificity), detail: "weighted " + pct(o.weighted.specificity)))
                tiles.append(.init(label: "review rate (\(window.label))", value: pct(o.reviewRate)))
                tiles.append(.init(label: "PSI of P(blocked)", value: o.psi.map { String(format: "%.3f", $0) } ?? "–",
                                   detail: "alert above \(String(format: "%.2f", r.configuration.psiLimit))"))
            }
            let rows = window.groups.keys.sorted { ($0 == "overall" ? 0 : 1, $0) < ($1 == "overall" ? 0 : 1, $1) }.compactMap { name -> [String]? in
                guard let g = window.groups[name] else { return nil }
                return [name, "\(g.cases)", "\(g.adjudicated)", pct(g.sensitivity), pct(g.weighted.sensitivity), pct(g.specificity),
                        pct(g.weighted.specificity), pct(g.reviewRate), g.psi.map { String(format: "%.3f", $0) } ?? "–"]
            }
            tables.append(.init(title: "By site and scanner, \(window.label)",
                                columns: ["group", "cases", "adjudicated", "sensitivity", "weighted", "specificity", "weighted", "review rate", "PSI"],
                                rows: rows))
        }
        if !r.calibration.isEmpty {
            tables.append(.init(title: "Calibration on adjudicated cases", columns: ["P(blocked)", "cases", "mean P(blocked)", "observed blocked", "weighted"],
                                rows: r.calibration.map { b in
                                    [String(format: "%.1f–%.1f", b.low, b.high), "\(b.n)", b.meanPBlocked.map { String(format: "%.3f", $0) } ?? "–",
                                     pct(b.observed), pct(b.weighted)]
                                }))
        }
        func points(_ pick: (WeeklyPoint) -> Estimate) -> [DashboardFigures.Chart.Point] {
            r.series.compactMap { w in
                let e = pick(w)
                return e.value.map { DashboardFigures.Chart.Point(at: w.start, value: $0, low: e.ci?.first, high: e.ci?.last) }
            }
        }
        let charts = [
            DashboardFigures.Chart(title: "Weekly sensitivity and specificity (weighted)",
                                   series: [.init(name: "sensitivity", points: points(\.weightedSensitivity)),
                                            .init(name: "specificity", points: points(\.weightedSpecificity))],
                                   yRange: 0...1, referenceLine: r.configuration.sensitivityFloor, referenceLabel: "sensitivity floor"),
            DashboardFigures.Chart(title: "Weekly review rate", series: [.init(name: "review rate", points: points(\.reviewRate))], yRange: 0...1),
        ]
        return DashboardFigures(generatedAt: r.now, tiles: tiles, tables: tables, charts: charts)
    }

    func export(_ format: DashboardExportFormat, now: Date) async throws -> Data {
        let r = try await report(now: now)
        switch format {
        case .json: return try r.jsonData()
        case .csv: return Data(MonitoringCSV.groups(r).utf8)
        }
    }
}

/// A monitoring configuration file (clear errors naming it).
func loadMonitoringConfiguration(_ path: String) throws -> MonitoringConfiguration {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw WorkerConfigurationError.unreadable(path: path, reason: "cannot read the monitoring configuration")
    }
    do {
        // Strict: an unknown key is an error, not a silently ignored setting.
        return try MonitoringConfiguration.decode(data)
    } catch {
        throw WorkerConfigurationError.invalid(path: path, reason: "not a valid monitoring configuration: \(error)")
    }
}

/// A reference distribution file (clear errors naming it).
func loadReferenceDistribution(_ path: String) throws -> ReferenceDistribution {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw WorkerConfigurationError.unreadable(path: path, reason: "cannot read the reference distribution")
    }
    do {
        let r = try ReferenceDistribution.decode(data)
        try r.validate()
        return r
    } catch {
        throw WorkerConfigurationError.invalid(path: path, reason: "not a valid reference distribution: \(error)")
    }
}
