import Foundation
import WorkerQueue

/// Turns figures into alert conditions, each only with its minimum sample size, and joins them with the
/// stored alerts.
public enum AlertRules {
    /// Conditions for every group: the sensitivity floor and PSI on the alert window's figures, CUSUMs as they stand.
    static func conditions(window: [String: GroupFigures], windowDays: Int, falseNegative: [String: CUSUMState],
                           reviewRate: [String: CUSUMState], configuration cfg: MonitoringConfiguration) -> [AlertCondition] {
        var out: [AlertCondition] = []
        let span = "the last \(windowDays) days"
        for (group, f) in window {
            let s = f.weighted.sensitivity
            if s.n >= cfg.minAdjudicatedBlocked, let upper = s.ci?.last, let v = s.value, upper < cfg.sensitivityFloor {
                out.append(AlertCondition(kind: "sensitivity_floor", group: group, value: upper, limit: cfg.sensitivityFloor,
                                          message: "Weighted sensitivity \(fmt(v)) (95% interval up to \(fmt(upper))) is below the floor \(fmt(cfg.sensitivityFloor)) over \(span) (\(s.n) adjudicated blocked cases)."))
            }
            let measures: [(String, String, DriftMeasure?)] = [
                ("psi_p_blocked", "P(blocked)", f.drift.pBlocked), ("psi_mean_gray", "mean gray", f.drift.meanGray),
                ("psi_dynamic_range", "dynamic range", f.drift.dynamicRange), ("psi_frame_count", "frame count", f.drift.frameCount),
            ]
            for (kind, name, m) in measures {
                guard let m, m.n >= cfg.minDriftCases, let psi = m.psi, psi > cfg.psiLimit else { continue }
                out.append(AlertCondition(kind: kind, group: group, value: psi, limit: cfg.psiLimit,
                                          message: "PSI of \(name) \(fmt(psi)) exceeds \(fmt(cfg.psiLimit)) over \(span) (\(m.n) cases)."))
            }
            if let o = f.drift.seriesOutcome, o.n >= cfg.minDriftCases, let psi = o.psi, psi > cfg.psiLimit {
                out.append(AlertCondition(kind: "psi_series_outcome", group: group, value: psi, limit: cfg.psiLimit,
                                          message: "PSI of the skipped/unreadable/triaged shares \(fmt(psi)) exceeds \(fmt(cfg.psiLimit)) over \(span) (\(o.n) series; skipped \(fmt(o.skippedShare.value)), unreadable \(fmt(o.unreadableShare.value)))."))
            }
        }
        let charts: [(String, String, [String: CUSUMState])] = [
            ("cusum_false_negative", "False-negative CUSUM", falseNegative), ("cusum_review_rate", "Review-rate CUSUM", reviewRate),
        ]
        for (kind, name, states) in charts {
            for (group, st) in states where st.aboveLimit && st.observations >= cfg.minCUSUMObservations {
                let since = st.aboveSince.map { " since " + day($0) } ?? ""
                out.append(AlertCondition(kind: kind, group: group, value: st.statistic, limit: st.limit,
                                          message: "\(name) \(fmt(st.statistic)) is above its limit \(fmt(st.limit))\(since) (\(st.observations) observations, \(st.events) events, observed rate \(fmt(st.observedRate)))."))
            }
        }
        return out.sorted { ($0.group, $0.kind) < ($1.group, $1.kind) }
    }

    /// Current conditions joined with the stored alerts of the same kind and scope (an open or acknowledged
    /// one first); stored alerts without a current condition follow, inactive.
    public static func join(_ conditions: [AlertCondition], stored: [AlertRecord], now: Date) -> [MonitoringAlert] {
        var used = Set<Int64>()
        var out: [MonitoringAlert] = []
        for c in conditions {
            let match = stored.filter { $0.kind == c.kind && $0.scope == c.group && !used.contains($0.id) }
                .sorted { ($0.state == .resolved ? 1 : 0, $1.openedAt) < ($1.state == .resolved ? 1 : 0, $0.openedAt) }.first
            if let m = match, m.state != .resolved {
                used.insert(m.id)
                out.append(MonitoringAlert(kind: c.kind, group: c.group, opened: m.openedAt, state: m.state.rawValue, active: true,
                                           value: c.value, limit: c.limit, message: c.message, acknowledgedBy: m.acknowledgedBy, note: m.note))
            } else {
                out.append(MonitoringAlert(kind: c.kind, group: c.group, opened: now, state: AlertRecord.State.open.rawValue, active: true,
                                           value: c.value, limit: c.limit, message: c.message, acknowledgedBy: nil, note: nil))
            }
        }
        for r in stored where !used.contains(r.id) {
            out.append(MonitoringAlert(kind: r.kind, group: r.scope, opened: r.openedAt, state: r.state.rawValue, active: false,
                                       value: r.value, limit: r.limit, message: r.message, acknowledgedBy: r.acknowledgedBy, note: r.note))
        }
        return out
    }

    static func fmt(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "not defined" }
        return String(format: "%.3f", v)
    }

    static func day(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate]
        return f.string(from: d)
    }
}
