import Foundation

/// Writes `report.html` for a result: one self-contained page, readable offline.
public func writeReport(result: EvaluationResult, to url: URL) throws {
    func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
    func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "—" }
    var rows = ""
    for name in MetricEngine.names {
        let m = result.metrics[name] ?? .undefined
        let ci = m.ci.map { "[\(f($0[0])), \(f($0[1]))]" } ?? "—"
        rows += "<tr><td>\(name)</td><td>\(f(m.value))</td><td>\(ci)</td></tr>\n"
    }
    let c = result.confusion
    let warnings = result.warnings.map { "<li>\(esc($0))</li>" }.joined()
    let html = """
    <!DOCTYPE html>
    <html lang="en"><head><meta charset="utf-8"><title>dsa-triage evaluation</title>
    <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px}</style>
    </head><body>
    <h1>dsa-triage evaluation</h1>
    <p>Split: \(esc(result.evaluatedSplit)) · n = \(result.n) · threshold \(f(result.threshold)) · decisions: \(esc(result.decisionSource))</p>
    <p>\(esc(result.imbalance.message))</p>
    <ul>\(warnings)</ul>
    <table><tr><th>metric</th><th>value</th><th>95 % interval</th></tr>
    \(rows)</table>
    <h2>Confusion matrix (manual review counted as a flag)</h2>
    <table><tr><th></th><th>flagged</th><th>patent</th></tr>
    <tr><th>blocked</th><td>\(c.tp)</td><td>\(c.fn)</td></tr>
    <tr><th>patent</th><td>\(c.fp)</td><td>\(c.tn)</td></tr></table>
    </body></html>

    """
    try Data(html.utf8).write(to: url)
}
