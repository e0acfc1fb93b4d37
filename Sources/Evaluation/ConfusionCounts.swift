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

    public var total: Int { tp + fp + tn + fn }
    public var positives: Int { tp + fn }
    public var negatives: Int { tn + fp }
}
