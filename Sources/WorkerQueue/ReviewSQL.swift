import Foundation

/// A value bound to a review statement, whichever database runs it.
enum ReviewSQLValue: Sendable, Hashable {
    case text(String)
    case real(Double)
    case integer(Int64)
    case null

    static func textOrNull(_ value: String?) -> ReviewSQLValue { value.map { .text($0) } ?? .null }
    static func realOrNull(_ value: Double?) -> ReviewSQLValue { value.map { .real($0) } ?? .null }
    static func integerOrNull(_ value: Int?) -> ReviewSQLValue { value.map { .integer(Int64($0)) } ?? .null }
    static func time(_ value: Date) -> ReviewSQLValue { .real(value.timeIntervalSince1970) }
}

/// A statement with its values, its placeholders written by the database's dialect.
struct ReviewStatement: Sendable {
    var sql: String
    var values: [ReviewSQLValue]
}

/// The review queries both stores run: the same SQL text, the same columns and the same worklist order,
/// with `?` placeholders (SQLite) or `$n` (PostgreSQL).
enum ReviewSQL {
    /// `?` for SQLite, `$1, $2, …` for PostgreSQL.
    enum Dialect: Sendable { case sqlite, postgres }

    /// The columns of `cases` that `recordCase` writes, in binding order.
    static let caseColumns = [
        "job_id", "series_key", "study_instance_uid", "series_instance_uid", "decided_at", "decision", "priority",
        "reasons", "p_blocked", "threshold", "review_band_low", "review_band_high", "site", "manufacturer",
        "manufacturer_model", "software_versions", "protocol_name", "mean_gray", "dynamic_range", "frame_count",
        "frames_used", "worklist_reason", "sampling_probability", "image_file", "report_sop_instance_uid",
    ]

    /// Every column `decodeCase` reads.
    static let caseSelect = "SELECT " + (caseColumns + ["verdict_count"]).joined(separator: ", ") + " FROM cases"

    static let verdictSelect = """
        SELECT id, case_job_id, user_id, user_name, verdict, comment, recorded_at, verified_report_sop_instance_uid FROM verdicts
        """

    static let alertSelect = """
        SELECT id, kind, scope, message, value, limit_value, state, opened_at, updated_at, acknowledged_by, note,
               acknowledged_at, resolved_at FROM alerts
        """

    static let userSelect = "SELECT id, name, role, password_hash, disabled, created_at FROM users"

    /// The worklist order's first key: manual review, then blocked, then patent, then the rest.
    static func priority(_ decision: CaseDecision) -> Int {
        switch decision {
        case .manualReview: return 0
        case .blocked: return 1
        case .patent: return 2
        case .skipped, .unreadable: return 3
        }
    }

    /// Placeholders for `count` values starting at the 1-based `first`.
    static func marks(_ dialect: Dialect, first: Int, count: Int) -> String {
        (first..<(first + count)).map { number in dialect == .sqlite ? "?" : "$\(number)" }.joined(separator: ", ")
    }

    /// The values of one case, in `caseColumns` order.
    static func caseValues(_ c: ReviewCase) -> [ReviewSQLValue] {
        [.integer(c.jobID), .text(c.seriesKey), .text(c.studyInstanceUID), .text(c.seriesInstanceUID),
         .time(c.decidedAt), .text(c.decision.rawValue), .integer(Int64(priority(c.decision))),
         .text(jsonArray(c.reasons)), .realOrNull(c.pBlocked), .realOrNull(c.threshold), .realOrNull(c.reviewBandLow),
         .realOrNull(c.reviewBandHigh), .textOrNull(c.site), .textOrNull(c.manufacturer), .textOrNull(c.manufacturerModel),
         .textOrNull(c.softwareVersions), .textOrNull(c.protocolName), .realOrNull(c.meanGray), .realOrNull(c.dynamicRange),
         .integerOrNull(c.frameCount), .text(jsonArray(c.framesUsed)), .textOrNull(c.worklistReason?.rawValue),
         .real(c.samplingProbability), .textOrNull(c.imageFile), .textOrNull(c.reportSOPInstanceUID)]
    }

    /// `INSERT` of `rows` cases (one `VALUES` group each) that keeps an existing case of the same job.
    static func insertCases(_ dialect: Dialect, rows: Int) -> String {
        let width = caseColumns.count
        let groups = (0..<rows).map { row in "(" + marks(dialect, first: row * width + 1, count: width) + ")" }
        return "INSERT INTO cases (" + caseColumns.joined(separator: ", ") + ") VALUES "
            + groups.joined(separator: ", ") + " ON CONFLICT (job_id) DO NOTHING"
    }

