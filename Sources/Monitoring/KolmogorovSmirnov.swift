import Foundation

/// The two-sample Kolmogorov–Smirnov test: D = supₓ |F₁(x) − F₂(x)| (scipy's `ks_2samp` statistic), with the
/// asymptotic p-value Q_KS(λ) of Kolmogorov's distribution at Stephens' λ = (√nₑ + 0.12 + 0.11/√nₑ)·D,
/// nₑ = n₁n₂/(n₁+n₂), which stays close to the exact p-value from a few dozen cases on.
public struct KolmogorovSmirnov: Sendable, Equatable, Codable {
    public var statistic: Double
    public var pValue: Double
    public var n: Int
    public var referenceN: Int

    enum CodingKeys: String, CodingKey { case statistic, pValue = "p_value", n, referenceN = "reference_n" }

    /// The test of `sample` against `reference`; nil when either has no finite value.
    public static func test(_ sample: [Double], against reference: [Double]) -> KolmogorovSmirnov? {
        test(sample, sortedReference: reference.filter(\.isFinite).sorted())
    }

    /// The same with the reference already finite and sorted (the monitor sorts it once per run).
    static func test(_ sample: [Double], sortedReference b: [Double]) -> KolmogorovSmirnov? {
        let a = sample.filter(\.isFinite).sorted()
        guard !a.isEmpty, !b.isEmpty else { return nil }
        let d = statistic(sortedA: a, sortedB: b)
        let na = Double(a.count), nb = Double(b.count)
        let en = (na * nb / (na + nb)).squareRoot()
        let p = kolmogorovSurvival((en + 0.12 + 0.11 / en) * d)
        return KolmogorovSmirnov(statistic: d, pValue: p, n: a.count, referenceN: b.count)
    }

    /// sup |F_a − F_b| over the pooled values (ties step together, as the empirical CDFs do).
    static func statistic(sortedA a: [Double], sortedB b: [Double]) -> Double {
        var i = 0, j = 0, d = 0.0
        let na = Double(a.count), nb = Double(b.count)
        while i < a.count && j < b.count {
            let x = min(a[i], b[j])
            while i < a.count && a[i] <= x { i += 1 }
            while j < b.count && b[j] <= x { j += 1 }
            d = max(d, abs(Double(i) / na - Double(j) / nb))
        }
        return d
    }

    /// Q_KS(λ) = P(K > λ) for Kolmogorov's limiting distribution (scipy's `kstwobign.sf`): the alternating
    /// series for large λ, the Jacobi-theta form for small λ where the series converges slowly.
    public static func kolmogorovSurvival(_ lambda: Double) -> Double {
        guard lambda > 0 else { return 1 }
        if lambda < 1.18 {
            let c = -Double.pi * Double.pi / (8 * lambda * lambda)
            var sum = 0.0
            for k in stride(from: 1, through: 15, by: 2) { sum += exp(Double(k * k) * c) }
            return max(0, min(1, 1 - (2 * Double.pi).squareRoot() / lambda * sum))
        }
        var sum = 0.0, sign = 1.0
        for k in 1...100 {
            let term = exp(-2 * Double(k * k) * lambda * lambda)
            sum += sign * term
            if term < 1e-17 { break }
            sign = -sign
        }
        return max(0, min(1, 2 * sum))
    }
}
