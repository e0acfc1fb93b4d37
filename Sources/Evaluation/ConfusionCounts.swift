/// Counts of a binary decision against ground truth, with "blocked" the positive class.
public struct ConfusionCounts: Sendable, Equatable, Codable {
    public var tp: Int
    public var fp: Int
    public var tn: Int
    public var fn: Int

    public init(tp: Int = 0, fp: Int = 0, tn: Int = 0, fn: Int = 0) {
        self.tp = tp
        self.fp = fp
        self.tn = tn
        self.fn = fn
    }

    /// Counts of `flagged` (predicted blocked) against `labels` (true: blocked).
    public init(labels: [Bool], flagged: [Bool]) {
        self.init()
        for (y, f) in zip(labels, flagged) { add(label: y, flagged: f, weight: 1) }
    }

    public mutating func add(label: Bool, flagged: Bool, weight: Int) {
        switch (label, flagged) {
        case (true, true): tp += weight
        case (true, false): fn += weight
        case (false, true): fp += weight
        case (false, false): tn += weight
        }
    }

    public var total: Int { tp + fp + tn + fn }
    public var positives: Int { tp + fn }
    public var negatives: Int { tn + fp }

    static func ratio(_ a: Int, _ b: Int) -> Double? { b > 0 ? Double(a) / Double(b) : nil }

    /// Share of blocked cases; nil when empty.
    public var prevalence: Double? { Self.ratio(positives, total) }
    public var accuracy: Double? { Self.ratio(tp + tn, total) }
    /// Blocked recall: TP / (TP + FN).
    public var sensitivity: Double? { Self.ratio(tp, tp + fn) }
    public var specificity: Double? { Self.ratio(tn, tn + fp) }
    public var ppv: Double? { Self.ratio(tp, tp + fp) }
    public var npv: Double? { Self.ratio(tn, tn + fn) }
    /// Mean of sensitivity and specificity; nil unless both classes are present.
    public var balancedAccuracy: Double? {
        guard let se = sensitivity, let sp = specificity else { return nil }
        return (se + sp) / 2
    }
    /// 2TP / (2TP + FP + FN); nil when there is no positive case and no positive call.
    public var f1: Double? { Self.ratio(2 * tp, 2 * tp + fp + fn) }
    /// Matthews correlation; nil when a row or column of the table is empty (scikit-learn returns 0 there).
    public var mcc: Double? {
        let a = Double(tp + fp), b = Double(tp + fn), c = Double(tn + fp), d = Double(tn + fn)
        let den = a * b * c * d
        guard den > 0 else { return nil }
        return (Double(tp) * Double(tn) - Double(fp) * Double(fn)) / den.squareRoot()
    }
}
