import Evaluation

/// The Wilson score interval for a proportion observed on a real-valued (effective) sample size, as
/// statsmodels' `proportion_confint(count = p·n, nobs = n, method="wilson")` computes it for non-integer
/// counts. Evaluation's `Intervals.wilson` takes whole counts; weighted estimates need this form.
public enum EffectiveWilson {
    /// [low, high] at 95 %; nil when `effectiveN` is not positive or `proportion` is outside [0, 1].
    public static func interval(proportion p: Double, effectiveN n: Double, z: Double = Intervals.z95) -> [Double]? {
        guard n > 0, n.isFinite, p >= 0, p <= 1 else { return nil }
        let z2 = z * z
        let denom = 1 + z2 / n
        let center = (p + z2 / (2 * n)) / denom
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denom
        // Exact edges at 0 and 1, as statsmodels gives them.
        return [p == 0 ? 0 : max(0, center - half), p == 1 ? 1 : min(1, center + half)]
    }
}
