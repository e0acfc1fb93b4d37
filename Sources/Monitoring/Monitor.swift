import Evaluation
import Foundation
import WorkerQueue

/// The monitoring computation: pure, no database or network. The service and `dsa-triage monitor` read the
/// cases and verdicts from the worker's database and hand them here with a reference and a configuration.
public enum Monitor {
    /// The ground-truth rule, as written into monitoring.json.
    public static let groundTruthRule = "Each case's label is its latest verdict (by recording time) that is not non_diagnostic; "
        + "cases with only non_diagnostic verdicts have no label; cases with both patent and blocked verdicts count as disagreements."

    static let day = 86_400.0

    /// Figures, CUSUM charts, alert conditions and chart data as of `now`, from the cases decided since
    /// `since` (nil: all) and the verdicts recorded up to `now`. `storedAlerts` are joined into `alerts`.
    public static func evaluate(cases: [ReviewCase], verdicts: [VerdictRecord], reference: ReferenceDistribution?,
                                configuration cfg: MonitoringConfiguration = MonitoringConfiguration(), now: Date,
                                since: Date? = nil, storedAlerts: [AlertRecord] = []) throws(MonitoringError) -> MonitoringReport {
        try cfg.validate()
        try reference?.validate()
        let truth = GroundTruth(verdicts: verdicts, asOf: now)
        let selected = cases.filter { c in c.decidedAt <= now && (since.map { c.decidedAt >= $0 } ?? true) }
        var namer = GroupNamer(dimensions: cfg.dimensions)
        let rows = selected.map { MonitoredCase($0, truth: truth, groups: namer.groups(of: $0)) }
            .sorted { $0.decidedAt != $1.decidedAt ? $0.decidedAt < $1.decidedAt : $0.jobID < $1.jobID }
        let drift = reference.map { DriftReference($0, configuration: cfg) }

        var windows: [String: WindowFigures] = [:], order: [String] = []
        for d in cfg.windowDays {
            let key = "last_\(d)_days"
            guard windows[key] == nil else { continue }
            let from = now.addingTimeInterval(-Double(d) * day)
            windows[key] = WindowFigures(label: "last \(d) days", from: from, to: now,
                                         groups: figures(rows.filter { $0.decidedAt > from }, labelledJobs: nil, drift: drift))
            order.append(key)
        }
        if cfg.lastVerdicts > 0 {
            let key = "last_\(cfg.lastVerdicts)_verdicts"
            let inRange = Set(rows.map(\.jobID))
            let recent = verdicts.filter { $0.recordedAt <= now && inRange.contains($0.caseJobID) }
                .sorted { ($0.recordedAt, $0.id) > ($1.recordedAt, $1.id) }.prefix(cfg.lastVerdicts)
            let jobs = Set(recent.map(\.caseJobID))
            let from = rows.first { jobs.contains($0.jobID) }?.decidedAt
            let span = from.map { f in rows.filter { $0.decidedAt >= f } } ?? []
            windows[key] = WindowFigures(label: "last \(cfg.lastVerdicts) verdicts", from: from, to: now,
                                         groups: figures(span, labelledJobs: jobs, drift: drift))
            order.append(key)
        }

        let alertKey = "last_\(cfg.alertWindowDays)_days"
        let alertWindow: [String: GroupFigures]
        if let w = windows[alertKey] {
            alertWindow = w.groups
        } else {
            let from = now.addingTimeInterval(-Double(cfg.alertWindowDays) * day)
            alertWindow = figures(rows.filter { $0.decidedAt > from }, labelledJobs: nil, drift: drift)
        }

        let cusum = charts(rows, cfg)
        let conditions = AlertRules.conditions(window: alertWindow, windowDays: cfg.alertWindowDays, falseNegative: cusum.falseNegative,
                                               reviewRate: cusum.reviewRate, configuration: cfg)
        let triaged = rows.filter(\.triaged)
        let summary = GroundTruthSummary(rule: groundTruthRule, cases: rows.count, triaged: triaged.count,
                                         adjudicated: triaged.filter { $0.label != nil }.count,
                                         nonDiagnosticOnly: triaged.filter(\.nonDiagnosticOnly).count,
                                         disagreements: triaged.filter(\.disagreement).count)
        var report = MonitoringReport(now: now, since: since, referenceSource: reference?.source, configuration: cfg, groundTruth: summary,
                                      windows: windows, windowOrder: order, cusum: cusum, conditions: conditions,
                                      alerts: AlertRules.join(conditions, stored: storedAlerts, now: now),
                                      series: [], calibration: [], histogram: nil)
        if cfg.includeCharts {
            report.series = weekly(rows, now: now, weeks: cfg.weeks)
            let longest = cfg.windowDays.max().map { d in rows.filter { $0.decidedAt > now.addingTimeInterval(-Double(d) * day) } } ?? rows
            report.calibration = calibration(longest)
            let alertFrom = now.addingTimeInterval(-Double(cfg.alertWindowDays) * day)
            report.histogram = histogram(rows.filter { $0.decidedAt > alertFrom }, drift: drift, cfg)
        }
        return report
    }