    /// Refuses cases the monitoring could not weigh: a probability outside [0, 1], or a case on the worklist
    /// with probability 0 (its inverse weight would be infinite).
    static func validate(_ c: ReviewCase, location: String) throws(JobStoreError) {
        guard (0...1).contains(c.samplingProbability) else {
            throw .invalidArgument(location: location, message: "case \(c.jobID): sampling probability \(c.samplingProbability) is not in [0, 1]")
        }
        if c.worklistReason != nil, c.samplingProbability <= 0 {
            throw .invalidArgument(location: location, message: "case \(c.jobID) is on the worklist with sampling probability 0")
        }
        if let p = c.pBlocked, !(0...1).contains(p) {
            throw .invalidArgument(location: location, message: "case \(c.jobID): P(blocked) \(p) is not in [0, 1]")
        }
        guard !c.seriesKey.isEmpty else { throw .invalidArgument(location: location, message: "case \(c.jobID) has no series key") }
    }

    /// The worklist query: the filter's conditions (partial-index conditions written literally so that both
    /// planners match them), ordered by priority, then oldest first, then job id.
    static func worklist(_ filter: WorklistFilter, dialect: Dialect) -> ReviewStatement {
        var conditions: [String] = []
        var values: [ReviewSQLValue] = []
        func bind(_ value: ReviewSQLValue) -> String {
            values.append(value)
            return marks(dialect, first: values.count, count: 1)
        }
        switch filter.state {
        case .pending: conditions.append("worklist_reason IS NOT NULL AND verdict_count = 0")
        case .reviewed: conditions.append("verdict_count > 0")
        case .all: break
        }
        if let decision = filter.decision { conditions.append("decision = " + bind(.text(decision.rawValue))) }
        if let site = filter.site { conditions.append("site = " + bind(.text(site))) }
        if let scanner = filter.scanner {
            let first = bind(.text(scanner)), second = bind(.text(scanner))
            conditions.append("(manufacturer = \(first) OR manufacturer_model = \(second))")
        }
        if let from = filter.from { conditions.append("decided_at >= " + bind(.time(from))) }
        if let to = filter.to { conditions.append("decided_at < " + bind(.time(to))) }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let limit = bind(.integer(Int64(max(0, filter.limit))))
        return ReviewStatement(sql: caseSelect + whereClause + " ORDER BY priority, decided_at, job_id LIMIT " + limit, values: values)
    }

    /// The four worklist counts in one statement, each answered from a partial index.
    static let counts = """
        SELECT
          (SELECT COUNT(*) FROM cases WHERE worklist_reason IS NOT NULL AND verdict_count = 0 AND worklist_reason = 'manual_review') AS manual,
          (SELECT COUNT(*) FROM cases WHERE worklist_reason IS NOT NULL AND verdict_count = 0 AND worklist_reason = 'audit_sample') AS audit,
          (SELECT COUNT(*) FROM cases WHERE verdict_count > 0) AS reviewed,
          (SELECT COUNT(*) FROM cases WHERE disagreement = 1) AS disagreements
        """

