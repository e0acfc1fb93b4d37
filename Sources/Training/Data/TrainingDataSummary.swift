/// What training read and how it balanced it, as `training_run.json` records it.
public struct TrainingDataSummary: Sendable, Equatable, Codable {
    public var manifest: String
    /// sha256 of the manifest's bytes.
    public var sha256: String
    public var rows: Int
    /// Rows left out under `--skip-bad-rows`, with their reasons.
    public var skipped: [SkippedRow]
    /// Rows per label.
    public var classCounts: [String: Int]
    public var minorityShare: Double
    public var balance: BalanceMode
    /// Loss weight per label under `balance` (1 unless `.weights`).
    public var lossWeights: [String: Float]
    /// The sampler's seed (epoch orders follow from it).
    public var seed: UInt64

    enum CodingKeys: String, CodingKey {
        case manifest, sha256, rows, skipped, balance, seed
        case classCounts = "class_counts", minorityShare = "minority_share", lossWeights = "loss_weights"
    }

    public init(manifest: TrainingManifest, balance: ClassBalance, mode: BalanceMode, seed: UInt64) {
        self.manifest = manifest.file
        sha256 = manifest.sha256
        rows = manifest.rows.count
        skipped = manifest.skipped
        classCounts = Dictionary(uniqueKeysWithValues: zip(balance.labels, balance.counts))
        minorityShare = balance.minorityShare
        self.balance = mode
        lossWeights = Dictionary(uniqueKeysWithValues: zip(balance.labels, balance.lossWeights(mode: mode)))
        self.seed = seed
    }
}
