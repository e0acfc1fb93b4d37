import Foundation

/// report.html: one self-contained page in the evaluation report's style (inline CSS and SVG, no scripts, no
/// external resources) with the alerts, the weekly charts, drift, calibration and the per-group tables.
/// Every text is escaped; the page holds aggregates and equipment names only, no patient identifiers.
public enum MonitoringHTML {
    /// The whole page for one report.
    public static func render(_ r: MonitoringReport) -> String {
        let e = HTMLEscape.text
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>dsa-triage monitoring</title>\n"
        h += "<style>\n\(css)</style>\n</head>\n<body>\n<main>\n<header>\n<h1>dsa-triage monitoring</h1>\n"
        h += "<p class=\"subtitle\">Figures as of \(e(stamp(r.now)))"
        if let s = r.since { h += ", cases decided since \(e(stamp(s)))" }
        if let src = r.referenceSource { h += "; drift against \(e(src))" }
        h += "</p>\n</header>\n"

        let active = r.alerts.filter(\.active)
        h += "<section id=\"alerts\"\(active.isEmpty ? "" : " class=\"warnings\" role=\"alert\"")>\n<h2>Alerts</h2>\n"
        if r.alerts.isEmpty {
            h += "<p>No alert condition holds.</p>\n"
        } else {
            h += "<table class=\"data\"><thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">Group</th><th scope=\"col\">State</th><th scope=\"col\">Opened</th><th scope=\"col\">Value</th><th scope=\"col\">Limit</th><th scope=\"col\">Message</th></tr></thead>\n<tbody>\n"
            for a in r.alerts {
                h += "<tr><th scope=\"row\">\(e(a.kind))</th><td>\(e(a.group))</td><td>\(e(a.state + (a.active ? "" : " (cleared)")))</td><td>\(e(stamp(a.opened)))</td>"
                h += "<td>\(e(fmt(a.value)))</td><td>\(e(fmt(a.limit)))</td><td class=\"text\">\(e(a.message))</td></tr>\n"
            }
            h += "</tbody></table>\n"
        }
        h += "</section>\n"

        let g = r.groundTruth
        h += "<section id=\"labels\">\n<h2>Labels</h2>\n<p>\(g.cases) cases, \(g.triaged) triaged, \(g.adjudicated) adjudicated, \(g.nonDiagnosticOnly) with only non-diagnostic verdicts, \(g.disagreements) with disagreeing verdicts.</p>\n"
        h += "<p class=\"note\">\(e(r.groundTruth.rule)) Sensitivity counts manual review as a flag. Weighted figures weigh each adjudicated case by 1 / its sampling probability (audit samples stand for the cases the model decided alone); their intervals are Wilson intervals on the Kish effective sample size.</p>\n</section>\n"

        h += "<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"figures\">\n"
        h += figure(weeklyPerformance(r.series)) + figure(weeklyReview(r.series)) + figure(histogram(r.histogram)) + figure(calibration(r.calibration))
        h += "</div>\n</section>\n"

        h += "<section id=\"cusum\">\n<h2>CUSUM charts</h2>\n"
        h += cusumTable("False negatives (per adjudicated blocked case)", r.cusum.falseNegative)
        h += cusumTable("Review rate (per triaged case)", r.cusum.reviewRate)
        h += "</section>\n"

