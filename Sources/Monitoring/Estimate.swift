import Evaluation

/// A proportion with its 95 % interval and the number of cases behind it: `{value, ci, n}` in monitoring.json.
/// Weighted estimates also carry the Kish effective sample size their interval was computed on.
public struct Estimate: Sendable, Equatable, Codable {
    /// The point estimate; nil when no case is in the denominator.
    public var value: Double?
    /// [low, high] (95 %), nil with the value.
    public var ci: [Double]?
    /// Cases in the denominator (unweighted count).
    public var n: Int
    /// Kish effective sample size (Σw)² / Σw², for inverse-probability-weighted estimates only.
    public var effectiveN: Double?

    /// An estimate; the interval is dropped when the value is undefined.
    public init(value: Double?, ci: [Double]?, n: Int, effectiveN: Double? = nil) {
        self.value = value
        self.ci = value == nil ? nil : ci
        self.n = n
        self.effectiveN = effectiveN
    }

    /// The unweighted proportion `successes / n` with the Wilson interval of Evaluation's `Intervals.wilson`.
    public static func proportion(successes: Int, n: Int) -> Estimate {
        guard n > 0 else { return Estimate(value: nil, ci: nil, n: 0) }
        return Estimate(value: Double(successes) / Double(n), ci: Intervals.wilson(successes: successes, n: n), n: n)
    }

    /// The weighted (Hájek) proportion `Σw·success / Σw` with a Wilson interval on the Kish effective size.
    public static func weighted(successWeight: Double, totalWeight: Double, sumOfSquares: Double, n: Int) -> Estimate {
        guard n > 0, totalWeight > 0, sumOfSquares > 0 else { return Estimate(value: nil, ci: nil, n: n) }
        let p = min(1, max(0, successWeight / totalWeight))
        let nEff = totalWeight * totalWeight / sumOfSquares
        return Estimate(value: p, ci: EffectiveWilson.interval(proportion: p, effectiveN: nEff), n: n, effectiveN: nEff)
    }

    enum CodingKeys: String, CodingKey { case value, ci, n, effectiveN = "effective_n" }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let value { try c.encode(value, forKey: .value) } else { try c.encodeNil(forKey: .value) }
        if let ci { try c.encode(ci, forKey: .ci) } else { try c.encodeNil(forKey: .ci) }
        try c.encode(n, forKey: .n)
        if let effectiveN { try c.encode(effectiveN, forKey: .effectiveN) }
    }
}
