import Evaluation
import Foundation

/// One scored validation case.
public struct ValidationCase: Sendable, Equatable, Codable {
    /// The true class, as the task profile names it.
    public var label: String
    /// The model's P(positive label).
    public var pBlocked: Double
    /// Each label's answer log-likelihood, when known: the loss then comes from them directly, without
    /// P rounding to 0 or 1 first.
    public var labelLogprobs: [String: Double]?

    public init(label: String, pBlocked: Double, labelLogprobs: [String: Double]? = nil) {
        self.label = label
        self.pBlocked = pBlocked
        self.labelLogprobs = labelLogprobs
    }

    enum CodingKeys: String, CodingKey { case label, pBlocked = "p_blocked", labelLogprobs = "label_logprobs" }
}

/// The best operating point under a specificity floor.
public struct FloorOperatingPoint: Sendable, Equatable, Codable {
    public var floor: Double
    public var sensitivity: Double
    public var specificity: Double
    /// Flag when P ≥ threshold; nil means "flag nothing" (specificity 1, sensitivity 0: the point left when
    /// no score threshold keeps the floor).
    public var threshold: Double?
}

/// One epoch's validation result: decision metrics at the profile threshold, AUROC and the mean loss,
/// all through the evaluation module's metric code, plus the ROC points the selection criteria read.
public struct ValidationMetrics: Sendable, Equatable, Codable {
    public var count: Int
    public var positives: Int
    public var negatives: Int
    public var threshold: Double
    public var confusion: ConfusionCounts
    public var sensitivity: Double?
    public var specificity: Double?
    public var balancedAccuracy: Double?
    public var auroc: Double?
    /// Mean of −log P(true label), natural log; P is clipped to [ε, 1 − ε] (ε = 2.2e-16, float64's machine
    /// epsilon, as scikit-learn's `log_loss`) when no label log-likelihoods are given.
    public var meanLoss: Double?
    /// ROC points, one per distinct score, highest threshold first (empty unless both classes are present).
    public var roc: [ROCPoint]

    enum CodingKeys: String, CodingKey {
        case count, positives, negatives, threshold, confusion, sensitivity, specificity, auroc, roc
        case balancedAccuracy = "balanced_accuracy", meanLoss = "mean_loss"
    }

    /// Metrics of `cases` with `positiveLabel` the positive class (every other label negative) and
    /// "flag when P ≥ threshold".
    public init(cases: [ValidationCase], threshold: Double, positiveLabel: String = "blocked") throws {
        guard !cases.isEmpty else { throw TrainingDataError.invalidArgument("no validation cases") }
        guard threshold.isFinite else { throw TrainingDataError.invalidArgument("threshold \(threshold) is not finite") }
        if let i = cases.firstIndex(where: { !$0.pBlocked.isFinite || $0.pBlocked < 0 || $0.pBlocked > 1 }) {
            throw TrainingDataError.invalidArgument("validation case \(i): P(\(positiveLabel)) = \(cases[i].pBlocked) is not a probability")
        }
        let samples = cases.map { c in
            EvaluationSample(path: "", blocked: c.label == positiveLabel, pBlocked: c.pBlocked,
                             decision: c.pBlocked >= threshold ? "blocked" : "patent")
        }
        let engine = MetricEngine(samples: samples)
        let v = engine.values()
        confusion = engine.confusion()
        count = cases.count
        positives = confusion.positives
        negatives = confusion.negatives
        self.threshold = threshold
        sensitivity = v["sensitivity"] ?? nil
        specificity = v["specificity"] ?? nil
        balancedAccuracy = v["balanced_accuracy"] ?? nil
        auroc = v["auroc"] ?? nil
        roc = Evaluator.curves(samples).roc
        var total = 0.0
        for c in cases { total += Self.loss(c, positiveLabel: positiveLabel) }
        meanLoss = total / Double(cases.count)
    }

    /// −log P(true label) of one case.
    static func loss(_ c: ValidationCase, positiveLabel: String) -> Double {
        if let lp = c.labelLogprobs, let own = lp[c.label], lp.values.allSatisfy(\.isFinite) {
            let m = lp.values.max() ?? 0
            let z = m + Foundation.log(lp.values.reduce(0) { $0 + Foundation.exp($1 - m) })
            return z - own
        }
        let eps = Double.ulpOfOne
        let pTrue = c.label == positiveLabel ? c.pBlocked : 1 - c.pBlocked
        return -Foundation.log(min(max(pTrue, eps), 1 - eps))
    }

    /// The best sensitivity over thresholds whose specificity is at least `floor` (ties: the higher
    /// specificity); nil unless both classes are present.
    public func sensitivity(atSpecificity floor: Double) -> FloorOperatingPoint? {
        var best: FloorOperatingPoint?
        // ROC fractions are k/N in floating point; the tolerance keeps e.g. 4/5 from missing a 0.8 floor.
        for p in roc where 1 - p.fpr >= floor - 1e-12 {
            let cand = FloorOperatingPoint(floor: floor, sensitivity: p.tpr, specificity: 1 - p.fpr, threshold: p.threshold)
            if let b = best, (b.sensitivity, b.specificity) >= (cand.sensitivity, cand.specificity) { continue }
            best = cand
        }
        return best
    }
}

