/// Maps a data interval linearly onto a pixel interval (the pixel interval may run backwards, as the y axis does).
struct LinearScale: Sendable, Equatable {
    var domainLow: Double
    var domainHigh: Double
    var rangeLow: Double
    var rangeHigh: Double

    func map(_ value: Double) -> Double {
        let span = domainHigh - domainLow
        guard span != 0, span.isFinite else { return (rangeLow + rangeHigh) / 2 }
        return rangeLow + (value - domainLow) / span * (rangeHigh - rangeLow)
    }
}

/// A 2-D data point of a chart.
struct ChartPoint: Sendable, Equatable {
    var x: Double
    var y: Double
    /// Marker radius in pixels, for marker series (calibration bins scale it with the bin count).
    var radius: Double = 4
}

/// One drawn data series.
struct ChartSeries: Sendable {
    enum Style: Sendable { case line, markers, lineAndMarkers }
    var label: String
    var points: [ChartPoint]
    var color: String
    var dash: String? = nil
    var style: Style = .line
}

/// A straight guide between two data points (chance diagonal, prevalence, chosen threshold).
struct ChartGuide: Sendable {
    var label: String
    var from: ChartPoint
    var to: ChartPoint
    var color: String
    var dash: String? = "6 4"
}

/// A highlighted single point (the operating point).
struct ChartMarker: Sendable {
    var label: String
    var point: ChartPoint
    var color: String
}

/// What one figure shows; `SVGChart.render` turns it into inline SVG.
struct ChartSpec: Sendable {
    var id: String
    var title: String
    /// Longer text for screen readers (`<desc>`).
    var description: String
    var xLabel: String
    var yLabel: String
    var xDomain: (Double, Double) = (0, 1)
    var yDomain: (Double, Double) = (0, 1)
    var guides: [ChartGuide] = []
    var series: [ChartSeries] = []
    var markers: [ChartMarker] = []
}

/// A small SVG plotter for the report's four charts: axes with ticks and labels, grid, guides, series,
/// markers and a legend below the plot. Output uses only presentation attributes, no scripts, no external refs.
enum SVGChart {
    static let width = 460.0
    static let plotLeft = 62.0
    static let plotTop = 36.0
    static let plotWidth = 370.0
    static let plotHeight = 300.0
    static let legendRow = 18.0
    static let tickCount = 5

    static func xScale(_ spec: ChartSpec) -> LinearScale {
        LinearScale(domainLow: spec.xDomain.0, domainHigh: spec.xDomain.1, rangeLow: plotLeft, rangeHigh: plotLeft + plotWidth)
    }

    static func yScale(_ spec: ChartSpec) -> LinearScale {
        LinearScale(domainLow: spec.yDomain.0, domainHigh: spec.yDomain.1, rangeLow: plotTop + plotHeight, rangeHigh: plotTop)
    }

    static func legendTop() -> Double { plotTop + plotHeight + 56 }

    static func height(_ spec: ChartSpec) -> Double {
        legendTop() + Double(legendEntries(spec).count) * legendRow + 8
    }

    /// Pixel coordinate text, two decimals.
    static func coord(_ v: Double) -> String { HTMLText.fixed(v, decimals: 2) }

    private enum LegendSymbol { case line(String, String?), marker(String) }

    private static func legendEntries(_ spec: ChartSpec) -> [(String, LegendSymbol)] {
        var entries: [(String, LegendSymbol)] = []
        for s in spec.series {
            switch s.style {
            case .markers: entries.append((s.label, .marker(s.color)))
            case .line, .lineAndMarkers: entries.append((s.label, .line(s.color, s.dash)))
            }
        }
        for g in spec.guides { entries.append((g.label, .line(g.color, g.dash))) }
        for m in spec.markers { entries.append((m.label, .marker(m.color))) }
        return entries
    }

