@testable import Evaluation
import Foundation
import XCTest

/// A realistic evaluation document (synthetic numbers with the shapes real runs have) shared by the report tests.
enum ReportSample {
    static func document() -> ReportDocument {
        let prevalence = 0.08
        // ROC of a moderately good scorer: tpr = 1 - (1 - fpr)^4 (AUROC 0.8 exactly).
        let roc = (0...50).map { i -> ReportROCPoint in
            let fpr = Double(i) / 50
            return ReportROCPoint(fpr: fpr, tpr: 1 - pow(1 - fpr, 4))
        }
        let pr = roc.dropFirst().map { p in
            ReportPRPoint(recall: p.tpr, precision: prevalence * p.tpr / (prevalence * p.tpr + (1 - prevalence) * p.fpr))
        }
        let sweep = (0...50).map { i -> ReportSweepPoint in
            let t = Double(i) / 50
            return ReportSweepPoint(threshold: t, sensitivity: 1 - pow(t, 2.5), specificity: pow(t, 0.6),
                              flaggedRate: 0.3 * exp(-pow((t - 0.35) / 0.12, 2)))
        }
        let bins = (0..<10).map { i -> ReportCalibrationBin in
            let mp = (Double(i) + 0.5) / 10
            return ReportCalibrationBin(meanPredicted: mp, observed: pow(mp, 1.3), count: 240 / (i + 1))
        }
        return ReportDocument(
            title: "dsa-triage evaluation — test split",
            subtitle: "412 series from 3 sites; blocked is the positive class",
            provenance: [
                ReportField("Model", "medgemma-1.5-4b-it (sha256 3f9a0c…)"),
                ReportField("Adapter", "dsa-lora-v2 (sha256 77b1e4…)"),
                ReportField("Profile", "profiles/dsa-default.json (sha256 0c11aa…)"),
                ReportField("Data", "manifest test.csv, 412 rows (sha256 9e2d51…)"),
                ReportField("Software", "dsa-triage 0.4.0"),
                ReportField("Date", "2026-11-30T01:20:00Z"),
            ],
            notes: ["Intervals: Wilson for proportions, stratified bootstrap (2000 resamples, seed 7) for AUROC and AUPRC."],
            warnings: ["Imbalance failure: accuracy 92.0% is below the majority-class baseline 92.0% + margin and blocked sensitivity is 12.1% (< 50%)."],
            metrics: [
                ReportMetric(name: "Prevalence", value: 0.0801, ciLow: 0.0574, ciHigh: 0.1108, note: "Wilson"),
                ReportMetric(name: "Accuracy", value: 0.9199, ciLow: 0.8899, ciHigh: 0.9423, note: "Wilson"),
                ReportMetric(name: "Sensitivity", value: 0.1212, ciLow: 0.0481, ciHigh: 0.2727, note: "Wilson"),
                ReportMetric(name: "Specificity", value: 0.9894, ciLow: 0.9731, ciHigh: 0.9959, note: "Wilson"),
                ReportMetric(name: "PPV", value: 0.5, ciLow: 0.2366, ciHigh: 0.7634, note: "Wilson"),
                ReportMetric(name: "NPV", value: 0.9282, ciLow: 0.8994, ciHigh: 0.9492, note: "Wilson"),
                ReportMetric(name: "Balanced accuracy", value: 0.5553),
                ReportMetric(name: "F1", value: 0.1951, format: .decimal),
                ReportMetric(name: "MCC", value: 0.2167, format: .decimal),
                ReportMetric(name: "AUROC", value: 0.8, ciLow: 0.72, ciHigh: 0.87, format: .decimal, note: "stratified bootstrap"),
                ReportMetric(name: "AUPRC", value: 0.31, ciLow: 0.19, ciHigh: 0.44, format: .decimal, note: "stratified bootstrap"),
                ReportMetric(name: "Brier score", value: 0.071, format: .decimal),
                ReportMetric(name: "ECE", value: 0.043, format: .decimal, note: "10 equal-width bins"),
                ReportMetric(name: "Manual-review rate", value: 0.0631),
            ],
            baseline: ReportBaseline(majorityClass: "patent", accuracy: 0.9199, sensitivity: 0, specificity: 1),
            confusion: ConfusionCounts(tp: 4, fp: 4, tn: 375, fn: 29),
            threshold: 0.5,
            roc: ReportROC(points: roc, auroc: 0.8, operatingPoint: ReportROCPoint(fpr: 0.0106, tpr: 0.1212)),
            pr: ReportPR(points: pr, auprc: 0.31, prevalence: prevalence, operatingPoint: ReportPRPoint(recall: 0.1212, precision: 0.5)),
            calibration: ReportCalibration(bins: bins, ece: 0.043),
            thresholdSweep: ReportThresholdSweep(points: sweep, chosenThreshold: 0.5, targetSensitivity: 0.95),
            subgroupTables: [
                ReportTable(title: "Per site", caption: "Wilson 95% intervals",
                            headers: ["Site", "n", "Prevalence", "Sensitivity", "Specificity"],
                            rows: [["site-a", "180", "7.8%", "14.3% (2.6–51.3%)", "98.8% (95.9–99.7%)"],
                                   ["site-b", "150", "8.0%", "8.3% (1.5–35.4%)", "99.3% (96.0–99.9%)"],
                                   ["site-c", "82", "8.5%", "14.3% (2.6–51.3%)", "98.7% (92.8–99.8%)"]]),
                ReportTable(title: "Per scanner", headers: ["Scanner", "n", "Sensitivity", "Specificity"],
                            rows: [["Vendor X Model 1", "260", "11.8%", "98.9%"], ["Vendor Y Model 2", "152", "12.5%", "99.0%"]]),
                ReportTable(title: "Over time", headers: ["Quarter", "n", "Sensitivity", "Specificity"],
                            rows: [["2025-Q3", "140", "10.0%", "99.2%"], ["2025-Q4", "136", "12.5%", "98.4%"], ["2026-Q1", "136", "13.3%", "99.2%"]]),
            ],
            comparisonTables: [
                ReportTable(title: "Base model prompting vs adapter", caption: "McNemar exact test on decisions; DeLong test on AUROC",
                            headers: ["Run", "Sensitivity", "Specificity", "AUROC", "McNemar p", "DeLong p"],
                            rows: [["base prompting", "3.0%", "99.7%", "0.612", "—", "—"],
                                   ["adapter dsa-lora-v2", "12.1%", "98.9%", "0.800", "0.125", "0.004"]]),
            ])
    }
}

