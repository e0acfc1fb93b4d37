import Foundation

/// What "normal" looks like, from the evaluation run that chose the operating point: P(blocked) as a sample
/// (for KS and quantile bins) or as counts in 10 equal bins over [0, 1], the input statistics, and the
/// share of series that were skipped or unreadable. Stored as JSON beside the profile.
public struct ReferenceDistribution: Sendable, Equatable, Codable {
    /// Where it came from (an evaluation run, a date range); shown in the report.
    public var source: String?
    /// P(blocked) of the reference cases.
    public var pBlocked: [Double]?
    /// Or, when no sample is kept: counts of P(blocked) in equal-width bins over [0, 1].
    public var pBlockedBins: [Int]?
    /// Input statistics of the reference model images: mean gray, dynamic range (0–255), frames in the run.
    public var meanGray: [Double]?
    public var dynamicRange: [Double]?
    public var frameCount: [Double]?
    /// Shares of all series received that were skipped (routed away) and unreadable, and how many series.
    public var skippedShare: Double?
    public var unreadableShare: Double?
    public var seriesCount: Int?

    public init(source: String? = nil, pBlocked: [Double]? = nil, pBlockedBins: [Int]? = nil, meanGray: [Double]? = nil,
                dynamicRange: [Double]? = nil, frameCount: [Double]? = nil, skippedShare: Double? = nil,
                unreadableShare: Double? = nil, seriesCount: Int? = nil) {
        (self.source, self.pBlocked, self.pBlockedBins, self.meanGray) = (source, pBlocked, pBlockedBins, meanGray)
        (self.dynamicRange, self.frameCount, self.skippedShare) = (dynamicRange, frameCount, skippedShare)
        (self.unreadableShare, self.seriesCount) = (unreadableShare, seriesCount)
    }

    enum CodingKeys: String, CodingKey {
        case source, pBlocked = "p_blocked", pBlockedBins = "p_blocked_bins", meanGray = "mean_gray"
        case dynamicRange = "dynamic_range", frameCount = "frame_count", skippedShare = "skipped_share"
        case unreadableShare = "unreadable_share", seriesCount = "series_count"
    }

    /// Checks probabilities in [0, 1], non-negative bin counts and shares that leave room for triaged series.
    public func validate() throws(MonitoringError) {
        if let p = pBlocked, p.contains(where: { !($0 >= 0 && $0 <= 1) }) {
            throw .invalidReference(field: "p_blocked", problem: "holds a value outside [0, 1]")
        }
        if let b = pBlockedBins, b.count < 2 || b.contains(where: { $0 < 0 }) || b.reduce(0, +) == 0 {
            throw .invalidReference(field: "p_blocked_bins", problem: "needs at least 2 non-negative counts, not all zero")
        }
        for (name, share) in [("skipped_share", skippedShare), ("unreadable_share", unreadableShare)] {
            if let s = share, !(s >= 0 && s < 1) { throw .invalidReference(field: name, problem: "must be in [0, 1)") }
        }
        if (skippedShare ?? 0) + (unreadableShare ?? 0) >= 1 {
            throw .invalidReference(field: "skipped_share + unreadable_share", problem: "must be below 1")
        }
    }

    /// Reads and validates a reference from JSON.
    public static func decode(_ data: Data) throws -> ReferenceDistribution {
        let r = try JSONDecoder().decode(ReferenceDistribution.self, from: data)
        try r.validate()
        return r
    }
}