    static func render(_ spec: ChartSpec) -> String {
        let e = HTMLText.escape
        let xs = xScale(spec), ys = yScale(spec)
        let h = height(spec)
        let titleID = "\(spec.id)-title", descID = "\(spec.id)-desc", clipID = "\(spec.id)-clip"
        var s = "<svg class=\"chart-svg\" role=\"img\" aria-labelledby=\"\(e(titleID)) \(e(descID))\" "
        s += "width=\"\(coord(width))\" height=\"\(coord(h))\" viewBox=\"0 0 \(coord(width)) \(coord(h))\" "
        s += "font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<title id=\"\(e(titleID))\">\(e(spec.title))</title>\n"
        s += "<desc id=\"\(e(descID))\">\(e(spec.description))</desc>\n"
        s += "<defs><clipPath id=\"\(e(clipID))\"><rect x=\"\(coord(plotLeft))\" y=\"\(coord(plotTop))\" "
        s += "width=\"\(coord(plotWidth))\" height=\"\(coord(plotHeight))\"/></clipPath></defs>\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(coord(width))\" height=\"\(coord(h))\" fill=\"#ffffff\"/>\n"
        s += "<text x=\"\(coord(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(e(spec.title))</text>\n"

        // Grid, ticks and tick labels.
        s += "<g class=\"axes\" stroke=\"#000000\">\n"
        for i in 0...tickCount {
            let f = Double(i) / Double(tickCount)
            let xv = spec.xDomain.0 + f * (spec.xDomain.1 - spec.xDomain.0)
            let yv = spec.yDomain.0 + f * (spec.yDomain.1 - spec.yDomain.0)
            let px = xs.map(xv), py = ys.map(yv)
            s += "<line x1=\"\(coord(px))\" y1=\"\(coord(plotTop))\" x2=\"\(coord(px))\" y2=\"\(coord(plotTop + plotHeight))\" stroke=\"#e3e3e3\"/>"
            s += "<line x1=\"\(coord(plotLeft))\" y1=\"\(coord(py))\" x2=\"\(coord(plotLeft + plotWidth))\" y2=\"\(coord(py))\" stroke=\"#e3e3e3\"/>\n"
            s += "<line x1=\"\(coord(px))\" y1=\"\(coord(plotTop + plotHeight))\" x2=\"\(coord(px))\" y2=\"\(coord(plotTop + plotHeight + 5))\"/>"
            s += "<line x1=\"\(coord(plotLeft - 5))\" y1=\"\(coord(py))\" x2=\"\(coord(plotLeft))\" y2=\"\(coord(py))\"/>\n"
            s += "<text x=\"\(coord(px))\" y=\"\(coord(plotTop + plotHeight + 18))\" text-anchor=\"middle\" stroke=\"none\" fill=\"#000000\">\(HTMLText.fixed(xv, decimals: 1))</text>"
            s += "<text x=\"\(coord(plotLeft - 8))\" y=\"\(coord(py + 4))\" text-anchor=\"end\" stroke=\"none\" fill=\"#000000\">\(HTMLText.fixed(yv, decimals: 1))</text>\n"
        }
        s += "<rect x=\"\(coord(plotLeft))\" y=\"\(coord(plotTop))\" width=\"\(coord(plotWidth))\" height=\"\(coord(plotHeight))\" fill=\"none\"/>\n"
        s += "</g>\n"
        s += "<text class=\"x-label\" x=\"\(coord(plotLeft + plotWidth / 2))\" y=\"\(coord(plotTop + plotHeight + 38))\" text-anchor=\"middle\">\(e(spec.xLabel))</text>\n"
        let yMid = plotTop + plotHeight / 2
        s += "<text class=\"y-label\" x=\"16\" y=\"\(coord(yMid))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(coord(yMid)))\">\(e(spec.yLabel))</text>\n"

        // Data, clipped to the plot area.
        s += "<g clip-path=\"url(#\(e(clipID)))\">\n"
        for g in spec.guides {
            s += "<line class=\"guide\" x1=\"\(coord(xs.map(g.from.x)))\" y1=\"\(coord(ys.map(g.from.y)))\" "
            s += "x2=\"\(coord(xs.map(g.to.x)))\" y2=\"\(coord(ys.map(g.to.y)))\" stroke=\"\(e(g.color))\" stroke-width=\"1.5\""
            if let d = g.dash { s += " stroke-dasharray=\"\(e(d))\"" }
            s += "/>\n"
        }
        for series in spec.series {
            let pts = series.points
            if series.style != .markers && pts.count >= 2 {
                let list = pts.map { "\(coord(xs.map($0.x))),\(coord(ys.map($0.y)))" }.joined(separator: " ")
                s += "<polyline class=\"series\" points=\"\(list)\" fill=\"none\" stroke=\"\(e(series.color))\" stroke-width=\"2\""
                if let d = series.dash { s += " stroke-dasharray=\"\(e(d))\"" }
                s += "/>\n"
            }
            if series.style != .line {
                for p in pts {
                    s += "<circle class=\"point\" cx=\"\(coord(xs.map(p.x)))\" cy=\"\(coord(ys.map(p.y)))\" r=\"\(coord(p.radius))\" "
                    s += "fill=\"\(e(series.color))\" fill-opacity=\"0.75\" stroke=\"#ffffff\"/>\n"
                }
            }
        }
        for m in spec.markers {
            let cx = coord(xs.map(m.point.x)), cy = coord(ys.map(m.point.y))
            s += "<circle class=\"operating-point\" cx=\"\(cx)\" cy=\"\(cy)\" r=\"6\" fill=\"none\" stroke=\"\(e(m.color))\" stroke-width=\"2.5\"/>"
            s += "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"2\" fill=\"\(e(m.color))\"/>\n"
        }
        s += "</g>\n"

        // Legend below the plot.
        var y = legendTop()
        s += "<g class=\"legend\">\n"
        for (label, symbol) in legendEntries(spec) {
            let x0 = plotLeft
            switch symbol {
            case .line(let color, let dash):
                s += "<line x1=\"\(coord(x0))\" y1=\"\(coord(y - 4))\" x2=\"\(coord(x0 + 26))\" y2=\"\(coord(y - 4))\" stroke=\"\(e(color))\" stroke-width=\"2\""
                if let d = dash { s += " stroke-dasharray=\"\(e(d))\"" }
                s += "/>"
            case .marker(let color):
                s += "<circle cx=\"\(coord(x0 + 13))\" cy=\"\(coord(y - 4))\" r=\"5\" fill=\"none\" stroke=\"\(e(color))\" stroke-width=\"2.5\"/>"
            }
            s += "<text x=\"\(coord(x0 + 34))\" y=\"\(coord(y))\">\(e(label))</text>\n"
            y += legendRow
        }
        s += "</g>\n</svg>"
        return s
    }
}