    /// `[from, to)` on a time column, either side optional.
    static func range(_ column: String, from: Date?, to: Date?, dialect: Dialect) -> ReviewStatement {
        var conditions: [String] = []
        var values: [ReviewSQLValue] = []
        if let from {
            values.append(.time(from))
            conditions.append("\(column) >= " + marks(dialect, first: values.count, count: 1))
        }
        if let to {
            values.append(.time(to))
            conditions.append("\(column) < " + marks(dialect, first: values.count, count: 1))
        }
        return ReviewStatement(sql: conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "), values: values)
    }

    /// After verdicts were bulk-inserted (ids from `firstID` on): each touched case's count and disagreement
    /// flag, recomputed from its verdicts in one statement.
    static func refreshVerdictSummaries(_ dialect: Dialect) -> String { """
        UPDATE cases SET
          verdict_count = (SELECT COUNT(*) FROM verdicts v WHERE v.case_job_id = cases.job_id),
          disagreement = CASE WHEN EXISTS (
              SELECT 1 FROM verdicts a JOIN verdicts b ON b.case_job_id = a.case_job_id
              WHERE a.case_job_id = cases.job_id AND a.user_id <> b.user_id AND a.verdict <> b.verdict) THEN 1 ELSE 0 END
        WHERE job_id IN (SELECT case_job_id FROM verdicts WHERE id >= \(marks(dialect, first: 1, count: 1)))
        """
    }

    /// Whether a new verdict disagrees with one by another reviewer on the same case.
    static func disagrees(_ dialect: Dialect) -> String {
        let m = marks(dialect, first: 1, count: 3).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return "SELECT COUNT(*) AS n FROM verdicts WHERE case_job_id = \(m[0]) AND user_id <> \(m[1]) AND verdict <> \(m[2])"
    }

    /// A new verdict's effect on its case: one more verdict, and the disagreement flag set when it disagrees.
    static func countVerdict(_ dialect: Dialect) -> String {
        let m = marks(dialect, first: 1, count: 2).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return "UPDATE cases SET verdict_count = verdict_count + 1, disagreement = CASE WHEN \(m[0]) = 1 THEN 1 ELSE disagreement END WHERE job_id = \(m[1])"
    }

    /// A login name: 1–64 letters, digits, `.`, `_`, `-` (it appears in the audit log and on pages).
    static func validUserName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    /// The longest verdict comment kept.
    static let maximumCommentLength = 4000

    static func jsonArray(_ values: [String]) -> String {
        guard !values.isEmpty,
              let data = try? JSONSerialization.data(withJSONObject: values, options: [.withoutEscapingSlashes]),
              let text = String(data: data, encoding: .utf8) else { return "[]" }
        return text
    }

    static func jsonArray(_ values: [Int]) -> String {
        "[" + values.map(String.init).joined(separator: ",") + "]"
    }

    static func strings(fromJSON text: String, location: String) throws(JobStoreError) -> [String] {
        if text == "[]" { return [] }
        guard let data = text.data(using: .utf8),
              let values = (try? JSONSerialization.jsonObject(with: data)) as? [String] else {
            throw .corrupt(location: location, message: "reasons are not a JSON array of strings")
        }
        return values
    }

    /// The integers of a JSON array such as `[0, 3, 7]` (the frames-used column), read byte by byte: one pass,
    /// no intermediate strings (a worklist page decodes it for every row). Anything else is `corrupt`.
    static func integers(fromJSON text: String, location: String) throws(JobStoreError) -> [Int] {
        var text = text
        let parsed: [Int]? = text.withUTF8 { bytes -> [Int]? in
            var values: [Int] = []
            var i = 0
            let n = bytes.count
            func skipSpaces() { while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 } }
            skipSpaces()
            guard i < n, bytes[i] == 0x5B else { return nil }  // [
            i += 1
            skipSpaces()
            if i < n, bytes[i] == 0x5D {  // ]
                i += 1
                skipSpaces()
                return i == n ? values : nil
            }
            while true {
                skipSpaces()
                var negative = false
                if i < n, bytes[i] == 0x2D { negative = true; i += 1 }  // -
                var value = 0
                var digits = 0
                while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                    let (m, o1) = value.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(Int(bytes[i] - 0x30))
                    if o1 || o2 { return nil }
                    value = a
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                values.append(negative ? -value : value)
                skipSpaces()
                guard i < n else { return nil }
                if bytes[i] == 0x2C { i += 1; continue }  // ,
                guard bytes[i] == 0x5D else { return nil }
                i += 1
                skipSpaces()
                return i == n ? values : nil
            }
        }
        guard let parsed else { throw .corrupt(location: location, message: "frames used are not a JSON array of integers") }
        return parsed
    }

    /// The distinct non-null values of an indexed column of `cases`, in index order, found by a loose index
    /// scan (one index probe per distinct value, not a pass over every row): the worklist's filter lists.
    static func distinctValues(ofIndexed column: String) -> String {
        """
        WITH RECURSIVE v(value) AS (
            SELECT MIN(\(column)) FROM cases
            UNION ALL
            SELECT (SELECT MIN(\(column)) FROM cases WHERE \(column) > v.value) FROM v WHERE v.value IS NOT NULL
        ) SELECT value FROM v WHERE value IS NOT NULL
        """
    }

    /// The facet columns, each led by its own index (`cases_site`, `cases_manufacturer`, `cases_model`).
    static let siteColumn = "site"
    static let scannerColumns = ["manufacturer", "manufacturer_model"]

    /// Scanner names for the filter: manufacturers and models merged, each once, sorted.
    static func mergedScanners(_ lists: [[String]]) -> [String] {
        Array(Set(lists.joined())).sorted()
    }
}
