import Foundation

/// Computes every metric of a set of samples under integer case weights (all ones for the point values,
/// resample counts for the bootstrap), so the point values and the bootstrap share one code path.
public struct MetricEngine: Sendable {
    public let labels: [Bool]
    public let flagged: [Bool]
    public let scores: [Double?]
    /// Indices of the scored samples grouped by equal score, highest score first.
    let groups: [[Int]]

    public init(samples: [EvaluationSample]) {
        self.init(labels: samples.map(\.blocked), flagged: samples.map(\.flagged), scores: samples.map(\.pBlocked))
    }

    public init(labels: [Bool], flagged: [Bool], scores: [Double?]) {
        self.labels = labels
        self.flagged = flagged
        self.scores = scores
        let scored = scores.indices.compactMap { i in scores[i].map { (i, $0) } }.sorted { $0.1 > $1.1 }
        var g: [[Int]] = []
        var last: Double?
        for (i, s) in scored {
            if let l = last, l == s { g[g.count - 1].append(i) } else { g.append([i]); last = s }
        }
        groups = g
    }

    /// The metric names in `evaluation.json` order.
    public static let names = ["accuracy", "sensitivity", "specificity", "ppv", "npv", "balanced_accuracy", "f1", "mcc",
                               "auroc", "auprc", "brier", "ece"]

    public func confusion(weights w: [Int]? = nil) -> ConfusionCounts {
        var c = ConfusionCounts()
        for i in labels.indices {
            let k = w?[i] ?? 1
            if k > 0 { c.add(label: labels[i], flagged: flagged[i], weight: k) }
        }
        return c
    }

    /// Area under the ROC curve (ties count one half: the trapezoidal area scikit-learn computes); nil
    /// unless both classes are among the scored cases.
    public func auroc(weights w: [Int]? = nil) -> Double? {
        var above = 0.0, num = 0.0, totalNeg = 0.0
        for g in groups {
            var pos = 0.0, neg = 0.0
            for i in g { let k = Double(w?[i] ?? 1); if labels[i] { pos += k } else { neg += k } }
            num += neg * (above + 0.5 * pos)
            above += pos
            totalNeg += neg
        }
        guard above > 0, totalNeg > 0 else { return nil }
        return num / (above * totalNeg)
    }

    /// Average precision as scikit-learn's `average_precision_score`: Σ (Rₖ − Rₖ₋₁) Pₖ over distinct
    /// thresholds, highest first; nil without a scored positive case.
    public func averagePrecision(weights w: [Int]? = nil) -> Double? {
        var totalPos = 0.0
        for g in groups { for i in g where labels[i] { totalPos += Double(w?[i] ?? 1) } }
        guard totalPos > 0 else { return nil }
        var tps = 0.0, fps = 0.0, prevRecall = 0.0, ap = 0.0
        for g in groups {
            var pos = 0.0, neg = 0.0
            for i in g { let k = Double(w?[i] ?? 1); if labels[i] { pos += k } else { neg += k } }
            guard pos + neg > 0 else { continue }
            tps += pos
            fps += neg
            let recall = tps / totalPos
            ap += (recall - prevRecall) * (tps / (tps + fps))
            prevRecall = recall
        }
        return ap
    }

    /// Mean squared difference between P(blocked) and the 0/1 truth over scored cases.
    public func brier(weights w: [Int]? = nil) -> Double? {
        var s = 0.0, n = 0.0
        for i in labels.indices {
            guard let p = scores[i] else { continue }
            let k = Double(w?[i] ?? 1)
            let d = p - (labels[i] ? 1 : 0)
            s += k * d * d
            n += k
        }
        return n > 0 ? s / n : nil
    }

    /// Ten equal-width bins: [0, 0.1), …, [0.8, 0.9), [0.9, 1.0] (the last closed).
    public static func bin(_ p: Double) -> Int { min(9, max(0, Int((p * 10).rounded(.down)))) }

    /// Expected calibration error: Σ_b (n_b / N) |mean P in b − share blocked in b| over 10 equal-width bins.
    public func ece(weights w: [Int]? = nil) -> Double? {
        var n = [Double](repeating: 0, count: 10), sp = n, sy = n
        var total = 0.0
        for i in labels.indices {
            guard let p = scores[i] else { continue }
            let k = Double(w?[i] ?? 1), b = Self.bin(p)
            n[b] += k; sp[b] += k * p; sy[b] += labels[i] ? k : 0
            total += k
        }
        guard total > 0 else { return nil }
        var e = 0.0
        for b in 0..<10 where n[b] > 0 { e += n[b] / total * abs(sp[b] / n[b] - sy[b] / n[b]) }
        return e
    }

    /// Every metric's point value under the weights.
    public func values(weights w: [Int]? = nil) -> [String: Double?] {
        let c = confusion(weights: w)
        return ["accuracy": c.accuracy, "sensitivity": c.sensitivity, "specificity": c.specificity, "ppv": c.ppv,
                "npv": c.npv, "balanced_accuracy": c.balancedAccuracy, "f1": c.f1, "mcc": c.mcc,
                "auroc": auroc(weights: w), "auprc": averagePrecision(weights: w), "brier": brier(weights: w), "ece": ece(weights: w)]
    }

    /// Metrics whose interval is the Wilson interval of a proportion (numerator, denominator).
    static func wilsonCounts(_ name: String, _ c: ConfusionCounts) -> (Int, Int)? {
        switch name {
        case "accuracy": return (c.tp + c.tn, c.total)
        case "sensitivity": return (c.tp, c.tp + c.fn)
        case "specificity": return (c.tn, c.tn + c.fp)
        case "ppv": return (c.tp, c.tp + c.fp)
        case "npv": return (c.tn, c.tn + c.fn)
        default: return nil
        }
    }

    /// All metrics with 95 % intervals: Wilson for the five proportions, the stratified percentile bootstrap
    /// for the rest.
    public func metrics(bootstrap: BootstrapSettings) -> [String: MetricValue] {
        let point = values()
        let c = confusion()
        var out: [String: MetricValue] = [:]
        let needBoot = Self.names.filter { Self.wilsonCounts($0, c) == nil }
        let boot = Bootstrap.percentileIntervals(engine: self, metrics: needBoot, settings: bootstrap)
        for name in Self.names {
            let v = point[name] ?? nil
            if let (k, n) = Self.wilsonCounts(name, c) {
                out[name] = MetricValue(value: v, ci: Intervals.wilson(successes: k, n: n))
            } else {
                out[name] = MetricValue(value: v, ci: boot[name] ?? nil)
            }
        }
        return out
    }
}