final class ReportHTMLTests: XCTestCase {
    func testEscapeFunction() {
        XCTAssertEqual(HTMLText.escape("<a href='x'>\"&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;")
        XCTAssertEqual(HTMLText.escape("tab\there\nline\u{0}\u{1B}[31m"), "tab\there\nline[31m")
        XCTAssertEqual(HTMLText.escape("Ångström — ✓"), "Ångström — ✓")
    }

    func testAllDocumentTextIsEscaped() {
        let evil = "<script>alert(1)</script>"
        let attr = "x\" onmouseover=\"alert(2)"
        var doc = ReportDocument(title: evil, subtitle: "<img src=x onerror=alert(3)>",
                                 provenance: [ReportField("Data<b>", attr)], notes: ["</p><iframe src=y>"],
                                 warnings: ["<svg onload=alert(4)>"],
                                 metrics: [ReportMetric(name: "a&b<i>", value: 0.5, note: "</td><script>")],
                                 baseline: ReportBaseline(majorityClass: "<u>patent</u>", accuracy: 0.9, sensitivity: 0, specificity: 1))
        doc.subgroupTables = [ReportTable(title: "<h1>site</h1>", caption: "<em>c</em>", headers: ["<th>"], rows: [["</td><script>x</script>", attr]])]
        doc.comparisonTables = [ReportTable(title: "run \(evil)", headers: [evil], rows: [[evil]])]
        let html = HTMLReport.render(doc)
        for bad in ["<script", "<img", "<iframe", "<b>", "<i>", "<u>", "<em>", "<h1>site", "<svg onload", "\" onmouseover"] {
            XCTAssertFalse(html.contains(bad), "unescaped \(bad) in the page")
        }
        XCTAssertTrue(html.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"))
        XCTAssertTrue(html.contains("x&quot; onmouseover=&quot;alert(2)"))
        XCTAssertTrue(html.contains("a&amp;b&lt;i&gt;"))
        XCTAssertTrue(html.contains("&lt;u&gt;patent&lt;/u&gt;"))
    }

    func testFigureIDsConfusionAndAccessibility() {
        let html = HTMLReport.render(ReportSample.document())
        for id in HTMLReport.figureIDs {
            XCTAssertEqual(html.components(separatedBy: "<figure id=\"\(id)\" class=\"chart\">").count - 1, 1, id)
            XCTAssertTrue(html.contains("aria-labelledby=\"\(id)-title \(id)-desc\""), id)
            XCTAssertTrue(html.contains("<title id=\"\(id)-title\">"), id)
            XCTAssertTrue(html.contains("<desc id=\"\(id)-desc\">"), id)
        }
        XCTAssertEqual(html.components(separatedBy: "<svg ").count - 1, 4)
        XCTAssertEqual(html.components(separatedBy: "role=\"img\"").count - 1, 4)
        XCTAssertTrue(html.contains("<table id=\"confusion-matrix\""))
        // Counts and totals: TP 4, FN 29 → 33 blocked; FP 4, TN 375 → 379 patent; columns 8 and 404; 412 in all.
        for cell in ["TP 4</td>", "FN 29</td>", "FP 4</td>", "TN 375</td>", ">33</td>", ">379</td>", ">8</td>", ">404</td>", ">412</td>"] {
            XCTAssertTrue(html.contains(cell), cell)
        }
        XCTAssertTrue(html.contains("<strong>0.500</strong>"))
        XCTAssertTrue(html.contains("Majority-class baseline (always “patent”): accuracy 92.0%, sensitivity 0.0%, specificity 100.0%."))
        XCTAssertTrue(html.contains("<th scope=\"row\">Sensitivity</th><td>12.1%</td><td>4.8% – 27.3%</td><td>Wilson</td>"))
        XCTAssertTrue(html.contains("<th scope=\"row\">AUROC</th><td>0.800</td><td>0.720 – 0.870</td>"))
        XCTAssertTrue(html.contains("<th scope=\"row\">F1</th><td>0.195</td><td>—</td>"))
        for section in ["Per site", "Per scanner", "Over time", "Base model prompting vs adapter"] {
            XCTAssertTrue(html.contains(section), section)
        }
    }

    func testWarningsComeFirstInARedAlertBox() {
        let html = HTMLReport.render(ReportSample.document())
        guard let warn = html.range(of: "<section id=\"warnings\" class=\"warnings\" role=\"alert\""),
              let metrics = html.range(of: "<section id=\"metrics\">"),
              let prov = html.range(of: "<section id=\"provenance\">") else {
            return XCTFail("sections missing")
        }
        XCTAssertLessThan(warn.lowerBound, prov.lowerBound)
        XCTAssertLessThan(warn.lowerBound, metrics.lowerBound)
        XCTAssertTrue(html.contains(".warnings { border: 3px solid #b00020"))
        var quiet = ReportSample.document()
        quiet.warnings = []
        XCTAssertFalse(HTMLReport.render(quiet).contains("id=\"warnings\""))
    }

    func testPageIsSelfContained() {
        let html = HTMLReport.render(ReportSample.document())
        for external in ["<script", "http:", "https:", "src=", "<link", "@import", "url(http", "<img", "<iframe", "<object"] {
            XCTAssertFalse(html.lowercased().contains(external), external)
        }
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("<meta charset=\"utf-8\">"))
        XCTAssertTrue(html.contains("<style>"))
    }

    func testLinearScale() {
        let x = LinearScale(domainLow: 0, domainHigh: 1, rangeLow: 62, rangeHigh: 432)
        XCTAssertEqual(x.map(0), 62)
        XCTAssertEqual(x.map(1), 432)
        XCTAssertEqual(x.map(0.25), 154.5)
        let y = LinearScale(domainLow: 0, domainHigh: 1, rangeLow: 336, rangeHigh: 36)
        XCTAssertEqual(y.map(0.75), 111)
        XCTAssertEqual(y.map(0.1), 306, accuracy: 1e-12)
        XCTAssertEqual(LinearScale(domainLow: 2, domainHigh: 2, rangeLow: 0, rangeHigh: 10).map(5), 5)
    }

    /// Plot area: x from 62 to 432 (370 px), y from 336 (value 0) up to 36 (value 1), 300 px: hand-computed pixels.
    func testKnownPointsLandOnHandComputedPixels() {
        let doc = ReportDocument(
            title: "t",
            roc: ReportROC(points: [ReportROCPoint(fpr: 0, tpr: 0), ReportROCPoint(fpr: 0.25, tpr: 0.75), ReportROCPoint(fpr: 1, tpr: 1)],
                           auroc: 0.75, operatingPoint: ReportROCPoint(fpr: 0.5, tpr: 0.9)),
            pr: ReportPR(points: [ReportPRPoint(recall: 0, precision: 1), ReportPRPoint(recall: 0.6, precision: 0.5), ReportPRPoint(recall: 1, precision: 0.1)],
                         auprc: 0.5, prevalence: 0.1),
            calibration: ReportCalibration(bins: [ReportCalibrationBin(meanPredicted: 0.8, observed: 0.6, count: 25),
                                                  ReportCalibrationBin(meanPredicted: 0.2, observed: 0.1, count: 100)], ece: 0.1),
            thresholdSweep: ReportThresholdSweep(points: [ReportSweepPoint(threshold: 0.6, sensitivity: 0.5, specificity: 0.9),
                                                          ReportSweepPoint(threshold: 0.2, sensitivity: 1, specificity: 0.4)],
                                                 chosenThreshold: 0.55))
        let html = HTMLReport.render(doc)
        // ROC polyline, the chance diagonal and the operating point (0.5, 0.9) → (247, 66).
        XCTAssertTrue(html.contains("points=\"62.00,336.00 154.50,111.00 432.00,36.00\""))
        XCTAssertTrue(html.contains("x1=\"62.00\" y1=\"336.00\" x2=\"432.00\" y2=\"36.00\""))
        XCTAssertTrue(html.contains("class=\"operating-point\" cx=\"247.00\" cy=\"66.00\""))
        // PR: (0.6, 0.5) → (284, 186); prevalence 0.1 → horizontal line at y 306.
        XCTAssertTrue(html.contains("points=\"62.00,36.00 284.00,186.00 432.00,306.00\""))
        XCTAssertTrue(html.contains("x1=\"62.00\" y1=\"306.00\" x2=\"432.00\" y2=\"306.00\""))
        // Calibration, sorted by mean predicted: (0.2, 0.1) → (136, 306) radius 3 + 7 = 10; (0.8, 0.6) → (358, 156)
        // radius 3 + 7·sqrt(25/100) = 6.5.
        XCTAssertTrue(html.contains("points=\"136.00,306.00 358.00,156.00\""))
        XCTAssertTrue(html.contains("cx=\"136.00\" cy=\"306.00\" r=\"10.00\""))
        XCTAssertTrue(html.contains("cx=\"358.00\" cy=\"156.00\" r=\"6.50\""))
        // Sweep, sorted by threshold: sensitivity (0.2, 1) → (136, 36), (0.6, 0.5) → (284, 186); specificity
        // (136, 216), (284, 66); chosen threshold 0.55 → vertical at x 265.5; marker on the nearest row (0.6).
        XCTAssertTrue(html.contains("points=\"136.00,36.00 284.00,186.00\""))
        XCTAssertTrue(html.contains("points=\"136.00,216.00 284.00,66.00\""))
        XCTAssertTrue(html.contains("x1=\"265.50\" y1=\"336.00\" x2=\"265.50\" y2=\"36.00\""))
        XCTAssertTrue(html.contains("class=\"operating-point\" cx=\"284.00\" cy=\"186.00\""))
        XCTAssertTrue(html.contains("at threshold 0.600"))
        // Tick labels 0.0 … 1.0 on both axes of every chart.
        XCTAssertEqual(html.components(separatedBy: ">0.4</text>").count - 1, 8)
    }

    func testDegenerateCurvesRenderANotDefinedNote() {
        let nan = Double.nan
        let doc = ReportDocument(
            title: "degenerate",
            metrics: [ReportMetric(name: "Sensitivity", value: nan, ciLow: nan, ciHigh: 0.2),
                      ReportMetric(name: "AUROC", value: nil, format: .decimal),
                      ReportMetric(name: "MCC", value: .infinity, format: .decimal)],
            threshold: nan,
            roc: ReportROC(points: [], auroc: nil),
            pr: ReportPR(points: [ReportPRPoint(recall: 1, precision: 0.3)], auprc: nan, prevalence: nan),
            calibration: ReportCalibration(bins: [ReportCalibrationBin(meanPredicted: nan, observed: 0.5, count: 3),
                                                  ReportCalibrationBin(meanPredicted: 0.5, observed: 0.5, count: 0)], ece: nan),
            thresholdSweep: ReportThresholdSweep(points: [ReportSweepPoint(threshold: nan, sensitivity: nan, specificity: nan),
                                                          ReportSweepPoint(threshold: 0.5, sensitivity: 2, specificity: 0.5)],
                                                 chosenThreshold: nan))
        let html = HTMLReport.render(doc)
        XCTAssertFalse(html.contains("<svg"))
        for id in HTMLReport.figureIDs {
            XCTAssertTrue(html.contains("<figure id=\"\(id)\" class=\"chart undefined\">"), id)
        }
        XCTAssertTrue(html.contains("ROC curve not defined: no points"))
        XCTAssertTrue(html.contains("Precision-recall curve not defined: only one usable point"))
        XCTAssertTrue(html.contains("Calibration not defined: no bin has cases"))
        XCTAssertTrue(html.contains("Threshold sweep not defined: no point has finite coordinates"))
        XCTAssertTrue(html.contains("<th scope=\"row\">Sensitivity</th><td class=\"not-defined\">not defined</td><td>—</td>"))
        XCTAssertTrue(html.contains("<th scope=\"row\">AUROC</th><td class=\"not-defined\">not defined</td>"))
        XCTAssertTrue(html.contains("<th scope=\"row\">MCC</th><td class=\"not-defined\">not defined</td>"))
        XCTAssertTrue(html.contains("<strong>not defined</strong>"))
        XCTAssertTrue(html.contains("<p id=\"confusion-matrix\" class=\"not-defined\">"))
        // Swift writes non-finite doubles "nan", "inf", "-inf": no such word may reach the page.
        let words = Set(html.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init))
        XCTAssertFalse(words.contains("nan"))
        XCTAssertFalse(words.contains("inf"))
        XCTAssertFalse(words.contains("infinity"))

        // Absent curves also say so; a curve with some bad points is drawn from the good ones and says how many were dropped.
        let none = HTMLReport.render(ReportDocument(title: "none"))
        XCTAssertTrue(none.contains("ROC curve not available"))
        let partial = HTMLReport.render(ReportDocument(title: "p", roc: ReportROC(
            points: [ReportROCPoint(fpr: 0, tpr: 0), ReportROCPoint(fpr: nan, tpr: 0.5), ReportROCPoint(fpr: 0.5, tpr: 1.5), ReportROCPoint(fpr: 1, tpr: 1)], auroc: 0.5)))
        XCTAssertTrue(partial.contains("points=\"62.00,336.00 432.00,36.00\""))
        XCTAssertTrue(partial.contains("2 points with non-finite or out-of-range values omitted."))
    }

