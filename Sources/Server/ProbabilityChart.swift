import Foundation

/// The geometry of the case page's P(blocked) drawing: a 0–1 axis with the review band shaded, the
/// threshold as a line and the case's P(blocked) as a marker. Only numbers leave here; the template draws.
struct ProbabilityChart {
    static let width = 600.0
    static let left = 20.0
    static let right = 20.0

    let pBlocked: Double
    let threshold: Double?
    let bandLow: Double?
    let bandHigh: Double?

    /// Horizontal position of a probability (clamped to the axis).
    static func x(_ p: Double) -> Double {
        let clamped = min(1, max(0, p.isFinite ? p : 0))
        return left + clamped * (width - left - right)
    }

    /// Values for the template (numbers pre-formatted; none comes from user input).
    var templateValues: [String: Any] {
        var values: [String: Any] = [
            "width": Self.format(Self.width),
            "axisStart": Self.format(Self.left),
            "axisEnd": Self.format(Self.width - Self.right),
            "markerX": Self.format(Self.x(pBlocked)),
            "pBlocked": String(format: "%.3f", pBlocked),
            "ticks": stride(from: 0.0, through: 1.0, by: 0.25).map { ["x": Self.format(Self.x($0)), "label": String(format: "%.2f", $0)] },
        ]
        if let threshold {
            values["threshold"] = ["x": Self.format(Self.x(threshold)), "label": String(format: "%.3f", threshold)]
        }
        if let bandLow, let bandHigh, bandHigh >= bandLow {
            values["band"] = ["x": Self.format(Self.x(bandLow)), "width": Self.format(Self.x(bandHigh) - Self.x(bandLow)),
                              "label": String(format: "%.3f–%.3f", bandLow, bandHigh)]
        }
        return values
    }

    static func format(_ v: Double) -> String { String(format: "%.1f", v) }
}
