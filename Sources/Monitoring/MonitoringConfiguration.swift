import Foundation

/// How P(blocked) is binned for PSI, the histogram and the calibration plot.
public enum PSIBinning: String, Sendable, Codable, CaseIterable {
    /// Equal-width bins over [0, 1] (the default: stable edges, comparable across references).
    case uniform
    /// Bins at the reference sample's quantiles (deciles for 10 bins): equal reference mass per bin.
    case referenceQuantiles = "reference_quantiles"
}

/// What the monitor computes and when an alert condition holds. The defaults suit a service that reviews
/// every manual-review case and audits about 30 % of patent and 10 % of blocked calls; see docs/MONITORING.md
/// for tuning the CUSUM rates to other audit fractions.
public struct MonitoringConfiguration: Sendable, Equatable, Codable {
    /// Rolling windows in days back from `now`.
    public var windowDays: [Int] = [30, 90]
    /// The "last N verdicts" window (0: none).
    public var lastVerdicts: Int = 200
    /// The window (in days) whose figures the sensitivity-floor and drift alerts read.
    public var alertWindowDays: Int = 30
    /// Weeks in the dashboard's time series, counted back from `now`.
    public var weeks: Int = 26
    /// Sensitivity (review counted as a flag, inverse-probability weighted) below which the interval's upper
    /// bound raises `sensitivity_floor`.
    public var sensitivityFloor: Double = 0.80
    /// Minimum adjudicated truly blocked cases before the sensitivity floor is judged.
    public var minAdjudicatedBlocked: Int = 20
    /// Minimum observations before a CUSUM chart may alert.
    public var minCUSUMObservations: Int = 10
    /// Minimum cases with the statistic before a drift (PSI) alert. Without drift, PSI over k bins is about
    /// χ²(k − 1)·(1/n + 1/m): with 10 bins and n = 300 its noise is ≈ 0.03, far below 0.25.
    public var minDriftCases: Int = 300
    /// PSI above which a drift alert is raised (0.25: "major shift").
    public var psiLimit: Double = 0.25
    public var psiBins: Int = 10
    public var psiBinning: PSIBinning = .uniform
    public var psiEpsilon: Double = PopulationStabilityIndex.defaultEpsilon
    /// The false-negative chart: one observation per adjudicated truly blocked case, event = the model said patent.
    public var cusumFalseNegative = BernoulliCUSUM(inControlRate: 0.05, outOfControlRate: 0.20, limit: 8)
    /// The review-rate chart: one observation per triaged case, event = manual review.
    public var cusumReviewRate = BernoulliCUSUM(inControlRate: 0.15, outOfControlRate: 0.30, limit: 8)
    /// Group dimensions reported beside `overall`.
    public var dimensions: [GroupDimension] = GroupDimension.allCases
    /// Whether to build the weekly time series, the calibration and histogram (the day-by-day simulation skips them).
    public var includeCharts: Bool = true

