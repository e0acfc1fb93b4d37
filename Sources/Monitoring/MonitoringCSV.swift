import Foundation

/// The per-group table as CSV (RFC 4180 quoting): one row per window and group, naive and weighted figures.
public enum MonitoringCSV {
    /// The column names, in order.
    public static let header = ["window", "group", "cases", "triaged", "skipped", "unreadable", "adjudicated",
                                "sensitivity", "sensitivity_low", "sensitivity_high", "sensitivity_n",
                                "specificity", "specificity_low", "specificity_high", "specificity_n",
                                "ppv", "ppv_low", "ppv_high", "ppv_n", "npv", "npv_low", "npv_high", "npv_n",
                                "review_rate", "review_rate_low", "review_rate_high", "review_rate_n",
                                "weighted_sensitivity", "weighted_sensitivity_low", "weighted_sensitivity_high", "weighted_sensitivity_effective_n",
                                "weighted_specificity", "weighted_specificity_low", "weighted_specificity_high", "weighted_specificity_effective_n",
                                "weighted_ppv", "weighted_npv", "psi_p_blocked"]

    /// Every window's groups, `overall` first; numbers at full precision, undefined ones empty.
    public static func groups(_ r: MonitoringReport) -> String {
        var out = header.joined(separator: ",") + "\n"
        for key in r.windowOrder {
            guard let w = r.windows[key] else { continue }
            for (name, f) in MonitoringHTML.orderedGroups(w.groups) {
                var row = [key, name] + [f.cases, f.triaged, f.skipped, f.unreadable, f.adjudicated].map(String.init)
                for est in [f.sensitivity, f.specificity, f.ppv, f.npv, f.reviewRate] { row += naive(est) }
                for est in [f.weighted.sensitivity, f.weighted.specificity] { row += weighted(est) }
                row += [number(f.weighted.ppv.value), number(f.weighted.npv.value), number(f.psi)]
                out += row.map(field).joined(separator: ",") + "\n"
            }
        }
        return out
    }

    static func naive(_ e: Estimate) -> [String] { [number(e.value), number(e.ci?.first), number(e.ci?.last), String(e.n)] }
    static func weighted(_ e: Estimate) -> [String] { [number(e.value), number(e.ci?.first), number(e.ci?.last), number(e.effectiveN)] }

    /// Full precision (Swift's shortest round-trip form); empty when undefined.
    static func number(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "" } ?? "" }

    static func field(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
