/// Renders a `ReportDocument` as one self-contained HTML page: inline CSS and inline SVG, no scripts, no
/// external resources, so it reads the same offline. Every piece of document text is escaped.
public enum HTMLReport {
    /// The ids of the four figures, in page order.
    public static let figureIDs = ["fig-roc", "fig-pr", "fig-calibration", "fig-threshold"]
    /// The id of the confusion matrix table.
    public static let confusionID = "confusion-matrix"

    public static func render(_ doc: ReportDocument) -> String {
        let e = HTMLText.escape
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        h += "<title>\(e(doc.title))</title>\n<style>\n\(css)</style>\n</head>\n<body>\n<main>\n"
        h += "<header>\n<h1>\(e(doc.title))</h1>\n"
        if let sub = doc.subtitle { h += "<p class=\"subtitle\">\(e(sub))</p>\n" }
        h += "</header>\n"

        if !doc.warnings.isEmpty {
            h += "<section id=\"warnings\" class=\"warnings\" role=\"alert\" aria-label=\"Warnings\">\n<h2>Warning</h2>\n<ul>\n"
            for w in doc.warnings { h += "<li>\(e(w))</li>\n" }
            h += "</ul>\n</section>\n"
        }

        if !doc.provenance.isEmpty || !doc.notes.isEmpty {
            h += "<section id=\"provenance\">\n<h2>What was evaluated</h2>\n"
            if !doc.provenance.isEmpty {
                h += "<dl class=\"provenance\">\n"
                for f in doc.provenance { h += "<dt>\(e(f.label))</dt><dd>\(e(f.value))</dd>\n" }
                h += "</dl>\n"
            }
            for n in doc.notes { h += "<p class=\"note\">\(e(n))</p>\n" }
            h += "</section>\n"
        }

        h += "<section id=\"metrics\">\n<h2>Headline metrics</h2>\n"
        h += metricsTable(doc.metrics)
        if let b = doc.baseline { h += baselineLine(b) }
        h += "</section>\n"

        h += "<section id=\"decisions\">\n<h2>Decisions</h2>\n"
        h += confusionTable(doc.confusion, reviews: doc.reviews)
        h += "<p class=\"threshold\">Threshold on P(blocked) used for these decisions: <strong>\(e(HTMLText.number(doc.threshold, .decimal)))</strong></p>\n"
        h += "</section>\n"

        h += "<section id=\"curves\">\n<h2>Curves</h2>\n<div class=\"figures\">\n"
        let outcomes: [(String, String, ReportFigures.Outcome)] = [
            ("fig-roc", "ROC curve", ReportFigures.roc(doc.roc)),
            ("fig-pr", "Precision-recall curve", ReportFigures.pr(doc.pr)),
            ("fig-calibration", "Calibration", ReportFigures.calibration(doc.calibration)),
            ("fig-threshold", "Threshold sweep", ReportFigures.thresholdSweep(doc.thresholdSweep)),
        ]
        for (id, name, outcome) in outcomes { h += figure(id: id, name: name, outcome) }
        h += "</div>\n</section>\n"

        if !doc.subgroupTables.isEmpty {
            h += "<section id=\"subgroups\">\n<h2>Subgroups</h2>\n"
            for (i, t) in doc.subgroupTables.enumerated() { h += table(t, id: "subgroup-\(i + 1)") }
            h += "</section>\n"
        }
        if !doc.comparisonTables.isEmpty {
            h += "<section id=\"comparisons\">\n<h2>Comparisons</h2>\n"
            for (i, t) in doc.comparisonTables.enumerated() { h += table(t, id: "comparison-\(i + 1)") }
            h += "</section>\n"
        }
        h += "<footer>Self-contained report: no scripts, no external resources. It shows aggregate numbers only, no patient identifiers.</footer>\n"
        h += "</main>\n</body>\n</html>\n"
        return h
    }

    static func metricsTable(_ metrics: [ReportMetric]) -> String {
        let e = HTMLText.escape
        guard !metrics.isEmpty else { return "<p class=\"not-defined\">No metrics in this evaluation.</p>\n" }
        var h = "<table class=\"metrics\">\n<thead><tr><th scope=\"col\">Metric</th><th scope=\"col\">Value</th><th scope=\"col\">95% interval</th><th scope=\"col\">Note</th></tr></thead>\n<tbody>\n"
        for m in metrics {
            let value = HTMLText.number(m.value, m.format)
            let ci = HTMLText.interval(m.ciLow, m.ciHigh, m.format) ?? "—"
            let cls = value == HTMLText.notDefined ? " class=\"not-defined\"" : ""
            h += "<tr><th scope=\"row\">\(e(m.name))</th><td\(cls)>\(e(value))</td><td>\(e(ci))</td><td>\(e(m.note ?? ""))</td></tr>\n"
        }
        return h + "</tbody>\n</table>\n"
    }

