import Foundation

/// Writes `report.html` for a result: the evaluation mapped into a `ReportDocument` and rendered as one
/// self-contained page (inline CSS and SVG, readable offline).
public func writeReport(result: EvaluationResult, to url: URL) throws {
    try HTMLReport.write(ReportMapping.document(result), to: url)
}

/// From the evaluation's result types to the report's document type.
enum ReportMapping {
    static let labels: [(key: String, name: String, format: ReportNumberFormat)] = [
        ("sensitivity", "Sensitivity (blocked recall)", .percent), ("specificity", "Specificity", .percent),
        ("accuracy", "Accuracy", .percent), ("balanced_accuracy", "Balanced accuracy", .percent),
        ("ppv", "PPV (precision)", .percent), ("npv", "NPV", .percent), ("f1", "F1", .decimal),
        ("mcc", "MCC", .decimal), ("auroc", "AUROC", .decimal), ("auprc", "AUPRC (average precision)", .decimal),
        ("brier", "Brier score", .decimal), ("ece", "Expected calibration error", .decimal),
    ]

    static func document(_ r: EvaluationResult) -> ReportDocument {
        let p = r.provenance
        var provenance: [ReportField] = [
            ReportField("Software", "\(p.software) \(p.softwareVersion)"), ReportField("Mode", p.mode),
            ReportField("Profile", "\(p.profile) (\(p.profileFingerprint.prefix(16)))"),
            ReportField("Evaluated split", r.evaluatedSplit), ReportField("Cases", "\(r.n) (\(r.nScored) with a score)"),
            ReportField("Decisions", r.decisionSource),
        ]
        if let m = p.model { provenance.append(ReportField("Model", m + (p.modelFingerprint.map { " (\($0.prefix(16)))" } ?? ""))) }
        for (i, a) in p.adapters.enumerated() {
            let fp = i < p.adapterFingerprints.count ? " (\(p.adapterFingerprints[i].prefix(16)))" : ""
            provenance.append(ReportField("Adapter", a + fp))
        }
        if let d = p.data { provenance.append(ReportField("Data", d + (p.dataFingerprint.map { " (\($0.prefix(16)))" } ?? ""))) }
        if let pr = p.predictions {
            provenance.append(ReportField("Predictions", pr + (p.predictionsFingerprint.map { " (\($0.prefix(16)))" } ?? "")))
        }

        var warnings = r.warnings
        if p.testModel {
            warnings.insert("TEST MODEL: the model is a tiny test model; its decisions and these figures are meaningless.", at: 0)
        }
        if p.demoModel {
            warnings.insert("DEMO MODEL: \(p.demoNotice ?? "trained on synthetic images only") — these figures have no clinical meaning.", at: 0)
            provenance.append(ReportField("Demo model", "yes — no clinical meaning"))
        }
        if r.imbalance.majorityClassFailure { warnings.insert(r.imbalance.message, at: 0) }
        var notes = [
            "Manual-review decisions count as flags (positive) in the metrics; the confusion matrix shows them in a column of their own; metrics on automatically decided cases only are listed below.",
            "Intervals: Wilson 95 % for proportions; stratified bootstrap (\(r.bootstrap.resamples) resamples, seed \(r.bootstrap.seed)) for the others.",
        ]
        if !r.imbalance.majorityClassFailure { notes.append(r.imbalance.message) }

        var metrics = [ReportMetric(name: "Prevalence (blocked)", value: r.prevalence.value, ciLow: r.prevalence.ci?.first,
                                    ciHigh: r.prevalence.ci?.last, format: .percent)]
        for l in labels {
            let m = r.metrics[l.key] ?? .undefined
            metrics.append(ReportMetric(name: l.name, value: m.value, ciLow: m.ci?.first, ciHigh: m.ci?.last, format: l.format))
        }
        metrics.append(ReportMetric(name: "Manual-review rate", value: r.review.rate.value, ciLow: r.review.rate.ci?.first,
                                    ciHigh: r.review.rate.ci?.last, format: .percent, note: Plural.count(r.review.count, "case")))

        let sens = r.metrics["sensitivity"]?.value, spec = r.metrics["specificity"]?.value, ppv = r.metrics["ppv"]?.value
        let rocOp = sens.flatMap { s in spec.map { ReportROCPoint(fpr: 1 - $0, tpr: s) } }
        let prOp = sens.flatMap { s in ppv.map { ReportPRPoint(recall: s, precision: $0) } }
        let roc = ReportROC(points: r.curves.roc.map { ReportROCPoint(fpr: $0.fpr, tpr: $0.tpr) },
                            auroc: r.metrics["auroc"]?.value, operatingPoint: rocOp)
        let pr = ReportPR(points: r.curves.pr.map { ReportPRPoint(recall: $0.recall, precision: $0.precision) },
                          auprc: r.metrics["auprc"]?.value, prevalence: r.prevalence.value, operatingPoint: prOp)
        let calibration = ReportCalibration(bins: r.curves.calibration.compactMap { b in
            guard let m = b.meanPredicted, let o = b.observed, b.count > 0 else { return nil }
            return ReportCalibrationBin(meanPredicted: m, observed: o, count: b.count)
        }, ece: r.metrics["ece"]?.value)
        let sweep = ReportThresholdSweep(points: r.curves.thresholdSweep.compactMap { row in
            guard let s = row.sensitivity, let sp = row.specificity else { return nil }
            return ReportSweepPoint(threshold: row.threshold, sensitivity: s, specificity: sp, flaggedRate: row.flaggedRate)
        }, chosenThreshold: r.operatingPoint?.threshold ?? r.threshold, targetSensitivity: r.operatingPoint?.targetSensitivity,
           manualReviewRate: r.review.rate.value)

        let b = r.imbalance.baseline
        return ReportDocument(
            title: "dsa-triage evaluation", subtitle: "Decision support only — blocked is the positive class",
            provenance: provenance, notes: notes, warnings: warnings, metrics: metrics,
            baseline: ReportBaseline(majorityClass: b.majorityClass, accuracy: b.accuracy, sensitivity: b.sensitivity,
                                     specificity: b.specificity),
            confusion: r.confusion,
            reviews: ReportReviewCounts(actuallyBlocked: r.review.actuallyBlocked, actuallyPatent: r.review.actuallyPatent),
            threshold: r.threshold, roc: roc, pr: pr, calibration: calibration,
            thresholdSweep: sweep, subgroupTables: subgroupTables(r), comparisonTables: comparisonTables(r))
    }