/// A comparable checkpoint score: keys compared in order, higher better; a missing metric scores −∞.
public struct SelectionScore: Sendable, Equatable, Comparable, Codable {
    public var keys: [Double]
    /// The score in words, e.g. "sensitivity 0.9000, specificity 0.8500 at threshold 0.4100 (the best with
    /// specificity ≥ 0.8), label loss 0.4120".
    public var summary: String

    public init(keys: [Double], summary: String) {
        self.keys = keys.map { $0.isNaN ? -.infinity : $0 }
        self.summary = summary
    }

    public static func < (a: SelectionScore, b: SelectionScore) -> Bool {
        for (x, y) in zip(a.keys, b.keys) where x != y { return x < y }
        return a.keys.count < b.keys.count
    }

    /// Equal keys (`==` also compares the summary).
    public func ties(_ other: SelectionScore) -> Bool { !(self < other) && !(other < self) }
}

/// Which checkpoint to keep: the one whose validation metrics score highest.
public enum SelectionCriterion: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The best sensitivity at thresholds keeping specificity ≥ floor; ties by specificity, then lower loss.
    case sensitivityAtSpecificity(floor: Double)
    /// Balanced accuracy at the profile threshold; ties by lower loss.
    case balancedAccuracy
    /// Area under the ROC curve; ties by lower loss.
    case auroc
    /// The lowest mean validation loss.
    case loss

    /// Sensitivity at specificity ≥ 0.8.
    public static let `default` = SelectionCriterion.sensitivityAtSpecificity(floor: 0.8)

    /// Reads "sensitivity_at_specificity" (floor 0.8), "sensitivity_at_specificity:F", "balanced_accuracy",
    /// "auroc" or "loss".
    public init(parsing text: String) throws {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "sensitivity_at_specificity":
            var floor = 0.8
            if parts.count == 2 {
                guard let f = Double(parts[1]), f.isFinite, f >= 0, f <= 1 else {
                    throw TrainingDataError.invalidArgument("selection criterion \"\(text)\": the specificity floor must be a number in [0, 1]")
                }
                floor = f
            }
            self = .sensitivityAtSpecificity(floor: floor)
        case "balanced_accuracy" where parts.count == 1: self = .balancedAccuracy
        case "auroc" where parts.count == 1: self = .auroc
        case "loss" where parts.count == 1: self = .loss
        default:
            throw TrainingDataError.invalidArgument(
                "unknown selection criterion \"\(text)\" (expected sensitivity_at_specificity[:FLOOR], balanced_accuracy, auroc or loss)")
        }
    }

    /// The form `init(parsing:)` reads.
    public var name: String {
        switch self {
        case .sensitivityAtSpecificity(let f): return "sensitivity_at_specificity:\(f)"
        case .balancedAccuracy: return "balanced_accuracy"
        case .auroc: return "auroc"
        case .loss: return "loss"
        }
    }

    public var description: String {
        switch self {
        case .sensitivityAtSpecificity(let f):
            return "highest sensitivity at specificity ≥ \(f) (ties: higher specificity, then lower validation loss)"
        case .balancedAccuracy: return "highest balanced accuracy at the profile threshold (ties: lower validation loss)"
        case .auroc: return "highest AUROC (ties: lower validation loss)"
        case .loss: return "lowest mean validation loss"
        }
    }

    /// The score of one epoch's metrics under this criterion.
    public func score(_ m: ValidationMetrics) -> SelectionScore {
        let negLoss = -(m.meanLoss ?? .infinity)
        func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "n/a" }
        let lossText = "label loss \(f(m.meanLoss))"
        switch self {
        case .sensitivityAtSpecificity(let floor):
            guard let p = m.sensitivity(atSpecificity: floor) else {
                return SelectionScore(keys: [-.infinity, -.infinity, negLoss], summary: "no operating point (one class only), \(lossText)")
            }
            // The operating point's own threshold, not the profile's: say which, so that it is never read as
            // the metrics at the profile threshold.
            let at = p.threshold.map { "at threshold " + String(format: "%.4f", $0) } ?? "flagging nothing"
            return SelectionScore(keys: [p.sensitivity, p.specificity, negLoss],
                                  summary: "sensitivity \(f(p.sensitivity)), specificity \(f(p.specificity)) \(at) "
                                      + "(the best with specificity ≥ \(floor)), \(lossText)")
        case .balancedAccuracy:
            return SelectionScore(keys: [m.balancedAccuracy ?? -.infinity, negLoss], summary: "balanced accuracy \(f(m.balancedAccuracy)), \(lossText)")
        case .auroc:
            return SelectionScore(keys: [m.auroc ?? -.infinity, negLoss], summary: "AUROC \(f(m.auroc)), \(lossText)")
        case .loss:
            return SelectionScore(keys: [negLoss], summary: lossText)
        }
    }

    public init(from decoder: Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }
}