    static func baselineLine(_ b: ReportBaseline) -> String {
        let e = HTMLText.escape
        return "<p id=\"baseline\" class=\"baseline\">Majority-class baseline (always “\(e(b.majorityClass))”): accuracy \(e(HTMLText.number(b.accuracy, .percent))), sensitivity \(e(HTMLText.number(b.sensitivity, .percent))), specificity \(e(HTMLText.number(b.specificity, .percent))).</p>\n"
    }

    static func confusionTable(_ c: ConfusionCounts?, reviews: ReportReviewCounts? = nil) -> String {
        guard let c else { return "<p id=\"\(confusionID)\" class=\"not-defined\">Confusion matrix not available.</p>\n" }
        if let r = reviews, r.actuallyBlocked <= c.tp, r.actuallyPatent <= c.fp { return confusionTableWithReview(c, r) }
        var h = "<table id=\"\(confusionID)\" class=\"confusion\">\n<caption>Confusion matrix (blocked is the positive class)</caption>\n"
        h += "<thead><tr><td></td><th scope=\"col\">Predicted blocked</th><th scope=\"col\">Predicted patent</th><th scope=\"col\">Total</th></tr></thead>\n<tbody>\n"
        h += "<tr><th scope=\"row\">Actually blocked</th><td class=\"tp\">TP \(c.tp)</td><td class=\"fn\">FN \(c.fn)</td><td class=\"total\">\(c.tp + c.fn)</td></tr>\n"
        h += "<tr><th scope=\"row\">Actually patent</th><td class=\"fp\">FP \(c.fp)</td><td class=\"tn\">TN \(c.tn)</td><td class=\"total\">\(c.fp + c.tn)</td></tr>\n"
        h += "<tr><th scope=\"row\">Total</th><td class=\"total\">\(c.tp + c.fp)</td><td class=\"total\">\(c.fn + c.tn)</td><td class=\"total\">\(c.total)</td></tr>\n"
        return h + "</tbody>\n</table>\n"
    }

    /// Manual reviews in a column of their own between the model's blocked and patent calls; the metrics still
    /// count them as flags (the caption says so).
    static func confusionTableWithReview(_ c: ConfusionCounts, _ r: ReportReviewCounts) -> String {
        let tpCalled = c.tp - r.actuallyBlocked, fpCalled = c.fp - r.actuallyPatent
        var h = "<table id=\"\(confusionID)\" class=\"confusion\">\n<caption>Confusion matrix (blocked is the positive class; manual-review cases are counted as flags in the metrics: TP = \(c.tp), FP = \(c.fp))</caption>\n"
        h += "<thead><tr><td></td><th scope=\"col\">Called blocked</th><th scope=\"col\">Manual review</th><th scope=\"col\">Called patent</th><th scope=\"col\">Total</th></tr></thead>\n<tbody>\n"
        h += "<tr><th scope=\"row\">Actually blocked</th><td class=\"tp\">TP \(tpCalled)</td><td class=\"review\">review \(r.actuallyBlocked)</td><td class=\"fn\">FN \(c.fn)</td><td class=\"total\">\(c.tp + c.fn)</td></tr>\n"
        h += "<tr><th scope=\"row\">Actually patent</th><td class=\"fp\">FP \(fpCalled)</td><td class=\"review\">review \(r.actuallyPatent)</td><td class=\"tn\">TN \(c.tn)</td><td class=\"total\">\(c.fp + c.tn)</td></tr>\n"
        h += "<tr><th scope=\"row\">Total</th><td class=\"total\">\(tpCalled + fpCalled)</td><td class=\"total\">\(r.actuallyBlocked + r.actuallyPatent)</td><td class=\"total\">\(c.fn + c.tn)</td><td class=\"total\">\(c.total)</td></tr>\n"
        return h + "</tbody>\n</table>\n"
    }

