/// One evaluated case: ground truth, the model's P(blocked) and its decision.
public struct EvaluationSample: Sendable, Equatable, Codable {
    /// Input path as written in the manifest.
    public var path: String
    /// Ground truth: true when blocked.
    public var blocked: Bool
    /// P(blocked); nil when the model gave none (the case then counts for decision metrics only).
    public var pBlocked: Double?
    /// The decision: "patent", "blocked" or "manual_review".
    public var decision: String
    public var site: String?
    public var scanner: String?
    public var date: String?
    public var split: String?

    public init(path: String, blocked: Bool, pBlocked: Double?, decision: String, site: String? = nil,
                scanner: String? = nil, date: String? = nil, split: String? = nil) {
        self.path = path
        self.blocked = blocked
        self.pBlocked = pBlocked
        self.decision = decision
        self.site = site
        self.scanner = scanner
        self.date = date
        self.split = split
    }

    /// A manual review is a flag: the case goes to a person, never silently to "patent".
    public var flagged: Bool { decision != "patent" }
    public var isReview: Bool { decision == "manual_review" }

    enum CodingKeys: String, CodingKey {
        case path, decision, site, scanner, date, split
        case blocked = "label_blocked", pBlocked = "p_blocked"
    }
}
