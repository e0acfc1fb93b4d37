import Foundation

/// Everything one monitoring run computes; encodes as `monitoring.json` (`jsonData()`).
public struct MonitoringReport: Sendable, Equatable, Codable {
    /// The time the figures are relative to.
    public var now: Date
    /// Cases decided before this were left out.
    public var since: Date?
    public var referenceSource: String?
    public var configuration: MonitoringConfiguration
    public var groundTruth: GroundTruthSummary
    /// Keyed `last_30_days`, `last_90_days`, `last_200_verdicts`, …; `windowOrder` lists them in page order.
    public var windows: [String: WindowFigures]
    public var windowOrder: [String]
    public var cusum: CUSUMFigures
    /// Current alert conditions (what the service raises and resolves).
    public var conditions: [AlertCondition]
    /// Conditions joined with the stored alerts passed in.
    public var alerts: [MonitoringAlert]
    /// Weekly overall figures, oldest first, for the dashboard's charts.
    public var series: [WeeklyPoint]
    /// P(blocked) bins against the observed blocked share on adjudicated cases (largest day window, overall).
    public var calibration: [CalibrationBin]
    /// P(blocked) in the alert window (overall) against the reference.
    public var histogram: PBlockedHistogram?

    enum CodingKeys: String, CodingKey {
        case now, since, referenceSource = "reference_source", configuration, groundTruth = "ground_truth", windows
        case windowOrder = "window_order", cusum, conditions, alerts, series, calibration, histogram
    }

    /// Pretty, key-sorted JSON with ISO 8601 dates.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return try e.encode(self)
    }

    /// Reads monitoring.json back (the dashboard and tests).
    public static func decode(_ data: Data) throws -> MonitoringReport {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return try d.decode(MonitoringReport.self, from: data)
    }
}

/// How labels were derived and how many cases carry one.
public struct GroundTruthSummary: Sendable, Equatable, Codable {
    public var rule: String
    public var cases: Int
    public var triaged: Int
    public var adjudicated: Int
    public var nonDiagnosticOnly: Int
    public var disagreements: Int

    enum CodingKeys: String, CodingKey {
        case rule, cases, triaged, adjudicated, nonDiagnosticOnly = "non_diagnostic_only", disagreements
    }
}

/// One window: its span and the figures per group (`overall`, `site=…`, `manufacturer=…`, …).
public struct WindowFigures: Sendable, Equatable, Codable {
    public var label: String
    public var from: Date?
    public var to: Date
    public var groups: [String: GroupFigures]
}

/// The two CUSUM charts per group, over every case passed (since `since`), in decision order.
public struct CUSUMFigures: Sendable, Equatable, Codable {
    public var falseNegative: [String: CUSUMState]
    public var reviewRate: [String: CUSUMState]

    enum CodingKeys: String, CodingKey { case falseNegative = "false_negative", reviewRate = "review_rate" }
}

/// One week of overall figures.
public struct WeeklyPoint: Sendable, Equatable, Codable {
    public var start: Date
    public var end: Date
    public var cases: Int
    public var triaged: Int
    public var sensitivity: Estimate
    public var specificity: Estimate
    public var weightedSensitivity: Estimate
    public var weightedSpecificity: Estimate
    public var reviewRate: Estimate

    enum CodingKeys: String, CodingKey {
        case start, end, cases, triaged, sensitivity, specificity, weightedSensitivity = "weighted_sensitivity"
        case weightedSpecificity = "weighted_specificity", reviewRate = "review_rate"
    }
}

/// One calibration bin: adjudicated cases whose P(blocked) fell in [low, high).
public struct CalibrationBin: Sendable, Equatable, Codable {
    public var low: Double
    public var high: Double
    public var n: Int
    public var meanPBlocked: Double?
    public var observed: Estimate
    public var weighted: Estimate

    enum CodingKeys: String, CodingKey { case low, high, n, meanPBlocked = "mean_p_blocked", observed, weighted }
}

/// Shares of P(blocked) per bin now and in the reference.
public struct PBlockedHistogram: Sendable, Equatable, Codable {
    /// Interior bin edges (the outer bins are open-ended).
    public var edges: [Double]
    public var counts: [Int]
    public var shares: [Double]
    public var referenceShares: [Double]?
    public var n: Int

    enum CodingKeys: String, CodingKey { case edges, counts, shares, referenceShares = "reference_shares", n }
}
