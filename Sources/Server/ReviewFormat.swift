import Foundation
import WorkerQueue

/// How the review pages write dates, decisions and verdicts: UTC throughout (the database's clock), words
/// a reviewer reads rather than stored codes.
enum ReviewFormat {
    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        return calendar
    }()

    /// `2025-03-14 09:26`
    static func dateTime(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
    }

    /// `2025-03-14`, the form of an HTML date input.
    static func day(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    /// The start (UTC midnight) of a `yyyy-MM-dd` day; nil for anything else.
    static func parseDay(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        let components = DateComponents(year: year, month: month, day: day)
        guard let date = utc.date(from: components), self.day(date) == text else { return nil }
        return date
    }

    static func decision(_ decision: CaseDecision) -> String {
        switch decision {
        case .blocked: return "blocked"
        case .patent: return "patent"
        case .manualReview: return "manual review"
        case .skipped: return "skipped"
        case .unreadable: return "unreadable"
        }
    }

    static func verdict(_ verdict: Verdict) -> String {
        switch verdict {
        case .patent: return "patent"
        case .blocked: return "blocked"
        case .nonDiagnostic: return "non-diagnostic"
        }
    }

    static func reason(_ reason: WorklistReason?) -> String {
        switch reason {
        case .manualReview: return "manual review"
        case .auditSample: return "audit sample"
        case nil: return "—"
        }
    }

    static func probability(_ p: Double?) -> String {
        guard let p, p.isFinite else { return "—" }
        return String(format: "%.3f", p)
    }
}