        h += "<section id=\"groups\">\n<h2>Per group</h2>\n"
        for key in r.windowOrder {
            guard let w = r.windows[key] else { continue }
            h += groupTable(w, id: "groups-" + key)
        }
        h += "</section>\n"
        h += "<footer>Self-contained report: no scripts, no external resources. Aggregates and equipment fields only, no patient identifiers.</footer>\n"
        return h + "</main>\n</body>\n</html>\n"
    }

    static func groupTable(_ w: WindowFigures, id: String) -> String {
        let e = HTMLEscape.text
        var h = "<table id=\"\(e(id))\" class=\"data\">\n<caption>\(e(w.label))</caption>\n<thead><tr>"
        for c in ["Group", "Cases", "Triaged", "Adjudicated", "Sensitivity", "Weighted sensitivity", "Specificity", "Weighted specificity", "PPV", "NPV", "Review rate", "PSI P(blocked)"] {
            h += "<th scope=\"col\">\(c)</th>"
        }
        h += "</tr></thead>\n<tbody>\n"
        for (name, f) in orderedGroups(w.groups) {
            h += "<tr><th scope=\"row\">\(e(name))</th><td>\(f.cases)</td><td>\(f.triaged)</td><td>\(f.adjudicated)</td>"
            for est in [f.sensitivity, f.weighted.sensitivity, f.specificity, f.weighted.specificity, f.ppv, f.npv, f.reviewRate] {
                h += "<td>\(e(cell(est)))</td>"
            }
            h += "<td>\(e(fmt(f.psi)))</td></tr>\n"
        }
        return h + "</tbody>\n</table>\n"
    }

    static func cusumTable(_ title: String, _ states: [String: CUSUMState]) -> String {
        let e = HTMLEscape.text
        var h = "<table class=\"data\">\n<caption>\(e(title))</caption>\n<thead><tr><th scope=\"col\">Group</th><th scope=\"col\">Statistic</th><th scope=\"col\">Limit</th><th scope=\"col\">Observations</th><th scope=\"col\">Observed rate</th><th scope=\"col\">First crossed</th></tr></thead>\n<tbody>\n"
        for name in states.keys.sorted(by: groupOrder) {
            guard let s = states[name] else { continue }
            h += "<tr\(s.aboveLimit ? " class=\"over\"" : "")><th scope=\"row\">\(e(name))</th><td>\(e(fmt(s.statistic)))</td><td>\(e(fmt(s.limit)))</td><td>\(s.observations)</td>"
            h += "<td>\(e(fmt(s.observedRate)))</td><td>\(e(s.firstCrossed.map(stamp) ?? "—"))</td></tr>\n"
        }
        return h + "</tbody>\n</table>\n"
    }

    static func weeklyPerformance(_ s: [WeeklyPoint]) -> String? {
        guard !s.isEmpty else { return nil }
        func pts(_ f: (WeeklyPoint) -> Estimate) -> [(x: Double, y: Double, ci: [Double]?)] {
            s.enumerated().compactMap { i, p in f(p).value.map { (Double(i), $0, f(p).ci) } }
        }
        return MonitoringSVG.lines(id: "fig-weekly-performance", title: "Weekly sensitivity and specificity (95% intervals)", yLabel: "proportion",
                                   series: [.init(label: "sensitivity", color: "#b00020", points: pts(\.sensitivity)),
                                            .init(label: "weighted sensitivity", color: "#e07000", points: pts(\.weightedSensitivity), dashed: true),
                                            .init(label: "specificity", color: "#1f6fb2", points: pts(\.specificity)),
                                            .init(label: "weighted specificity", color: "#2a9d8f", points: pts(\.weightedSpecificity), dashed: true)],
                                   xDomain: (0, Double(max(s.count - 1, 1))), xLabels: weekLabels(s))
    }

    static func weeklyReview(_ s: [WeeklyPoint]) -> String? {
        guard !s.isEmpty else { return nil }
        let pts = s.enumerated().compactMap { i, p in p.reviewRate.value.map { (x: Double(i), y: $0, ci: p.reviewRate.ci) } }
        return MonitoringSVG.lines(id: "fig-weekly-review", title: "Weekly review rate (95% intervals)", yLabel: "manual-review share",
                                   series: [.init(label: "review rate", color: "#6a4c93", points: pts)],
                                   xDomain: (0, Double(max(s.count - 1, 1))), xLabels: weekLabels(s))
    }

    static func weekLabels(_ s: [WeeklyPoint]) -> [(Double, String)] {
        let step = max(1, s.count / 6)
        return stride(from: 0, to: s.count, by: step).map { (Double($0), day(s[$0].end)) }
    }

    static func histogram(_ hst: PBlockedHistogram?) -> String? {
        guard let hst, hst.n > 0 else { return nil }
        let lows = [0.0] + hst.edges
        return MonitoringSVG.bars(id: "fig-histogram", title: "P(blocked), alert window vs reference", yLabel: "share of cases",
                                  labels: lows.map { String(format: "%.2f", $0) }, current: hst.shares, reference: hst.referenceShares)
    }

    static func calibration(_ bins: [CalibrationBin]) -> String? {
        let used = bins.filter { $0.n > 0 }
        guard !used.isEmpty else { return nil }
        let obs = used.compactMap { b in b.meanPBlocked.flatMap { m in b.observed.value.map { (x: m, y: $0, ci: b.observed.ci) } } }
        let wtd = used.compactMap { b in b.meanPBlocked.flatMap { m in b.weighted.value.map { (x: m, y: $0, ci: nil as [Double]?) } } }
        return MonitoringSVG.lines(id: "fig-calibration", title: "Calibration on adjudicated cases", yLabel: "observed blocked share",
                                   series: [.init(label: "ideal", color: "#9aa5b1", points: [(0, 0, nil), (1, 1, nil)], dashed: true),
                                            .init(label: "observed (95% intervals)", color: "#b00020", points: obs),
                                            .init(label: "weighted", color: "#e07000", points: wtd, dashed: true)],
                                   xDomain: (0, 1), xLabels: (0...5).map { (Double($0) / 5, String(format: "%.1f", Double($0) / 5)) })
    }

    static func figure(_ svg: String?) -> String {
        guard let svg else { return "<figure class=\"chart undefined\"><div class=\"not-defined-box\">Not enough data for this chart.</div></figure>\n" }
        return "<figure class=\"chart\">\n\(svg)\n</figure>\n"
    }

    /// `overall` first, then by dimension and value.
    static func orderedGroups(_ g: [String: GroupFigures]) -> [(String, GroupFigures)] {
        g.keys.sorted(by: groupOrder).compactMap { k in g[k].map { (k, $0) } }
    }

    static func groupOrder(_ a: String, _ b: String) -> Bool {
        if a == GroupDimension.overall { return b != GroupDimension.overall }
        if b == GroupDimension.overall { return false }
        return a < b
    }

    static func cell(_ est: Estimate) -> String {
        guard let v = est.value else { return "— (n \(est.n))" }
        let ci = est.ci.map { " [\(String(format: "%.3f", $0[0]))–\(String(format: "%.3f", $0[1]))]" } ?? ""
        return String(format: "%.3f", v) + ci + " n \(est.n)"
    }

    static func fmt(_ v: Double?) -> String { v.map { $0.isFinite ? String(format: "%.3f", $0) : "—" } ?? "—" }

    static func stamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: d)
    }

    static func day(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate]
        return f.string(from: d)
    }

    static let css = """
    body { margin: 0; background: #f6f7f9; color: #1b1f24; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
    main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #ffffff; }
    h1 { font-size: 26px; margin: 0 0 4px; }
    h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 2px solid #d5dae1; padding-bottom: 4px; }
    .subtitle, .note { color: #4a5360; }
    .warnings { border: 3px solid #b00020; background: #fdecea; padding: 8px 18px; border-radius: 4px; }
    .warnings h2 { color: #b00020; border: none; }
    table { border-collapse: collapse; margin: 10px 0 18px; font-size: 13px; }
    th, td { border: 1px solid #c9d0d8; padding: 3px 8px; text-align: right; }
    th[scope=row], caption, td.text { text-align: left; }
    thead th { background: #eef1f5; }
    caption { font-weight: bold; padding: 4px 0; }
    tr.over td, tr.over th { background: #fbe4e2; }
    .figures { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px; }
    figure.chart { margin: 0; border: 1px solid #d5dae1; padding: 8px; background: #ffffff; }
    figure.chart svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
    .not-defined-box { min-height: 120px; display: flex; align-items: center; justify-content: center; background: #f3f4f6; color: #4a5360; font-style: italic; }
    footer { margin-top: 32px; font-size: 12px; color: #6b7480; }

    """
}
