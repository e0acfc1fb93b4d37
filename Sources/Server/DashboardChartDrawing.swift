import Foundation

/// The numbers of a dashboard chart's SVG: polylines for each series, a shaded band where points carry an
/// interval, grid lines and the reference line. Text (titles, series names) passes through to the
/// template, which escapes it.
enum DashboardChartDrawing {
    static let width = 640.0
    static let height = 220.0
    static let padLeft = 40.0
    static let padRight = 10.0
    static let padTop = 10.0
    static let padBottom = 20.0

    static func templateValues(_ chart: DashboardFigures.Chart) -> [String: Any] {
        let points = chart.series.flatMap(\.points).filter { $0.value.isFinite }
        var values: [String: Any] = ["title": chart.title, "width": format(width), "height": format(height)]
        guard let firstDate = points.map(\.at).min(), let lastDate = points.map(\.at).max() else {
            values["lines"] = [[String: Any]]()
            return values
        }
        var yRange: ClosedRange<Double>
        if let given = chart.yRange {
            yRange = given
        } else {
            let all = points.flatMap { [$0.value, $0.low, $0.high].compactMap { $0 }.filter(\.isFinite) } + [chart.referenceLine].compactMap { $0 }
            yRange = (all.min() ?? 0)...(all.max() ?? 1)
        }
        if yRange.upperBound - yRange.lowerBound < 1e-12 { yRange = (yRange.lowerBound - 0.5)...(yRange.upperBound + 0.5) }
        let span = max(lastDate.timeIntervalSince(firstDate), 1)
        func x(_ date: Date) -> Double { padLeft + date.timeIntervalSince(firstDate) / span * (width - padLeft - padRight) }
        func y(_ v: Double) -> Double {
            let clamped = min(yRange.upperBound, max(yRange.lowerBound, v))
            return padTop + (yRange.upperBound - clamped) / (yRange.upperBound - yRange.lowerBound) * (height - padTop - padBottom)
        }
        let colors = ["#1f4e9c", "#b00020", "#1b6e20", "#8a5a00"]
        values["lines"] = chart.series.enumerated().map { index, series -> [String: Any] in
            let sorted = series.points.filter { $0.value.isFinite }.sorted { $0.at < $1.at }
            var line: [String: Any] = [
                "name": series.name, "index": index % colors.count, "color": colors[index % colors.count],
                "points": sorted.map { "\(format(x($0.at))),\(format(y($0.value)))" }.joined(separator: " "),
            ]
            let banded = sorted.filter { $0.low.map(\.isFinite) == true && $0.high.map(\.isFinite) == true }
            if banded.count >= 2 {
                let upper = banded.map { "\(format(x($0.at))),\(format(y($0.high ?? $0.value)))" }
                let lower = banded.reversed().map { "\(format(x($0.at))),\(format(y($0.low ?? $0.value)))" }
                line["band"] = (upper + lower).joined(separator: " ")
            }
            return line
        }
        values["gridLines"] = (0...4).map { step -> [String: Any] in
            let v = yRange.lowerBound + Double(step) / 4 * (yRange.upperBound - yRange.lowerBound)
            return ["y": format(y(v)), "x1": format(padLeft), "x2": format(width - padRight), "label": String(format: "%.2f", v)]
        }
        if let reference = chart.referenceLine, reference.isFinite {
            values["reference"] = ["y": format(y(reference)), "x1": format(padLeft), "x2": format(width - padRight),
                                   "label": chart.referenceLabel ?? String(format: "%.3f", reference)]
        }
        values["xStart"] = ReviewFormat.day(firstDate)
        values["xEnd"] = ReviewFormat.day(lastDate)
        return values
    }

    static func format(_ v: Double) -> String { String(format: "%.1f", v) }
}
