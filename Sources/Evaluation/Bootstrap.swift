import Support

/// How the bootstrap resamples.
public struct BootstrapSettings: Sendable, Equatable, Codable {
    /// Number of resamples (0 turns the bootstrap intervals off: they become null).
    public var resamples: Int
    public var seed: UInt64

    public init(resamples: Int = 2000, seed: UInt64 = 20_260_701) {
        self.resamples = resamples
        self.seed = seed
    }
}

extension SplitMix64 {
    /// Uniform in 0..<n by multiply-high (the bias is below 2⁻³² for any n here).
    mutating func uniform(below n: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }
}

/// The stratified bootstrap: each resample draws, with replacement, as many blocked cases from the blocked
/// cases and as many patent cases from the patent cases as the data holds, so every resample keeps the
/// prevalence. Intervals are the 2.5th and 97.5th percentiles of the resampled values (linear interpolation);
/// resamples where a metric is undefined are left out, and the interval is null when more than half are.
/// The draws come from SplitMix64 seeded by `seed`, so a seed gives the same intervals everywhere.
public enum Bootstrap {
    public static func percentileIntervals(engine: MetricEngine, metrics: [String], settings: BootstrapSettings) -> [String: [Double]?] {
        var out: [String: [Double]?] = [:]
        for m in metrics { out[m] = nil as [Double]? }
        guard settings.resamples > 0, !engine.labels.isEmpty else { return out }
        let pos = engine.labels.indices.filter { engine.labels[$0] }
        let neg = engine.labels.indices.filter { !engine.labels[$0] }
        var rng = SplitMix64(seed: settings.seed)
        var collected: [String: [Double]] = [:]
        var w = [Int](repeating: 0, count: engine.labels.count)
        for _ in 0..<settings.resamples {
            for i in w.indices { w[i] = 0 }
            for _ in pos.indices { w[pos[rng.uniform(below: pos.count)]] += 1 }
            for _ in neg.indices { w[neg[rng.uniform(below: neg.count)]] += 1 }
            let v = engine.values(weights: w)
            for m in metrics { if let x = v[m] ?? nil { collected[m, default: []].append(x) } }
        }
        for m in metrics {
            let v = (collected[m] ?? []).sorted()
            guard v.count * 2 >= settings.resamples,
                  let lo = Intervals.quantile(sorted: v, 0.025), let hi = Intervals.quantile(sorted: v, 0.975) else { continue }
            out[m] = [lo, hi]
        }
        return out
    }
}
