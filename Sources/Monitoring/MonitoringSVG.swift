import Foundation

/// Small inline-SVG charts for report.html: lines with interval whiskers over time, paired bars, and a
/// calibration scatter. Presentation attributes only; no scripts, no external references.
enum MonitoringSVG {
    struct Series {
        var label: String
        var color: String
        /// (x, y, interval) with x and y in data units.
        var points: [(x: Double, y: Double, ci: [Double]?)]
        var dashed = false
    }

    static let width = 520.0, height = 300.0, left = 56.0, right = 16.0, top = 34.0, bottom = 78.0

    static func n(_ v: Double) -> String { String(format: "%.1f", v) }

    /// A line chart; `xLabels` are tick labels at data x positions.
    static func lines(id: String, title: String, yLabel: String, series: [Series], xDomain: (Double, Double),
                      yDomain: (Double, Double) = (0, 1), xLabels: [(Double, String)], guides: [(label: String, y: Double)] = []) -> String {
        let e = HTMLEscape.text
        let pw = width - left - right, ph = height - top - bottom
        func px(_ x: Double) -> Double { xDomain.1 == xDomain.0 ? left + pw / 2 : left + (x - xDomain.0) / (xDomain.1 - xDomain.0) * pw }
        func py(_ y: Double) -> Double { top + ph - (min(max(y, yDomain.0), yDomain.1) - yDomain.0) / (yDomain.1 - yDomain.0) * ph }
        var s = frame(id: id, title: title, yLabel: yLabel, yDomain: yDomain)
        for (x, label) in xLabels {
            s += "<text x=\"\(n(px(x)))\" y=\"\(n(top + ph + 16))\" text-anchor=\"middle\" font-size=\"10\">\(e(label))</text>\n"
        }
        for g in guides {
            s += "<line x1=\"\(n(left))\" y1=\"\(n(py(g.y)))\" x2=\"\(n(left + pw))\" y2=\"\(n(py(g.y)))\" stroke=\"#b00020\" stroke-dasharray=\"6 4\"/>"
            s += "<text x=\"\(n(left + pw - 4))\" y=\"\(n(py(g.y) - 4))\" text-anchor=\"end\" font-size=\"10\" fill=\"#b00020\">\(e(g.label))</text>\n"
        }
        for sr in series {
            let pts = sr.points.filter { $0.y.isFinite }
            if pts.count >= 2 {
                let list = pts.map { "\(n(px($0.x))),\(n(py($0.y)))" }.joined(separator: " ")
                s += "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(e(sr.color))\" stroke-width=\"2\"\(sr.dashed ? " stroke-dasharray=\"5 3\"" : "")/>\n"
            }
            for p in pts {
                if let ci = p.ci, ci.count == 2 {
                    s += "<line x1=\"\(n(px(p.x)))\" y1=\"\(n(py(ci[0])))\" x2=\"\(n(px(p.x)))\" y2=\"\(n(py(ci[1])))\" stroke=\"\(e(sr.color))\" stroke-opacity=\"0.5\"/>"
                }
                s += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"2.5\" fill=\"\(e(sr.color))\"/>\n"
            }
        }
        return s + legend(series.map { ($0.label, $0.color) }) + "</svg>"
    }

    /// Paired bars per bin (current against reference).
    static func bars(id: String, title: String, yLabel: String, labels: [String], current: [Double], reference: [Double]?) -> String {
        let e = HTMLEscape.text
        let pw = width - left - right, ph = height - top - bottom
        let top = max(current.max() ?? 0, reference?.max() ?? 0, 0.01) * 1.1
        var s = frame(id: id, title: title, yLabel: yLabel, yDomain: (0, top))
        let slot = pw / Double(max(labels.count, 1))
        for (i, label) in labels.enumerated() {
            let x0 = left + Double(i) * slot
            let bw = reference == nil ? slot * 0.7 : slot * 0.38
            let hCur = (i < current.count ? current[i] : 0) / top * ph
            s += "<rect x=\"\(n(x0 + slot * 0.1))\" y=\"\(n(Self.top + ph - hCur))\" width=\"\(n(bw))\" height=\"\(n(hCur))\" fill=\"#1f6fb2\"/>"
            if let r = reference, i < r.count {
                let hRef = r[i] / top * ph
                s += "<rect x=\"\(n(x0 + slot * 0.1 + bw))\" y=\"\(n(Self.top + ph - hRef))\" width=\"\(n(bw))\" height=\"\(n(hRef))\" fill=\"#9aa5b1\"/>"
            }
            s += "<text x=\"\(n(x0 + slot / 2))\" y=\"\(n(Self.top + ph + 16))\" text-anchor=\"middle\" font-size=\"9\">\(e(label))</text>\n"
        }
        var keys = [("current", "#1f6fb2")]
        if reference != nil { keys.append(("reference", "#9aa5b1")) }
        return s + legend(keys) + "</svg>"
    }

    /// Axes, grid and y ticks of a chart; the caller adds data and closes the element.
    static func frame(id: String, title: String, yLabel: String, yDomain: (Double, Double)) -> String {
        let e = HTMLEscape.text
        let pw = width - left - right, ph = height - top - bottom
        var s = "<svg id=\"\(e(id))\" role=\"img\" aria-label=\"\(e(title))\" width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<title>\(e(title))</title>\n<rect width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#ffffff\"/>\n"
        s += "<text x=\"\(n(width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(e(title))</text>\n"
        for i in 0...4 {
            let v = yDomain.0 + Double(i) / 4 * (yDomain.1 - yDomain.0)
            let y = top + ph - Double(i) / 4 * ph
            s += "<line x1=\"\(n(left))\" y1=\"\(n(y))\" x2=\"\(n(left + pw))\" y2=\"\(n(y))\" stroke=\"#e3e3e3\"/>"
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(y + 4))\" text-anchor=\"end\">\(String(format: "%.2f", v))</text>\n"
        }
        s += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(pw))\" height=\"\(n(ph))\" fill=\"none\" stroke=\"#000000\"/>\n"
        s += "<text x=\"14\" y=\"\(n(top + ph / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(n(top + ph / 2)))\">\(e(yLabel))</text>\n"
        return s
    }

    static func legend(_ keys: [(String, String)]) -> String {
        let e = HTMLEscape.text
        var s = "", x = left
        let y = height - 22
        for (label, color) in keys {
            s += "<rect x=\"\(n(x))\" y=\"\(n(y - 9))\" width=\"12\" height=\"10\" fill=\"\(e(color))\"/>"
            s += "<text x=\"\(n(x + 16))\" y=\"\(n(y))\">\(e(label))</text>\n"
            x += 24 + Double(label.count) * 6.5
        }
        return s
    }
}
