import Foundation

/// How training counters class imbalance.
public enum BalanceMode: String, Sendable, Codable, CaseIterable {
    /// Class-balanced sampling: each epoch draws as many examples as there are rows, every class equally likely.
    case sampler
    /// Class-weighted loss: each example's loss is multiplied by its class's "balanced" weight.
    case weights
    /// Neither: every row once per epoch in shuffled order, weight 1.
    case none

    /// Reads a command-line choice: "auto" (the balance's default), "sampler", "weights" or "none".
    public static func resolve(_ option: String, balance: ClassBalance) throws -> BalanceMode {
        let s = option.trimmingCharacters(in: .whitespaces).lowercased()
        if s == "auto" { return balance.defaultMode }
        guard let mode = BalanceMode(rawValue: s) else {
            throw TrainingDataError.invalidArgument("unknown class balancing \"\(option)\" (expected auto, sampler, weights or none)")
        }
        return mode
    }
}

/// The class counts of a training set and what follows from them: the minority share, the default
/// balancing, and the class weights of the "balanced" rule (weight_c = N / (classes · n_c), as
/// scikit-learn's `compute_class_weight("balanced")`).
public struct ClassBalance: Sendable, Equatable, Codable {
    /// Balancing is on by default when the smallest class holds less than this share of the rows.
    public static let minorityShareThreshold = 0.30

    public let labels: [String]
    public let counts: [Int]

    /// Counts per label; every count must be positive.
    public init(labels: [String], counts: [Int]) throws {
        guard labels.count == counts.count, labels.count >= 2 else {
            throw TrainingDataError.invalidArgument("class balance needs at least two labels with one count each, got \(labels) and \(counts)")
        }
        if let i = counts.firstIndex(where: { $0 <= 0 }) {
            throw TrainingDataError.invalidArgument("class \"\(labels[i])\" has no training rows")
        }
        self.labels = labels
        self.counts = counts
    }

    /// The counts of a manifest's usable rows.
    public init(manifest: TrainingManifest) throws {
        try self.init(labels: manifest.labels, counts: manifest.classCounts)
    }

    public var total: Int { counts.reduce(0, +) }

    /// Share of the rows in the smallest class.
    public var minorityShare: Double { Double(counts.min() ?? 0) / Double(max(total, 1)) }

    /// The smallest class (the first of ties).
    public var minorityLabel: String { counts.indices.min { counts[$0] < counts[$1] }.map { labels[$0] } ?? "" }

    /// True when the minority share is under `minorityShareThreshold`.
    public var isImbalanced: Bool { minorityShare < Self.minorityShareThreshold }

    /// `.sampler` for an imbalanced set, `.none` otherwise.
    public var defaultMode: BalanceMode { isImbalanced ? .sampler : .none }

    /// N / (classes · n_c) per class, in `labels` order.
    public var classWeights: [Double] { counts.map { Double(total) / (Double(counts.count) * Double($0)) } }

    /// The loss weight of each class under `mode`: the class weights for `.weights`, 1 otherwise (the
    /// sampler already evens the classes out; weighting as well would over-correct).
    public func lossWeights(mode: BalanceMode) -> [Float] {
        mode == .weights ? classWeights.map { Float($0) } : [Float](repeating: 1, count: counts.count)
    }

    /// The loss weight of `label` under `mode` (1 for an unknown label).
    public func lossWeight(of label: String, mode: BalanceMode) -> Float {
        guard let i = labels.firstIndex(of: label) else { return 1 }
        return lossWeights(mode: mode)[i]
    }
}
