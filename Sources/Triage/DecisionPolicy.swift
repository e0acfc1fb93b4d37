/// A decision and every reason behind it.
public struct Decision: Sendable, Codable, Equatable {
    public var label: TriageLabel
    public var reasons: [String]

    public init(label: TriageLabel, reasons: [String]) {
        self.label = label
        self.reasons = reasons
    }
}

/// What the policy decides from.
public struct DecisionInputs: Sendable {
    /// Whether label scoring ran; then `pBlocked` is its P(blocked) (nil or non-finite when it failed).
    public var scored: Bool
    public var pBlocked: Double?
    /// The parsed generated answer when generation ran.
    public var generated: ParsedAnswer?
    /// Failed quality checks.
    public var qualityIssues: [String]
    /// Parts of the input that could not be read (e.g. some instances of a series).
    public var unreadableParts: [String]

    public init(scored: Bool, pBlocked: Double?, generated: ParsedAnswer? = nil, qualityIssues: [String] = [],
                unreadableParts: [String] = []) {
        self.scored = scored
        self.pBlocked = pBlocked
        self.generated = generated
        self.qualityIssues = qualityIssues
        self.unreadableParts = unreadableParts
    }
}

/// Threshold, review band and the review triggers.
///
/// - blocked when P(blocked) ≥ threshold (a tie goes to blocked: misses are the high-risk error);
/// - manual review when low ≤ P ≤ high (both band edges inclusive), when P is missing, NaN or infinite,
///   when the generated answer is unclear, when scoring and generation disagree, when a quality check
///   failed, or when part of the input was unreadable;
/// - otherwise patent.
public struct DecisionPolicy: Sendable {
    public var threshold: Double
    public var band: ClosedRange<Double>

    public init(threshold: Double, band: ClosedRange<Double>) {
        self.threshold = threshold
        self.band = band
    }

    public init(profile: TaskProfile) {
        let lo = profile.reviewBand.first ?? profile.threshold, hi = profile.reviewBand.last ?? profile.threshold
        self.init(threshold: profile.threshold, band: min(lo, hi)...max(lo, hi))
    }

    static func fmt(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        var s = String(Int64((x * 10000).rounded()))
        let neg = s.hasPrefix("-")
        if neg { s.removeFirst() }
        while s.count < 5 { s = "0" + s }
        var out = String(s.dropLast(4)) + "." + s.suffix(4)
        while out.hasSuffix("0") && !out.hasSuffix(".0") { out.removeLast() }
        return (neg ? "-" : "") + out
    }

    public func decide(_ x: DecisionInputs) -> Decision {
        var reasons: [String] = []
        var review = false
        var scoreLabel: TriageLabel?
        if x.scored {
            if let p = x.pBlocked, p.isFinite, p >= 0, p <= 1 {
                scoreLabel = p >= threshold ? .blocked : .patent
                if band.contains(p) {
                    // One reason, naming the band first: "P ≥ threshold" beside a review would read as a blocked call.
                    review = true
                    reasons.append("P(blocked) \(Self.fmt(p)) lies in the review band [\(Self.fmt(band.lowerBound)), \(Self.fmt(band.upperBound))] (threshold \(Self.fmt(threshold))): uncertain, for manual review")
                } else {
                    reasons.append("P(blocked) \(Self.fmt(p)) \(p >= threshold ? "≥" : "<") threshold \(Self.fmt(threshold))")
                }
            } else {
                review = true
                reasons.append("label scores are not finite (\(x.pBlocked.map { "\($0)" } ?? "none"))")
            }
        }
        var generatedLabel: TriageLabel?
        if let g = x.generated {
            switch g.verdict {
            case .patent: generatedLabel = .patent
            case .blocked: generatedLabel = .blocked
            case .unclear: break
            }
            if let gl = generatedLabel {
                reasons.append("generated answer reads \(gl.rawValue): \(g.reason)")
            } else {
                review = true
                reasons.append("generated answer is unclear: \(g.reason)")
            }
        }
        if let s = scoreLabel, let g = generatedLabel, s != g {
            review = true
            reasons.append("scoring (\(s.rawValue)) and generation (\(g.rawValue)) disagree")
        }
        if !x.scored && x.generated == nil {
            review = true
            reasons.append("no model output")
        }
        for q in x.qualityIssues {
            review = true
            reasons.append("quality: \(q)")
        }
        for u in x.unreadableParts {
            review = true
            reasons.append("partly unreadable: \(u)")
        }
        let label: TriageLabel = review ? .manualReview : (scoreLabel ?? generatedLabel ?? .manualReview)
        return Decision(label: label, reasons: reasons)
    }
}

extension TriageLabel {
    /// Order for keeping the worst of several runs: blocked, then manual review, then patent.
    public var severity: Int {
        switch self {
        case .patent: return 0
        case .manualReview: return 1
        case .blocked: return 2
        }
    }
}
