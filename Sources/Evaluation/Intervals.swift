import Foundation

/// Confidence intervals for proportions and bootstrap percentiles.
public enum Intervals {
    /// The standard normal quantile for a two-sided 95 % interval (Φ⁻¹(0.975)).
    public static let z95 = 1.959963984540054

    /// Wilson score interval for `successes` of `n` (95 %); nil when n = 0. Edges are exact 0 and 1 when
    /// the count is 0 or n, as statsmodels' `proportion_confint(method="wilson")` gives them.
    public static func wilson(successes: Int, n: Int, z: Double = z95) -> [Double]? {
        guard n > 0, successes >= 0, successes <= n else { return nil }
        let nn = Double(n), p = Double(successes) / nn, z2 = z * z
        let denom = 1 + z2 / nn
        let center = (p + z2 / (2 * nn)) / denom
        let half = z * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot() / denom
        let lo = successes == 0 ? 0 : max(0, center - half)
        let hi = successes == n ? 1 : min(1, center + half)
        return [lo, hi]
    }

    /// The q-quantile (0…1) of sorted values with linear interpolation between order statistics
    /// (numpy's default "linear" method).
    public static func quantile(sorted v: [Double], _ q: Double) -> Double? {
        guard !v.isEmpty else { return nil }
        let pos = q * Double(v.count - 1)
        let i = Int(pos.rounded(.down))
        if i >= v.count - 1 { return v[v.count - 1] }
        let f = pos - Double(i)
        return v[i] + (v[i + 1] - v[i]) * f
    }

    /// Two-sided p-value of a standard normal statistic.
    public static func normalTwoSidedP(_ z: Double) -> Double { erfc(abs(z) / 2.0.squareRoot()) }

    /// Upper tail of the chi-square distribution with one degree of freedom.
    public static func chiSquare1SF(_ x: Double) -> Double { x <= 0 ? 1 : erfc((x / 2).squareRoot()) }

    /// P(X ≤ k) for X ~ Binomial(n, 1/2).
    public static func binomialHalfCDF(_ k: Int, _ n: Int) -> Double {
        guard n >= 0 else { return 0 }
        if k < 0 { return 0 }
        if k >= n { return 1 }
        var total = 0.0
        let logHalfN = Double(n) * log(0.5)
        for i in 0...k {
            total += exp(lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1)) + logHalfN)
        }
        return min(1, total)
    }
}
