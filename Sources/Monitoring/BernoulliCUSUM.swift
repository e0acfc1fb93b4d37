import Foundation

/// Page's one-sided CUSUM for Bernoulli observations (Reynolds & Stoumbos): S₀ = 0,
/// Sₜ = max(0, Sₜ₋₁ + xₜ·ln(p₁/p₀) + (1 − xₜ)·ln((1 − p₁)/(1 − p₀))); it signals when Sₜ > h.
/// It accumulates the log-likelihood ratio of "rate p₁" over "rate p₀", so small sustained rises show up
/// long before a windowed rate does.
public struct BernoulliCUSUM: Sendable, Equatable, Codable {
    /// The in-control event rate p₀ (0 < p₀ < p₁ < 1).
    public var inControlRate: Double
    /// The out-of-control rate p₁ the chart is tuned to detect.
    public var outOfControlRate: Double
    /// The decision limit h (log-likelihood units).
    public var limit: Double

    /// A chart; `validate(name:)` checks the ranges.
    public init(inControlRate: Double, outOfControlRate: Double, limit: Double) {
        (self.inControlRate, self.outOfControlRate, self.limit) = (inControlRate, outOfControlRate, limit)
    }

    enum CodingKeys: String, CodingKey { case inControlRate = "in_control_rate", outOfControlRate = "out_of_control_rate", limit }

    /// Checks 0 < p₀ < p₁ < 1 and h > 0; `name` prefixes the field names in the error.
    public func validate(name: String) throws(MonitoringError) {
        guard inControlRate > 0, inControlRate < 1 else {
            throw .invalidConfiguration(field: "\(name).in_control_rate", value: "\(inControlRate)", expected: "a rate in (0, 1)")
        }
        guard outOfControlRate > inControlRate, outOfControlRate < 1 else {
            throw .invalidConfiguration(field: "\(name).out_of_control_rate", value: "\(outOfControlRate)", expected: "a rate in (in_control_rate, 1)")
        }
        guard limit > 0, limit.isFinite else {
            throw .invalidConfiguration(field: "\(name).limit", value: "\(limit)", expected: "a positive number")
        }
    }

    /// The increment for an event (x = 1).
    public var eventStep: Double { log(outOfControlRate / inControlRate) }
    /// The increment for a non-event (x = 0), negative.
    public var nonEventStep: Double { log((1 - outOfControlRate) / (1 - inControlRate)) }

    /// The statistic after each observation.
    public func path(_ events: [Bool]) -> [Double] {
        var s = 0.0
        let up = eventStep, down = nonEventStep
        return events.map { x in
            s = max(0, s + (x ? up : down))
            return s
        }
    }

    /// The expected share of events among adjudicated truly blocked cases when the model's sensitivity
    /// (review counted as a flag) is `sensitivity`: false negatives are only seen through the patent audit,
    /// flagged cases through review (probability 1) or the blocked audit. This is how to set p₀ and p₁ for
    /// the false-negative chart from the audit fractions in use.
    public static func adjudicatedFalseNegativeShare(sensitivity: Double, reviewShareOfFlagged: Double,
                                                     auditFractionPatent: Double, auditFractionBlocked: Double) -> Double {
        let fn = (1 - sensitivity) * auditFractionPatent
        let review = sensitivity * reviewShareOfFlagged
        let autoBlocked = sensitivity * (1 - reviewShareOfFlagged) * auditFractionBlocked
        let total = fn + review + autoBlocked
        return total > 0 ? fn / total : 0
    }
}

/// Where one CUSUM chart stands for one group.
public struct CUSUMState: Sendable, Equatable, Codable {
    /// The statistic after the latest observation.
    public var statistic: Double
    public var limit: Double
    /// Observations so far.
    public var observations: Int
    /// Events among them and their share (compare with the in-control rate when tuning p₀).
    public var events: Int
    public var observedRate: Double?
    /// Decision time of the case at which the statistic first exceeded the limit, if it did.
    public var firstCrossed: Date?
    /// Decision time of the case at which the current run above the limit began, when it is above now.
    public var aboveSince: Date?
    public var aboveLimit: Bool

    /// The state; the observed rate and `aboveLimit` follow from the counts and the statistic.
    public init(statistic: Double, limit: Double, observations: Int, events: Int, firstCrossed: Date?, aboveSince: Date?) {
        (self.statistic, self.limit, self.observations, self.events) = (statistic, limit, observations, events)
        self.observedRate = observations > 0 ? Double(events) / Double(observations) : nil
        (self.firstCrossed, self.aboveSince) = (firstCrossed, aboveSince)
        self.aboveLimit = statistic > limit
    }

    enum CodingKeys: String, CodingKey {
        case statistic, limit, observations, events, observedRate = "observed_rate", firstCrossed = "first_crossed"
        case aboveSince = "above_since", aboveLimit = "above_limit"
    }
}

/// Runs a chart over time-ordered observations and remembers the crossings.
struct CUSUMRunner {
    let chart: BernoulliCUSUM
    private(set) var statistic = 0.0
    private(set) var observations = 0
    private(set) var events = 0
    private(set) var firstCrossed: Date?
    private(set) var aboveSince: Date?

    init(chart: BernoulliCUSUM) { self.chart = chart }

    mutating func observe(_ event: Bool, at time: Date) {
        statistic = max(0, statistic + (event ? chart.eventStep : chart.nonEventStep))
        observations += 1
        if event { events += 1 }
        if statistic > chart.limit {
            if firstCrossed == nil { firstCrossed = time }
            if aboveSince == nil { aboveSince = time }
        } else {
            aboveSince = nil
        }
    }

    var state: CUSUMState {
        CUSUMState(statistic: statistic, limit: chart.limit, observations: observations, events: events,
                   firstCrossed: firstCrossed, aboveSince: aboveSince)
    }
}