    static func pct(_ v: Double?) -> String { v.map { String(format: "%.1f %%", $0 * 100) } ?? "not defined" }
    static func dec(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "not defined" }

    static func subgroupTables(_ r: EvaluationResult) -> [ReportTable] {
        var tables: [ReportTable] = []
        let headers = ["group", "n", "blocked", "sensitivity", "specificity", "accuracy", "AUROC", "review rate"]
        func rows(_ groups: [SubgroupRow]) -> [[String]] {
            groups.map { g in
                [g.group, "\(g.table.n)", "\(g.table.positives)", pct(g.table.metrics["sensitivity"]?.value),
                 pct(g.table.metrics["specificity"]?.value), pct(g.table.metrics["accuracy"]?.value),
                 dec(g.table.metrics["auroc"]?.value), pct(g.reviewRate)]
            }
        }
        if !r.subgroups.site.isEmpty { tables.append(ReportTable(title: "Per site", headers: headers, rows: rows(r.subgroups.site))) }
        if !r.subgroups.scanner.isEmpty {
            tables.append(ReportTable(title: "Per scanner", headers: headers, rows: rows(r.subgroups.scanner)))
        }
        if !r.subgroups.month.isEmpty {
            tables.append(ReportTable(title: "Over time (by month)", headers: headers, rows: rows(r.subgroups.month)))
        }
        let a = r.review.autoDecided
        tables.append(ReportTable(title: "Automatically decided cases only", caption: "manual-review cases left out",
                                  headers: ["n", "TP", "FP", "TN", "FN", "sensitivity", "specificity", "accuracy"],
                                  rows: [["\(a.n)", "\(a.confusion.tp)", "\(a.confusion.fp)", "\(a.confusion.tn)", "\(a.confusion.fn)",
                                          pct(a.metrics["sensitivity"]?.value), pct(a.metrics["specificity"]?.value),
                                          pct(a.metrics["accuracy"]?.value)]]))
        if let op = r.operatingPoint {
            var rows: [[String]] = []
            for perf in [op.chosen, op.reported].compactMap({ $0 }) {
                rows.append([perf.split, "\(perf.n)", pct(perf.sensitivity.value), pct(perf.specificity.value),
                             pct(perf.ppv.value), pct(perf.npv.value), pct(perf.flaggedRate.value)])
            }
            tables.append(ReportTable(title: "Operating point for target sensitivity \(pct(op.targetSensitivity))",
                                      caption: "threshold \(dec(op.threshold)) chosen on \(op.chosenOn)" + (op.warning.map { "; \($0)" } ?? ""),
                                      headers: ["split", "n", "sensitivity", "specificity", "PPV", "NPV", "share flagged"], rows: rows))
        }
        return tables
    }

    static func comparisonTables(_ r: EvaluationResult) -> [ReportTable] {
        guard !r.comparisons.isEmpty else { return [] }
        let rows = r.comparisons.map { c -> [String] in
            [c.name, "\(c.n)", pct(c.sensitivity.value), pct(c.specificity.value), dec(c.auroc.value),
             "b=\(c.mcnemar.b) c=\(c.mcnemar.c) p=\(dec(c.mcnemar.pValue))",
             c.delong.map { "Δ=\(dec($0.difference)) p=\(dec($0.pValue))" } ?? "not defined"]
        }
        return [ReportTable(title: "Comparison with other runs (paired on the same cases)",
                            caption: "McNemar on the decisions, DeLong on AUROC",
                            headers: ["run", "n", "sensitivity", "specificity", "AUROC", "McNemar", "DeLong"], rows: rows)]
    }
}

/// "1 case", "2 cases".
public enum Plural {
    public static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
