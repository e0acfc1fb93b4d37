/// One model image checked against the model's input-domain record.
public struct DomainCheckResult: Codable, Sendable, Equatable {
    /// How the image was made.
    public var sourceKind: InputSourceKind
    /// False when the kind was not in training or a statistic lies outside its allowed range.
    public var inTrainingDomain: Bool
    /// One entry per thing outside the domain: what, its value, the training range.
    public var findings: [String]

    enum CodingKeys: String, CodingKey {
        case sourceKind = "source_kind", inTrainingDomain = "in_training_domain", findings
    }

    /// The review reason (nil inside the domain).
    public var reason: String? {
        inTrainingDomain ? nil : "outside the training domain: " + findings.joined(separator: "; ")
    }
}

extension InputDomain {
    /// Checks one image: its source kind must be one training saw, and each statistic recorded for that kind
    /// and defined for the image must lie inside its `allowed` range.
    public func check(_ s: ModelImageStatistics) -> DomainCheckResult {
        guard let domain = domain(of: s.sourceKind) else {
            let seen = sourceKinds.map(\.kind.rawValue).joined(separator: ", ")
            return DomainCheckResult(sourceKind: s.sourceKind, inTrainingDomain: false, findings: [
                "source kind \(s.sourceKind.rawValue) (\(s.sourceKind.phrase)) not seen in training (trained on \(seen))"])
        }
        var findings: [String] = []
        for summary in domain.statistics {
            guard let v = summary.statistic.value(of: s), summary.allowed.count == 2 else { continue }
            let lo = summary.allowed[0], hi = summary.allowed[1]
            if !(v >= lo && v <= hi) {
                let f = summary.statistic.format
                findings.append("\(summary.statistic.phrase) \(f(v)) outside \(f(lo))–\(f(hi)) (\(s.sourceKind.rawValue) training range with margin)")
            }
        }
        return DomainCheckResult(sourceKind: s.sourceKind, inTrainingDomain: findings.isEmpty, findings: findings)
    }
}
