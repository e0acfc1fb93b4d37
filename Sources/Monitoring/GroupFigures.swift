/// One group's figures in one window: counts, the naive estimates over all adjudicated cases, the
/// inverse-probability-weighted ones, and drift. Sensitivity counts manual review as a flag (a human saw the
/// case, so a blocked vessel routed to review is not missed); `auto_decided` gives the model's own calls.
public struct GroupFigures: Sendable, Equatable, Codable {
    /// Cases decided in the window (every decision), triaged (blocked, patent, manual review), skipped, unreadable.
    public var cases: Int
    public var triaged: Int
    public var skipped: Int
    public var unreadable: Int
    /// Triaged cases with a label, cases with only non-diagnostic verdicts, cases with disagreeing verdicts.
    public var adjudicated: Int
    public var nonDiagnosticOnly: Int
    public var disagreements: Int
    /// P(flagged | blocked), flagged = blocked or manual review.
    public var sensitivity: Estimate
    /// P(called patent | patent).
    public var specificity: Estimate
    /// P(blocked | flagged).
    public var ppv: Estimate
    /// P(patent | called patent).
    public var npv: Estimate
    /// Manual-review share of triaged cases.
    public var reviewRate: Estimate
    /// Blocked-or-patent share of triaged cases.
    public var autoDecisionRate: Estimate
    /// Sensitivity and specificity among the cases the model decided alone.
    public var autoDecided: AutoDecidedFigures
    /// The same keys, inverse-probability weighted against verification bias.
    public var weighted: WeightedFigures
    /// PSI of P(blocked) against the reference (nil without a reference or cases).
    public var psi: Double?
    public var drift: DriftFigures

    enum CodingKeys: String, CodingKey {
        case cases, triaged, skipped, unreadable, adjudicated, nonDiagnosticOnly = "non_diagnostic_only", disagreements
        case sensitivity, specificity, ppv, npv, reviewRate = "review_rate", autoDecisionRate = "auto_decision_rate"
        case autoDecided = "auto_decided", weighted, psi, drift
    }
}

/// Sensitivity P(called blocked | blocked) and specificity among auto-decided (blocked or patent) cases only.
public struct AutoDecidedFigures: Sendable, Equatable, Codable {
    public var sensitivity: Estimate
    public var specificity: Estimate
}

/// Horvitz–Thompson (Hájek ratio) estimates: each adjudicated case weighs 1 / its sampling probability, so
/// audit samples stand for the unsampled cases like them. Intervals are Wilson on the Kish effective size.
public struct WeightedFigures: Sendable, Equatable, Codable {
    public var sensitivity: Estimate
    public var specificity: Estimate
    public var ppv: Estimate
    public var npv: Estimate
    /// Every triaged case is observed, so the review rate needs no weighting: the naive figure, repeated.
    public var reviewRate: Estimate
    /// Adjudicated cases left out because their sampling probability was 0 (no finite weight).
    public var unweightable: Int

    enum CodingKeys: String, CodingKey { case sensitivity, specificity, ppv, npv, reviewRate = "review_rate", unweightable }
}

/// Label-free drift of one group in one window.
public struct DriftFigures: Sendable, Equatable, Codable {
    public var pBlocked: DriftMeasure?
    public var meanGray: DriftMeasure?
    public var dynamicRange: DriftMeasure?
    public var frameCount: DriftMeasure?
    public var seriesOutcome: OutcomeDrift?

    enum CodingKeys: String, CodingKey {
        case pBlocked = "p_blocked", meanGray = "mean_gray", dynamicRange = "dynamic_range", frameCount = "frame_count"
        case seriesOutcome = "series_outcome"
    }
}

/// PSI and KS of one statistic against the reference.
public struct DriftMeasure: Sendable, Equatable, Codable {
    /// Cases with the statistic.
    public var n: Int
    public var psi: Double?
    public var ks: KolmogorovSmirnov?
}

/// The shares of skipped and unreadable series against the reference shares; PSI over the three outcomes
/// (triaged, skipped, unreadable).
public struct OutcomeDrift: Sendable, Equatable, Codable {
    public var n: Int
    public var skippedShare: Estimate
    public var unreadableShare: Estimate
    public var referenceSkippedShare: Double?
    public var referenceUnreadableShare: Double?
    public var psi: Double?

    enum CodingKeys: String, CodingKey {
        case n, skippedShare = "skipped_share", unreadableShare = "unreadable_share"
        case referenceSkippedShare = "reference_skipped_share", referenceUnreadableShare = "reference_unreadable_share", psi
    }
}
