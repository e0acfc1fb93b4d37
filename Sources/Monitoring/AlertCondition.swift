import Foundation

/// An alert condition that holds now: what fired, where, the value against its limit, and a message without
/// identifiers (the group is in `group`, never in the text). The service raises or updates a stored alert
/// for each and resolves stored alerts whose condition no longer holds.
public struct AlertCondition: Sendable, Equatable, Codable {
    /// `sensitivity_floor`, `cusum_false_negative`, `cusum_review_rate`, `psi_p_blocked`, `psi_mean_gray`,
    /// `psi_dynamic_range`, `psi_frame_count`, `psi_series_outcome`.
    public var kind: String
    /// `overall` or `dimension=value`; the store's alert scope.
    public var group: String
    public var value: Double
    public var limit: Double
    public var message: String

    /// A condition as the alert rules make it.
    public init(kind: String, group: String, value: Double, limit: Double, message: String) {
        (self.kind, self.group, self.value, self.limit, self.message) = (kind, group, value, limit, message)
    }
}

/// An alert as monitoring.json lists it: a current condition joined with its stored record, or a stored
/// alert whose condition has cleared (`active` false).
public struct MonitoringAlert: Sendable, Equatable, Codable {
    public var kind: String
    public var group: String
    /// When the stored alert was opened, or `now` for a condition not stored yet.
    public var opened: Date
    /// `open`, `acknowledged` or `resolved` (a new condition is `open`).
    public var state: String
    /// Whether the condition holds in this evaluation.
    public var active: Bool
    public var value: Double
    public var limit: Double
    public var message: String
    public var acknowledgedBy: String?
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case kind, group, opened, state, active, value, limit, message, acknowledgedBy = "acknowledged_by", note
    }
}