    /// Per-group figures of the given cases; with `labelledJobs`, only those cases' labels count.
    static func figures(_ rows: [MonitoredCase], labelledJobs: Set<Int64>?, drift: DriftReference?) -> [String: GroupFigures] {
        var acc: [String: GroupAccumulator] = [:]
        for r in rows {
            let labelled = labelledJobs.map { $0.contains(r.jobID) } ?? true
            for g in r.groups { acc[g, default: GroupAccumulator()].add(r, labelled: labelled, collectDrift: drift != nil) }
        }
        return acc.mapValues { $0.figures(drift: drift) }
    }

    /// Both CUSUM charts per group, observations in decision order (ties by job id).
    static func charts(_ rows: [MonitoredCase], _ cfg: MonitoringConfiguration) -> CUSUMFigures {
        var fn: [String: CUSUMRunner] = [:], rv: [String: CUSUMRunner] = [:]
        for r in rows where r.triaged {
            for g in r.groups {
                rv[g, default: CUSUMRunner(chart: cfg.cusumReviewRate)].observe(r.decision == .manualReview, at: r.decidedAt)
                if r.label == true {
                    fn[g, default: CUSUMRunner(chart: cfg.cusumFalseNegative)].observe(r.decision == .patent, at: r.decidedAt)
                }
            }
        }
        return CUSUMFigures(falseNegative: fn.mapValues(\.state), reviewRate: rv.mapValues(\.state))
    }

    /// Overall figures per week, weeks ending at `now`, `now` − 7 days, …, from the first week with a case.
    static func weekly(_ rows: [MonitoredCase], now: Date, weeks: Int) -> [WeeklyPoint] {
        guard weeks > 0 else { return [] }
        var acc = [GroupAccumulator](repeating: GroupAccumulator(), count: weeks)
        let week = 7 * day
        for r in rows {
            let age = now.timeIntervalSince(r.decidedAt)
            // (end − 7 days, end]: a case exactly at `now` is in week 0.
            let k = age <= 0 ? 0 : Int((age / week).rounded(.up)) - 1
            guard k >= 0, k < weeks else { continue }
            acc[k].add(r, labelled: true, collectDrift: false)
        }
        let first = acc.lastIndex { $0.cases > 0 } ?? -1
        guard first >= 0 else { return [] }
        return (0...first).reversed().map { k in
            let f = acc[k].figures(drift: nil)
            let end = now.addingTimeInterval(-Double(k) * week)
            return WeeklyPoint(start: end.addingTimeInterval(-week), end: end, cases: f.cases, triaged: f.triaged,
                               sensitivity: f.sensitivity, specificity: f.specificity,
                               weightedSensitivity: f.weighted.sensitivity, weightedSpecificity: f.weighted.specificity,
                               reviewRate: f.reviewRate)
        }
    }

    /// Ten equal P(blocked) bins (Evaluation's `MetricEngine.bin`) of adjudicated triaged cases.
    static func calibration(_ rows: [MonitoredCase]) -> [CalibrationBin] {
        var n = [Int](repeating: 0, count: 10), pos = n, sumP = [Double](repeating: 0, count: 10)
        var w = sumP, wPos = sumP, w2 = sumP, wn = n
        for r in rows where r.triaged {
            guard let label = r.label, let p = r.pBlocked else { continue }
            let b = MetricEngine.bin(p)
            n[b] += 1
            sumP[b] += p
            if label { pos[b] += 1 }
            if let weight = r.weight {
                w[b] += weight
                w2[b] += weight * weight
                wn[b] += 1
                if label { wPos[b] += weight }
            }
        }
        return (0..<10).map { b in
            CalibrationBin(low: Double(b) / 10, high: Double(b + 1) / 10, n: n[b], meanPBlocked: n[b] > 0 ? sumP[b] / Double(n[b]) : nil,
                           observed: .proportion(successes: pos[b], n: n[b]),
                           weighted: .weighted(successWeight: wPos[b], totalWeight: w[b], sumOfSquares: w2[b], n: wn[b]))
        }
    }

    /// P(blocked) shares of the window's triaged cases in the PSI bins, beside the reference's.
    static func histogram(_ rows: [MonitoredCase], drift: DriftReference?, _ cfg: MonitoringConfiguration) -> PBlockedHistogram {
        let edges = drift?.pBlocked?.edges ?? PopulationStabilityIndex.uniformEdges(count: cfg.psiBins)
        let values = rows.compactMap(\.pBlocked)
        let counts = PopulationStabilityIndex.counts(values, edges: edges)
        func shares(_ c: [Int]) -> [Double] {
            let t = Double(c.reduce(0, +))
            return c.map { t > 0 ? Double($0) / t : 0 }
        }
        return PBlockedHistogram(edges: edges, counts: counts, shares: shares(counts),
                                 referenceShares: drift?.pBlocked.map { shares($0.referenceCounts) }, n: values.count)
    }
}
