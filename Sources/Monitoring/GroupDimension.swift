import Foundation
import WorkerQueue

/// A field the figures are broken down by: the site and the DICOM equipment fields (none identifies a
/// patient). A case without the field is left out of that dimension's groups (it still counts in `overall`).
public enum GroupDimension: String, Sendable, Codable, CaseIterable {
    case site
    case manufacturer
    /// Manufacturer's Model Name.
    case model
    case softwareVersion = "software_version"
    case `protocol`

    /// The case's value for this dimension, trimmed; nil when absent or blank.
    public func value(of c: ReviewCase) -> String? {
        let raw: String?
        switch self {
        case .site: raw = c.site
        case .manufacturer: raw = c.manufacturer
        case .model: raw = c.manufacturerModel
        case .softwareVersion: raw = c.softwareVersions
        case .protocol: raw = c.protocolName
        }
        guard let raw, !raw.isEmpty else { return nil }
        // Trim only when needed: the monitor calls this for every case and dimension on every run.
        guard raw.first?.isWhitespace == true || raw.last?.isWhitespace == true else { return raw }
        let t = raw.trimmingCharacters(in: .whitespaces)
        return t.isEmpty ? nil : t
    }

    /// The group name used in monitoring.json and alert scopes: `dimension=value`.
    public func groupName(_ value: String) -> String { "\(rawValue)=\(value)" }

    /// The name of the group of every case.
    public static let overall = "overall"
}
