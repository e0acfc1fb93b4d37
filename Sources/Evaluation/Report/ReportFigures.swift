/// Turns the document's curves into chart specifications, or into the reason a chart is not defined.
enum ReportFigures {
    /// A figure to draw, or a note saying why it cannot be drawn; `omitted` counts points dropped as
    /// non-finite or outside [0, 1].
    enum Outcome {
        case chart(ChartSpec, omitted: Int)
        case notDefined(String)
    }

    static let blue = "#1f5fa8"
    static let orange = "#c0570b"
    static let green = "#2e7d32"
    static let gray = "#777777"
    static let red = "#b00020"

    /// True when `v` is finite and within [0, 1] (with rounding slack).
    static func unit(_ v: Double) -> Bool { v.isFinite && v >= -1e-9 && v <= 1 + 1e-9 }

    private static func tooFew(_ what: String, valid: Int, total: Int) -> String {
        if total == 0 { return "\(what) not defined: no points (for example, one class is absent)." }
        if valid == 0 { return "\(what) not defined: no point has finite coordinates in [0, 1]." }
        return "\(what) not defined: only one usable point (for example, all scores are equal or one class is absent)."
    }

    static func roc(_ roc: ReportROC?) -> Outcome {
        guard let roc else { return .notDefined("ROC curve not available in this evaluation.") }
        let pts = roc.points.filter { unit($0.fpr) && unit($0.tpr) }.map { ChartPoint(x: $0.fpr, y: $0.tpr) }
        guard pts.count >= 2 else { return .notDefined(tooFew("ROC curve", valid: pts.count, total: roc.points.count)) }
        var spec = ChartSpec(id: "fig-roc", title: "ROC curve",
                             description: "Sensitivity (true positive rate) against 1 − specificity (false positive rate) as the threshold varies; \(pts.count) points; AUROC \(HTMLText.number(roc.auroc, .decimal)).",
                             xLabel: "False positive rate (1 − specificity)", yLabel: "Sensitivity (true positive rate)")
        spec.guides = [ChartGuide(label: "chance (AUROC 0.5)", from: ChartPoint(x: 0, y: 0), to: ChartPoint(x: 1, y: 1), color: gray)]
        spec.series = [ChartSeries(label: "ROC, AUROC \(HTMLText.number(roc.auroc, .decimal))", points: pts, color: blue)]
        if let op = roc.operatingPoint, unit(op.fpr), unit(op.tpr) {
            spec.markers = [ChartMarker(label: "operating point: sensitivity \(HTMLText.number(op.tpr, .percent)), specificity \(HTMLText.number(1 - op.fpr, .percent))",
                                        point: ChartPoint(x: op.fpr, y: op.tpr), color: red)]
        }
        return .chart(spec, omitted: roc.points.count - pts.count)
    }

    static func pr(_ pr: ReportPR?) -> Outcome {
        guard let pr else { return .notDefined("Precision-recall curve not available in this evaluation.") }
        let pts = pr.points.filter { unit($0.recall) && unit($0.precision) }.map { ChartPoint(x: $0.recall, y: $0.precision) }
        guard pts.count >= 2 else { return .notDefined(tooFew("Precision-recall curve", valid: pts.count, total: pr.points.count)) }
        var spec = ChartSpec(id: "fig-pr", title: "Precision-recall curve",
                             description: "Precision (PPV) against recall (sensitivity) as the threshold varies; \(pts.count) points; AUPRC \(HTMLText.number(pr.auprc, .decimal)); prevalence \(HTMLText.number(pr.prevalence, .percent)).",
                             xLabel: "Recall (sensitivity)", yLabel: "Precision (PPV)")
        if let p = pr.prevalence, unit(p) {
            spec.guides = [ChartGuide(label: "no-skill baseline: precision = prevalence \(HTMLText.number(p, .percent))",
                                      from: ChartPoint(x: 0, y: p), to: ChartPoint(x: 1, y: p), color: gray)]
        }
        spec.series = [ChartSeries(label: "precision-recall, AUPRC \(HTMLText.number(pr.auprc, .decimal))", points: pts, color: blue)]
        if let op = pr.operatingPoint, unit(op.recall), unit(op.precision) {
            spec.markers = [ChartMarker(label: "operating point: recall \(HTMLText.number(op.recall, .percent)), precision \(HTMLText.number(op.precision, .percent))",
                                        point: ChartPoint(x: op.recall, y: op.precision), color: red)]
        }
        return .chart(spec, omitted: pr.points.count - pts.count)
    }

