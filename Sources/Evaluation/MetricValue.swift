/// A metric's point value and its 95 % interval; both encode as JSON null when undefined.
public struct MetricValue: Sendable, Equatable, Codable {
    public var value: Double?
    /// [low, high]; nil where undefined.
    public var ci: [Double]?

    public init(value: Double?, ci: [Double]? = nil) {
        self.value = value
        self.ci = value == nil ? nil : ci
    }

    public static let undefined = MetricValue(value: nil)

    enum CodingKeys: String, CodingKey { case value, ci }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let value { try c.encode(value, forKey: .value) } else { try c.encodeNil(forKey: .value) }
        if let ci { try c.encode(ci, forKey: .ci) } else { try c.encodeNil(forKey: .ci) }
    }
}