    /// The defaults above.
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case windowDays = "window_days", lastVerdicts = "last_verdicts", alertWindowDays = "alert_window_days", weeks
        case sensitivityFloor = "sensitivity_floor", minAdjudicatedBlocked = "min_adjudicated_blocked"
        case minCUSUMObservations = "min_cusum_observations", minDriftCases = "min_drift_cases", psiLimit = "psi_limit"
        case psiBins = "psi_bins", psiBinning = "psi_binning", psiEpsilon = "psi_epsilon"
        case cusumFalseNegative = "cusum_false_negative", cusumReviewRate = "cusum_review_rate", dimensions
        case includeCharts = "include_charts"
    }

    /// Reads a configuration in which every key is optional (missing keys keep the defaults).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = MonitoringConfiguration()
        windowDays = try c.decodeIfPresent([Int].self, forKey: .windowDays) ?? d.windowDays
        lastVerdicts = try c.decodeIfPresent(Int.self, forKey: .lastVerdicts) ?? d.lastVerdicts
        alertWindowDays = try c.decodeIfPresent(Int.self, forKey: .alertWindowDays) ?? d.alertWindowDays
        weeks = try c.decodeIfPresent(Int.self, forKey: .weeks) ?? d.weeks
        sensitivityFloor = try c.decodeIfPresent(Double.self, forKey: .sensitivityFloor) ?? d.sensitivityFloor
        minAdjudicatedBlocked = try c.decodeIfPresent(Int.self, forKey: .minAdjudicatedBlocked) ?? d.minAdjudicatedBlocked
        minCUSUMObservations = try c.decodeIfPresent(Int.self, forKey: .minCUSUMObservations) ?? d.minCUSUMObservations
        minDriftCases = try c.decodeIfPresent(Int.self, forKey: .minDriftCases) ?? d.minDriftCases
        psiLimit = try c.decodeIfPresent(Double.self, forKey: .psiLimit) ?? d.psiLimit
        psiBins = try c.decodeIfPresent(Int.self, forKey: .psiBins) ?? d.psiBins
        psiBinning = try c.decodeIfPresent(PSIBinning.self, forKey: .psiBinning) ?? d.psiBinning
        psiEpsilon = try c.decodeIfPresent(Double.self, forKey: .psiEpsilon) ?? d.psiEpsilon
        cusumFalseNegative = try c.decodeIfPresent(BernoulliCUSUM.self, forKey: .cusumFalseNegative) ?? d.cusumFalseNegative
        cusumReviewRate = try c.decodeIfPresent(BernoulliCUSUM.self, forKey: .cusumReviewRate) ?? d.cusumReviewRate
        dimensions = try c.decodeIfPresent([GroupDimension].self, forKey: .dimensions) ?? d.dimensions
        includeCharts = try c.decodeIfPresent(Bool.self, forKey: .includeCharts) ?? d.includeCharts
    }

    /// Reads a configuration file's JSON strictly: an unknown key (a misspelt `sensitivty_floor` would otherwise
    /// leave the default in force), a wrong type or a value out of range is an error naming the key.
    public static func decode(_ data: Data) throws -> MonitoringConfiguration {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw MonitoringError.invalidConfiguration(field: "-", value: "not JSON", expected: "a JSON object")
        }
        guard let members = object as? [String: Any] else {
            throw MonitoringError.invalidConfiguration(field: "-", value: "not an object", expected: "a JSON object")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = members.keys.sorted().first(where: { !known.contains($0) }) {
            throw MonitoringError.invalidConfiguration(field: unknown, value: "an unknown key", expected: "one of \(known.sorted().joined(separator: ", "))")
        }
        let cfg: MonitoringConfiguration
        do { cfg = try JSONDecoder().decode(MonitoringConfiguration.self, from: data) } catch let DecodingError.typeMismatch(type, context) {
            throw MonitoringError.invalidConfiguration(field: context.codingPath.map(\.stringValue).joined(separator: "."), value: "of the wrong type",
                                                       expected: "\(type)")
        } catch let DecodingError.dataCorrupted(context) {
            throw MonitoringError.invalidConfiguration(field: context.codingPath.map(\.stringValue).joined(separator: "."), value: "not readable",
                                                       expected: context.debugDescription)
        } catch let DecodingError.keyNotFound(key, context) {
            throw MonitoringError.invalidConfiguration(field: (context.codingPath + [key]).map(\.stringValue).joined(separator: "."), value: "missing",
                                                       expected: "present")
        } catch let DecodingError.valueNotFound(type, context) {
            throw MonitoringError.invalidConfiguration(field: context.codingPath.map(\.stringValue).joined(separator: "."), value: "null",
                                                       expected: "\(type)")
        }
        try cfg.validate()
        return cfg
    }

    /// Checks every field's range; the monitor calls it before computing anything.
    public func validate() throws(MonitoringError) {
        func bad(_ f: String, _ v: Any, _ e: String) -> MonitoringError { .invalidConfiguration(field: f, value: "\(v)", expected: e) }
        guard !windowDays.isEmpty || lastVerdicts > 0 else { throw bad("window_days", windowDays, "at least one window (or last_verdicts > 0)") }
        if let w = windowDays.first(where: { $0 < 1 || $0 > 3660 }) { throw bad("window_days", w, "1 to 3660 days") }
        guard lastVerdicts >= 0 else { throw bad("last_verdicts", lastVerdicts, "0 or more") }
        guard alertWindowDays >= 1, alertWindowDays <= 3660 else { throw bad("alert_window_days", alertWindowDays, "1 to 3660 days") }
        guard weeks >= 0, weeks <= 520 else { throw bad("weeks", weeks, "0 to 520") }
        guard sensitivityFloor >= 0, sensitivityFloor <= 1 else { throw bad("sensitivity_floor", sensitivityFloor, "a proportion in [0, 1]") }
        guard minAdjudicatedBlocked >= 1 else { throw bad("min_adjudicated_blocked", minAdjudicatedBlocked, "1 or more") }
        guard minCUSUMObservations >= 1 else { throw bad("min_cusum_observations", minCUSUMObservations, "1 or more") }
        guard minDriftCases >= 1 else { throw bad("min_drift_cases", minDriftCases, "1 or more") }
        guard psiLimit > 0, psiLimit.isFinite else { throw bad("psi_limit", psiLimit, "a positive number") }
        guard psiBins >= 2, psiBins <= 100 else { throw bad("psi_bins", psiBins, "2 to 100") }
        guard psiEpsilon > 0, psiEpsilon < 0.01 else { throw bad("psi_epsilon", psiEpsilon, "in (0, 0.01)") }
        try cusumFalseNegative.validate(name: "cusum_false_negative")
        try cusumReviewRate.validate(name: "cusum_review_rate")
    }
}