    static func figure(id: String, name: String, _ outcome: ReportFigures.Outcome) -> String {
        let e = HTMLText.escape
        switch outcome {
        case .chart(let spec, let omitted):
            var h = "<figure id=\"\(e(id))\" class=\"chart\">\n\(SVGChart.render(spec))\n<figcaption>\(e(spec.description))"
            if omitted > 0 { h += " \(omitted) point\(omitted == 1 ? "" : "s") with non-finite or out-of-range values omitted." }
            return h + "</figcaption>\n</figure>\n"
        case .notDefined(let reason):
            return "<figure id=\"\(e(id))\" class=\"chart undefined\">\n<div class=\"not-defined-box\" role=\"note\">\(e(reason))</div>\n<figcaption>\(e(name))</figcaption>\n</figure>\n"
        }
    }

    static func table(_ t: ReportTable, id: String) -> String {
        let e = HTMLText.escape
        let width = max(t.headers.count, t.rows.map(\.count).max() ?? 0)
        var h = "<table id=\"\(e(id))\" class=\"data\">\n<caption>\(e(t.title))"
        if let c = t.caption { h += "<br><span class=\"caption-note\">\(e(c))</span>" }
        h += "</caption>\n"
        if !t.headers.isEmpty {
            h += "<thead><tr>"
            for i in 0..<width { h += "<th scope=\"col\">\(e(i < t.headers.count ? t.headers[i] : ""))</th>" }
            h += "</tr></thead>\n"
        }
        h += "<tbody>\n"
        if t.rows.isEmpty { h += "<tr><td colspan=\"\(max(width, 1))\" class=\"not-defined\">no rows</td></tr>\n" }
        for row in t.rows {
            h += "<tr>"
            for i in 0..<width {
                let cell = e(i < row.count ? row[i] : "")
                h += i == 0 ? "<th scope=\"row\">\(cell)</th>" : "<td>\(cell)</td>"
            }
            h += "</tr>\n"
        }
        return h + "</tbody>\n</table>\n"
    }

    static let css = """
    body { margin: 0; background: #f6f7f9; color: #1b1f24; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
    main { max-width: 1080px; margin: 0 auto; padding: 24px 32px 48px; background: #ffffff; }
    h1 { font-size: 26px; margin: 0 0 4px; }
    h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 2px solid #d5dae1; padding-bottom: 4px; }
    .subtitle { color: #4a5360; margin: 0; }
    .warnings { border: 3px solid #b00020; background: #fdecea; color: #6d0014; padding: 8px 18px; margin: 18px 0; border-radius: 4px; }
    .warnings h2 { color: #b00020; border: none; margin: 6px 0; }
    .warnings li { font-weight: bold; margin: 4px 0; }
    dl.provenance { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
    dl.provenance dt { font-weight: bold; }
    dl.provenance dd { margin: 0; font-family: ui-monospace, monospace; font-size: 13px; overflow-wrap: anywhere; }
    table { border-collapse: collapse; margin: 10px 0 18px; }
    th, td { border: 1px solid #c9d0d8; padding: 4px 10px; text-align: right; }
    th[scope=row], caption { text-align: left; }
    thead th { background: #eef1f5; }
    thead th:first-child { text-align: left; }
    caption { font-weight: bold; padding: 4px 0; }
    .caption-note { font-weight: normal; color: #4a5360; }
    table.confusion td { min-width: 110px; font-size: 17px; }
    table.confusion td.tp, table.confusion td.tn { background: #e3f1e5; }
    table.confusion td.fp, table.confusion td.fn { background: #fbe4e2; }
    table.confusion td.total { background: #f3f4f6; }
    table.confusion td.review { background: #fff4d6; }
    td.not-defined, .not-defined { color: #8a5a00; font-style: italic; }
    .baseline { background: #fff8e1; border-left: 4px solid #e0a800; padding: 6px 12px; }
    .figures { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px; }
    figure.chart { margin: 0; border: 1px solid #d5dae1; padding: 8px; background: #ffffff; }
    figure.chart svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
    figcaption { font-size: 13px; color: #4a5360; margin-top: 4px; }
    .not-defined-box { min-height: 120px; display: flex; align-items: center; justify-content: center; text-align: center; background: #f3f4f6; color: #4a5360; font-style: italic; padding: 12px; }
    footer { margin-top: 32px; font-size: 12px; color: #6b7480; }
    @media print { body { background: #ffffff; } main { padding: 0; } .figures { grid-template-columns: 1fr 1fr; } }

    """
}
