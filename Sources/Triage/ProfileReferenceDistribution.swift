import Foundation

/// The score and input distribution of the evaluation run that chose a profile's operating point, kept in the
/// profile (`reference_distribution`) so that monitoring can measure drift against it. It has the JSON keys of
/// Monitoring's `ReferenceDistribution` (Triage does not depend on Monitoring; the two convert through JSON).
public struct ProfileReferenceDistribution: Codable, Sendable, Equatable {
    /// Where it came from (the evaluation run: manifest, case count, date); shown in the monitoring report.
    public var source: String?
    /// P(blocked) of the reference cases.
    public var pBlocked: [Double]?
    /// Or, when no sample is kept: counts of P(blocked) in equal-width bins over [0, 1].
    public var pBlockedBins: [Int]?
    /// Input statistics of the reference model images: mean gray and dynamic range (0–255), frames in the run.
    public var meanGray: [Double]?
    public var dynamicRange: [Double]?
    public var frameCount: [Double]?
    /// Shares of the series received that were skipped and unreadable, and how many series there were.
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

    /// The key's shape inside a task profile (every member optional, no unknown keys).
    static let shape: ConfigShape = .object([
        ConfigField("source", .nullable(.string), required: false),
        ConfigField("p_blocked", .nullable(.array(.number)), required: false),
        ConfigField("p_blocked_bins", .nullable(.array(.integer)), required: false),
        ConfigField("mean_gray", .nullable(.array(.number)), required: false),
        ConfigField("dynamic_range", .nullable(.array(.number)), required: false),
        ConfigField("frame_count", .nullable(.array(.number)), required: false),
        ConfigField("skipped_share", .nullable(.number), required: false),
        ConfigField("unreadable_share", .nullable(.number), required: false),
        ConfigField("series_count", .nullable(.integer), required: false),
    ])

    /// The problem with a value (field name, reason), or nil: probabilities in [0, 1], gray levels in 0…255,
    /// frame counts ≥ 1, at least two non-negative bin counts, shares that leave room for triaged series.
    public func problem() -> (field: String, reason: String)? {
        if let p = pBlocked, p.contains(where: { !($0 >= 0 && $0 <= 1) }) { return ("p_blocked", "holds a value outside [0, 1]") }
        if let b = pBlockedBins, b.count < 2 || b.contains(where: { $0 < 0 }) || b.reduce(0, +) == 0 {
            return ("p_blocked_bins", "needs at least 2 non-negative counts, not all zero")
        }
        for (name, values) in [("mean_gray", meanGray), ("dynamic_range", dynamicRange)] {
            if let v = values, v.contains(where: { !($0 >= 0 && $0 <= 255) }) { return (name, "holds a value outside 0…255") }
        }
        if let f = frameCount, f.contains(where: { !($0 >= 1 && $0.isFinite) }) { return ("frame_count", "holds a value below 1") }
        for (name, share) in [("skipped_share", skippedShare), ("unreadable_share", unreadableShare)] {
            if let s = share, !(s >= 0 && s < 1) { return (name, "must lie in [0, 1)") }
        }
        if (skippedShare ?? 0) + (unreadableShare ?? 0) >= 1 { return ("skipped_share", "plus unreadable_share must be below 1") }
        if let n = seriesCount, n < 0 { return ("series_count", "must be 0 or more") }
        return nil
    }
}