    static func calibration(_ cal: ReportCalibration?) -> Outcome {
        guard let cal else { return .notDefined("Calibration not available in this evaluation.") }
        let bins = cal.bins.filter { unit($0.meanPredicted) && unit($0.observed) && $0.count > 0 }
            .sorted { $0.meanPredicted < $1.meanPredicted }
        guard !bins.isEmpty else {
            return .notDefined(cal.bins.isEmpty ? "Calibration not defined: no bins."
                                                : "Calibration not defined: no bin has cases and finite values in [0, 1].")
        }
        let maxCount = Double(bins.map(\.count).max() ?? 1)
        let pts = bins.map { ChartPoint(x: $0.meanPredicted, y: $0.observed, radius: 3 + 7 * (Double($0.count) / maxCount).squareRoot()) }
        var spec = ChartSpec(id: "fig-calibration", title: "Calibration (reliability diagram)",
                             description: "Observed fraction blocked against mean predicted probability of blocked in \(bins.count) bins; expected calibration error \(HTMLText.number(cal.ece, .decimal)).",
                             xLabel: "Mean predicted P(blocked)", yLabel: "Observed fraction blocked")
        spec.guides = [ChartGuide(label: "perfect calibration", from: ChartPoint(x: 0, y: 0), to: ChartPoint(x: 1, y: 1), color: gray)]
        spec.series = [ChartSeries(label: "bins (marker area grows with count), ECE \(HTMLText.number(cal.ece, .decimal))",
                                   points: pts, color: blue, style: .lineAndMarkers)]
        return .chart(spec, omitted: cal.bins.count - bins.count)
    }

    static func thresholdSweep(_ sweep: ReportThresholdSweep?) -> Outcome {
        guard let sweep else { return .notDefined("Threshold sweep not available in this evaluation.") }
        let valid = sweep.points.filter { unit($0.threshold) && unit($0.sensitivity) && unit($0.specificity) }
            .sorted { $0.threshold < $1.threshold }
        guard valid.count >= 2 else { return .notDefined(tooFew("Threshold sweep", valid: valid.count, total: sweep.points.count)) }
        var spec = ChartSpec(id: "fig-threshold", title: "Threshold sweep",
                             description: "Sensitivity and specificity against the probability threshold; \(valid.count) thresholds; chosen threshold \(HTMLText.number(sweep.chosenThreshold, .decimal)).",
                             xLabel: "Threshold on P(blocked)", yLabel: "Rate")
        spec.series = [
            ChartSeries(label: "sensitivity", points: valid.map { ChartPoint(x: $0.threshold, y: $0.sensitivity) }, color: blue),
            ChartSeries(label: "specificity", points: valid.map { ChartPoint(x: $0.threshold, y: $0.specificity) }, color: orange, dash: "8 4"),
        ]
        // The share flagged at each threshold is what a reader must look at under the plain threshold rule; the
        // run's manual-review rate is set by the review band, so it is a horizontal guide, not this line.
        let flagged = valid.compactMap { p in p.flaggedRate.flatMap { unit($0) ? ChartPoint(x: p.threshold, y: $0) : nil } }
        if flagged.count >= 2 {
            spec.series.append(ChartSeries(label: "share flagged (P ≥ threshold)", points: flagged, color: green, dash: "2 3"))
        }
        if let r = sweep.manualReviewRate, unit(r) {
            spec.guides.append(ChartGuide(label: "manual-review rate of this run \(HTMLText.number(r, .percent))",
                                          from: ChartPoint(x: 0, y: r), to: ChartPoint(x: 1, y: r), color: green, dash: "1 4"))
        }
        if let target = sweep.targetSensitivity, unit(target) {
            spec.guides.append(ChartGuide(label: "target sensitivity \(HTMLText.number(target, .percent))",
                                          from: ChartPoint(x: 0, y: target), to: ChartPoint(x: 1, y: target), color: gray, dash: "3 3"))
        }
        if let t = sweep.chosenThreshold, unit(t) {
            spec.guides.append(ChartGuide(label: "chosen threshold \(HTMLText.number(t, .decimal))",
                                          from: ChartPoint(x: t, y: 0), to: ChartPoint(x: t, y: 1), color: red, dash: "6 4"))
            // The sweep row nearest the chosen threshold: sensitivity is a step function, so no interpolation.
            if let near = valid.min(by: { abs($0.threshold - t) < abs($1.threshold - t) }) {
                spec.markers = [ChartMarker(label: "operating point: sensitivity \(HTMLText.number(near.sensitivity, .percent)), specificity \(HTMLText.number(near.specificity, .percent)) at threshold \(HTMLText.number(near.threshold, .decimal))",
                                            point: ChartPoint(x: near.threshold, y: near.sensitivity), color: red)]
            }
        }
        return .chart(spec, omitted: sweep.points.count - valid.count)
    }
}