    func testNumberFormatting() {
        XCTAssertEqual(HTMLText.number(0.947, .percent), "94.7%")
        XCTAssertEqual(HTMLText.number(0, .percent), "0.0%")
        XCTAssertEqual(HTMLText.number(1, .percent), "100.0%")
        XCTAssertEqual(HTMLText.number(0.91249, .decimal), "0.912")
        XCTAssertEqual(HTMLText.number(-0.0004, .decimal), "0.000")
        XCTAssertEqual(HTMLText.number(-0.25, .decimal), "-0.250")
        XCTAssertEqual(HTMLText.number(0.004, .decimal), "0.004")
        XCTAssertEqual(HTMLText.number(412, .count), "412")
        XCTAssertEqual(HTMLText.number(nil, .count), "not defined")
        XCTAssertEqual(HTMLText.interval(0.1, 0.25, .percent), "10.0% – 25.0%")
        XCTAssertNil(HTMLText.interval(nil, 0.25, .percent))
        XCTAssertNil(HTMLText.interval(0.1, .nan, .percent))
        XCTAssertEqual(HTMLText.fixed(1e300, decimals: 2), String(1e300))
    }

    func testRaggedTablesArePaddedAndEmptyTablesSaySo() {
        let doc = ReportDocument(title: "t", subgroupTables: [
            ReportTable(title: "ragged", headers: ["a", "b", "c"], rows: [["x"], ["1", "2", "3", "4"]]),
            ReportTable(title: "empty", headers: ["a"], rows: []),
        ])
        let html = HTMLReport.render(doc)
        XCTAssertTrue(html.contains("<th scope=\"col\">a</th><th scope=\"col\">b</th><th scope=\"col\">c</th><th scope=\"col\"></th>"))
        XCTAssertTrue(html.contains("<tr><th scope=\"row\">x</th><td></td><td></td><td></td></tr>"))
        XCTAssertTrue(html.contains("<tr><th scope=\"row\">1</th><td>2</td><td>3</td><td>4</td></tr>"))
        XCTAssertTrue(html.contains("<td colspan=\"1\" class=\"not-defined\">no rows</td>"))
        XCTAssertTrue(html.contains("id=\"subgroup-1\"") && html.contains("id=\"subgroup-2\""))
    }

    func testDocumentRoundTripsThroughJSON() throws {
        let doc = ReportSample.document()
        let data = try JSONEncoder().encode(doc)
        let back = try JSONDecoder().decode(ReportDocument.self, from: data)
        XCTAssertEqual(back, doc)
        XCTAssertEqual(HTMLReport.render(back), HTMLReport.render(doc))
    }
}

final class ReportWritingTests: XCTestCase {
    func testWritesThePageAndNamesTheFileOnFailure() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("report-write-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("report.html")
        let doc = ReportSample.document()
        try HTMLReport.write(doc, to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), HTMLReport.render(doc))

        let bad = dir.appendingPathComponent("missing-dir/report.html")
        XCTAssertThrowsError(try HTMLReport.write(doc, to: bad)) { error in
            XCTAssertTrue(String(describing: error).contains(bad.path), String(describing: error))
        }
    }
}
