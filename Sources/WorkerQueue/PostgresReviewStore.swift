import Foundation
import PostgresNIO

/// The review data in the job queue's PostgreSQL database (migration `v2-review`), on the same pool and
/// in the same kind of transactions as the jobs. Verdicts and audit events are append-only: the store has
/// no path that changes them (but the verified SR's UID, set once), and triggers refuse any other UPDATE,
/// DELETE or TRUNCATE. Several workers may share the database: a verdict locks its case row, and an alert
/// is raised with one `INSERT … ON CONFLICT` on the partial unique index of active alerts, so two monitors
/// raising the same alert at once make one.
extension PostgresJobStore: ReviewStore {
    // MARK: Users

    public func addUser(name userName: String, role: UserRole, passwordHash: String, actor: String, now: Date? = nil) async throws(JobStoreError) -> UserAccount {
        guard ReviewSQL.validUserName(userName) else {
            throw .invalidArgument(location: name, message: "user name must be 1-64 letters, digits, '.', '_' or '-'")
        }
        guard !passwordHash.isEmpty else { throw .invalidArgument(location: name, message: "empty password hash") }
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            let inserted = try await self.rows(c, """
                INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at)
                VALUES (\(userName), \(role.rawValue), \(passwordHash), 0, \(t), \(t))
                ON CONFLICT (name) DO NOTHING RETURNING id
                """)
            guard let id = try inserted.first?["id"].decode(Int64.self) else {
                throw JobStoreError.invalidArgument(location: self.name, message: "a user named '\(userName)' exists")
            }
            try await self.audit(c, t: t, actor: actor, action: "user_added", caseJobID: nil, detail: "\(userName) (\(role.rawValue))")
            return try await self.requireUser(c, id: id)
        }
    }

    public func setUserDisabled(name userName: String, disabled: Bool, actor: String, now: Date? = nil) async throws(JobStoreError) -> UserAccount {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            let id = try await self.lockUser(c, name: userName)
            try await self.execute(c, "UPDATE users SET disabled = \(disabled ? 1 : 0), updated_at = \(t) WHERE id = \(id)")
            if disabled { try await self.execute(c, "DELETE FROM sessions WHERE user_id = \(id)") }
            try await self.audit(c, t: t, actor: actor, action: disabled ? "user_disabled" : "user_enabled", caseJobID: nil, detail: userName)
            return try await self.requireUser(c, id: id)
        }
    }

    public func setPasswordHash(name userName: String, passwordHash: String, actor: String, now: Date? = nil) async throws(JobStoreError) -> UserAccount {
        guard !passwordHash.isEmpty else { throw .invalidArgument(location: name, message: "empty password hash") }
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            let id = try await self.lockUser(c, name: userName)
            try await self.execute(c, "UPDATE users SET password_hash = \(passwordHash), updated_at = \(t) WHERE id = \(id)")
            try await self.audit(c, t: t, actor: actor, action: "password_changed", caseJobID: nil, detail: userName)
            return try await self.requireUser(c, id: id)
        }
    }

    public func users() async throws(JobStoreError) -> [UserAccount] {
        try await read { c in
            try await self.reviewRows(c, "\(unescaped: ReviewSQL.userSelect) ORDER BY name") { row in try ReviewRows.decodeUser(row, location: self.name) }
        }
    }

    public func user(name userName: String) async throws(JobStoreError) -> UserAccount? {
        try await read { c in
            try await self.rows(c, "\(unescaped: ReviewSQL.userSelect) WHERE name = \(userName)").first.map { row in
                try ReviewRows.decodeUser(row, location: self.name)
            }
        }
    }

    public func user(id: Int64) async throws(JobStoreError) -> UserAccount? {
        try await read { c in
            try await self.rows(c, "\(unescaped: ReviewSQL.userSelect) WHERE id = \(id)").first.map { row in
                try ReviewRows.decodeUser(row, location: self.name)
            }
        }
    }

    private func requireUser(_ c: PostgresConnection, id: Int64) async throws -> UserAccount {
        guard let row = try await rows(c, "\(unescaped: ReviewSQL.userSelect) WHERE id = \(id)").first else {
            throw JobStoreError.invalidArgument(location: name, message: "no user \(id)")
        }
        return try ReviewRows.decodeUser(row, location: name)
    }

    /// The user's id, its row locked until commit.
    private func lockUser(_ c: PostgresConnection, name userName: String) async throws -> Int64 {
        guard let row = try await rows(c, "SELECT id FROM users WHERE name = \(userName) FOR UPDATE").first else {
            throw JobStoreError.invalidArgument(location: name, message: "no user '\(userName)'")
        }
        return try row["id"].decode(Int64.self)
    }

    // MARK: Sessions

    public func createSession(_ session: ReviewSession) async throws(JobStoreError) {
        guard !session.tokenHash.isEmpty, !session.csrfToken.isEmpty else {
            throw .invalidArgument(location: name, message: "a session needs a token hash and a CSRF token")
        }
        try await transaction { c in
            guard try await self.rows(c, "SELECT id FROM users WHERE id = \(session.userID)").first != nil else {
                throw JobStoreError.invalidArgument(location: self.name, message: "no user \(session.userID)")
            }
            let inserted = try await self.rows(c, """
                INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
                VALUES (\(session.tokenHash), \(session.userID), \(session.csrfToken), \(session.createdAt.timeIntervalSince1970),
                        \(session.expiresAt.timeIntervalSince1970))
                ON CONFLICT (token_hash) DO NOTHING RETURNING token_hash
                """)
            guard !inserted.isEmpty else {
                throw JobStoreError.invalidArgument(location: self.name, message: "a session with this token exists")
            }
        }
    }

    public func session(tokenHash: String, now: Date? = nil) async throws(JobStoreError) -> ReviewSession? {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await read { c in
            try await self.rows(c, """
                SELECT s.token_hash, s.user_id, s.csrf_token, s.created_at, s.expires_at
                FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.token_hash = \(tokenHash) AND s.expires_at > \(t) AND u.disabled = 0
                """).first.map { row in try ReviewRows.decodeSession(row, location: self.name) }
        }
    }

    public func deleteSession(tokenHash: String) async throws(JobStoreError) {
        try await transaction { c in try await self.execute(c, "DELETE FROM sessions WHERE token_hash = \(tokenHash)") }
    }

    public func purgeSessions(now: Date? = nil) async throws(JobStoreError) -> Int {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            try await self.rows(c, "DELETE FROM sessions WHERE expires_at <= \(t) RETURNING token_hash").count
        }
    }

    // MARK: Cases

    public func recordCase(_ reviewCase: ReviewCase) async throws(JobStoreError) -> Bool {
        try await recordCases([reviewCase]) == 1
    }

    /// Rows per `INSERT`: 25 values each, well under PostgreSQL's 65 535 parameters.
    private static let casesPerStatement = 1000

    public func recordCases(_ cases: [ReviewCase]) async throws(JobStoreError) -> Int {
        for reviewCase in cases { try ReviewSQL.validate(reviewCase, location: name) }
        guard !cases.isEmpty else { return 0 }
        return try await transaction { c in
            var inserted = 0
            var start = 0
            while start < cases.count {
                let chunk = cases[start..<min(cases.count, start + Self.casesPerStatement)]
                let sql = "WITH inserted AS (" + ReviewSQL.insertCases(.postgres, rows: chunk.count) + " RETURNING 1) SELECT COUNT(*) AS n FROM inserted"
                let counted = try await self.rows(c, Self.query(sql, chunk.flatMap(ReviewSQL.caseValues)))
                inserted += try counted.first?["n"].decode(Int.self) ?? 0
                start += chunk.count
            }
            return inserted
        }
    }

    public func reviewCase(jobID: Int64) async throws(JobStoreError) -> ReviewCase? {
        try await read { c in
            try await self.rows(c, "\(unescaped: ReviewSQL.caseSelect) WHERE job_id = \(jobID)").first.map { row in
                try ReviewRows.decodeCase(row, location: self.name)
            }
        }
    }

    public func worklist(_ filter: WorklistFilter) async throws(JobStoreError) -> [ReviewCase] {
        guard filter.limit >= 0 else { throw .invalidArgument(location: name, message: "negative worklist limit \(filter.limit)") }
        let statement = ReviewSQL.worklist(filter, dialect: .postgres)
        return try await read { c in
            try await self.reviewRows(c, Self.query(statement.sql, statement.values)) { row in try ReviewRows.decodeCase(row, location: self.name) }
        }
    }

    public func worklistCounts() async throws(JobStoreError) -> WorklistCounts {
        try await read { c in
            guard let row = try await self.rows(c, PostgresQuery(unsafeSQL: ReviewSQL.counts)).first else {
                throw JobStoreError.database(location: self.name, message: "the counts query returned no row")
            }
            return WorklistCounts(pendingManualReview: try row["manual"].decode(Int.self), pendingAuditSamples: try row["audit"].decode(Int.self),
                                  reviewed: try row["reviewed"].decode(Int.self), disagreements: try row["disagreements"].decode(Int.self))
        }
    }

    public func cases(from: Date?, to: Date?) async throws(JobStoreError) -> [ReviewCase] {
        let range = ReviewSQL.range("decided_at", from: from, to: to, dialect: .postgres)
        return try await read { c in
            try await self.reviewRows(c, Self.query(ReviewSQL.caseSelect + range.sql + " ORDER BY decided_at, job_id", range.values)) { row in try ReviewRows.decodeCase(row, location: self.name) }
        }
    }

    public func facets() async throws(JobStoreError) -> (sites: [String], scanners: [String]) {
        let found = try await read { c -> [[String]] in
            let sites = try await self.rows(c, Self.query(ReviewSQL.distinctValues(ofIndexed: ReviewSQL.siteColumn), []))
                .map { try $0["value"].decode(String.self) }
            var scannerLists: [[String]] = []
            for column in ReviewSQL.scannerColumns {
                scannerLists.append(try await self.rows(c, Self.query(ReviewSQL.distinctValues(ofIndexed: column), [])).map { try $0["value"].decode(String.self) })
            }
            let scanners = ReviewSQL.mergedScanners(scannerLists)
            return [sites, scanners]
        }
        return (found[0], found[1])
    }

    // MARK: Verdicts

    public func addVerdict(caseJobID: Int64, userID: Int64, verdict: Verdict, comment: String?, now: Date? = nil) async throws(JobStoreError) -> VerdictRecord {
        if let comment, comment.count > ReviewSQL.maximumCommentLength {
            throw .invalidArgument(location: name, message: "a comment is at most \(ReviewSQL.maximumCommentLength) characters")
        }
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            let user = try await self.requireUser(c, id: userID)
            guard !user.disabled else { throw JobStoreError.invalidArgument(location: self.name, message: "user '\(user.name)' is disabled") }
            // The case row, locked until commit, serialises verdicts on one case: two reviewers saving at
            // once both see each other's verdict when the disagreement is decided.
            guard try await self.rows(c, "SELECT job_id FROM cases WHERE job_id = \(caseJobID) FOR UPDATE").first != nil else {
                throw JobStoreError.notFound(location: self.name, id: caseJobID)
            }
            let disagreeing = try await self.rows(c, Self.query(ReviewSQL.disagrees(.postgres), [.integer(caseJobID), .integer(userID), .text(verdict.rawValue)]))
                .first?["n"].decode(Int.self) ?? 0
            let inserted = try await self.rows(c, """
                INSERT INTO verdicts (case_job_id, user_id, user_name, verdict, comment, recorded_at)
                VALUES (\(caseJobID), \(userID), \(user.name), \(verdict.rawValue), \(comment), \(t))
                RETURNING id
                """)
            guard let id = try inserted.first?["id"].decode(Int64.self) else {
                throw JobStoreError.database(location: self.name, message: "the verdict was not inserted")
            }
            try await self.execute(c, Self.query(ReviewSQL.countVerdict(.postgres), [.integer(disagreeing > 0 ? 1 : 0), .integer(caseJobID)]))
            try await self.audit(c, t: t, actor: user.name, action: "verdict", caseJobID: caseJobID, detail: "verdict \(id): \(verdict.rawValue)")
            guard let row = try await self.rows(c, "\(unescaped: ReviewSQL.verdictSelect) WHERE id = \(id)").first else {
                throw JobStoreError.database(location: self.name, message: "verdict \(id) vanished")
            }
            return try ReviewRows.decodeVerdict(row, location: self.name)
        }
    }

    public func setVerifiedReport(verdictID: Int64, sopInstanceUID: String, now: Date? = nil) async throws(JobStoreError) {
        guard !sopInstanceUID.isEmpty else { throw .invalidArgument(location: name, message: "empty SOP Instance UID") }
        let t = (now ?? clock()).timeIntervalSince1970
        try await transaction { c in
            guard let row = try await self.rows(c, """
                SELECT case_job_id, verified_report_sop_instance_uid AS uid FROM verdicts WHERE id = \(verdictID) FOR UPDATE
                """).first else {
                throw JobStoreError.notFound(location: self.name, id: verdictID)
            }
            guard try row["uid"].decode(String?.self) == nil else {
                throw JobStoreError.invalidArgument(location: self.name, message: "verdict \(verdictID) already has its verified report")
            }
            try await self.execute(c, "UPDATE verdicts SET verified_report_sop_instance_uid = \(sopInstanceUID) WHERE id = \(verdictID)")
            let caseJobID = try row["case_job_id"].decode(Int64.self)
            try await self.audit(c, t: t, actor: "system", action: "verified_sr_sent", caseJobID: caseJobID, detail: "verdict \(verdictID)")
        }
    }

    /// Rows per bulk verdict `INSERT` (6 values each).
    private static let verdictsPerStatement = 2000

    public func importVerdicts(_ verdicts: [VerdictImport]) async throws(JobStoreError) -> Int {
        guard !verdicts.isEmpty else { return 0 }
        return try await transaction { c in
            var names: [Int64: String] = [:]
            for row in try await self.rows(c, "SELECT id, name FROM users") { names[try row["id"].decode(Int64.self)] = try row["name"].decode(String.self) }
            let caseIDs = Array(Set(verdicts.map(\.caseJobID)))
            let known = Set(try await self.rows(c, "SELECT job_id FROM cases WHERE job_id = ANY(\(caseIDs))").map { try $0["job_id"].decode(Int64.self) })
            if let missing = caseIDs.first(where: { !known.contains($0) }) { throw JobStoreError.notFound(location: self.name, id: missing) }
            let firstID = try await self.rows(c, "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM verdicts").first?["next"].decode(Int64.self) ?? 1
            var start = 0
            while start < verdicts.count {
                let chunk = verdicts[start..<min(verdicts.count, start + Self.verdictsPerStatement)]
                var values: [ReviewSQLValue] = []
                var groups: [String] = []
                for item in chunk {
                    guard let userName = names[item.userID] else {
                        throw JobStoreError.invalidArgument(location: self.name, message: "no user \(item.userID)")
                    }
                    groups.append("(" + ReviewSQL.marks(.postgres, first: values.count + 1, count: 6) + ")")
                    values += [.integer(item.caseJobID), .integer(item.userID), .text(userName), .text(item.verdict.rawValue),
                               .textOrNull(item.comment), .time(item.at)]
                }
                // Each verdict and its audit event in one statement.
                let sql = """
                    WITH inserted AS (
                        INSERT INTO verdicts (case_job_id, user_id, user_name, verdict, comment, recorded_at)
                        VALUES \(groups.joined(separator: ", "))
                        RETURNING id, case_job_id, user_name, verdict, recorded_at)
                    INSERT INTO audit_events (at, actor, action, case_job_id, detail)
                    SELECT recorded_at, user_name, 'verdict', case_job_id, 'verdict ' || id || ': ' || verdict FROM inserted ORDER BY id
                    """
                try await self.execute(c, Self.query(sql, values))
                start += chunk.count
            }
            try await self.execute(c, Self.query(ReviewSQL.refreshVerdictSummaries(.postgres), [.integer(firstID)]))
            return verdicts.count
        }
    }

    public func verdicts(caseJobID: Int64) async throws(JobStoreError) -> [VerdictRecord] {
        try await read { c in
            try await self.reviewRows(c, "\(unescaped: ReviewSQL.verdictSelect) WHERE case_job_id = \(caseJobID) ORDER BY recorded_at, id") { row in try ReviewRows.decodeVerdict(row, location: self.name) }
        }
    }

    public func verdicts(from: Date?, to: Date?) async throws(JobStoreError) -> [VerdictRecord] {
        let range = ReviewSQL.range("recorded_at", from: from, to: to, dialect: .postgres)
        return try await read { c in
            try await self.reviewRows(c, Self.query(ReviewSQL.verdictSelect + range.sql + " ORDER BY recorded_at, id", range.values)) { row in try ReviewRows.decodeVerdict(row, location: self.name) }
        }
    }

    public func disagreements(limit: Int) async throws(JobStoreError) -> [Int64] {
        guard limit >= 0 else { throw .invalidArgument(location: name, message: "negative limit \(limit)") }
        return try await read { c in
            try await self.rows(c, "SELECT job_id FROM cases WHERE disagreement = 1 ORDER BY job_id LIMIT \(limit)").map { try $0["job_id"].decode(Int64.self) }
        }
    }

    // MARK: Alerts

    public func raiseAlert(kind: String, scope: String, message: String, value: Double, limit: Double, now: Date? = nil) async throws(JobStoreError) -> (AlertRecord, isNew: Bool) {
        guard !kind.isEmpty, !scope.isEmpty else { throw .invalidArgument(location: name, message: "an alert needs a kind and a scope") }
        let t = (now ?? clock()).timeIntervalSince1970
        let raised = try await transaction { c -> AlertRaise in
            // One statement against the unique index of active alerts: a concurrent raise of the same kind
            // and scope waits for this one and then updates the row it made.
            guard let row = try await self.rows(c, """
                INSERT INTO alerts (kind, scope, message, value, limit_value, state, opened_at, updated_at)
                VALUES (\(kind), \(scope), \(message), \(value), \(limit), 'open', \(t), \(t))
                ON CONFLICT (kind, scope) WHERE state <> 'resolved'
                DO UPDATE SET message = excluded.message, value = excluded.value, limit_value = excluded.limit_value,
                              updated_at = excluded.updated_at
                RETURNING id, (xmax = 0) AS inserted
                """).first else {
                throw JobStoreError.database(location: self.name, message: "the alert was neither inserted nor updated")
            }
            let id = try row["id"].decode(Int64.self)
            let isNew = try row["inserted"].decode(Bool.self)
            if isNew { try await self.audit(c, t: t, actor: "system", action: "alert_opened", caseJobID: nil, detail: "alert \(id): \(kind) \(scope)") }
            return AlertRaise(alert: try await self.requireAlert(c, id: id), isNew: isNew)
        }
        return (raised.alert, raised.isNew)
    }

    public func resolveAlert(kind: String, scope: String, now: Date? = nil) async throws(JobStoreError) -> AlertRecord? {
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c -> AlertRecord? in
            guard let row = try await self.rows(c, """
                UPDATE alerts SET state = 'resolved', resolved_at = \(t), updated_at = \(t)
                WHERE kind = \(kind) AND scope = \(scope) AND state <> 'resolved' RETURNING id
                """).first else { return nil }
            let id = try row["id"].decode(Int64.self)
            try await self.audit(c, t: t, actor: "system", action: "alert_resolved", caseJobID: nil, detail: "alert \(id): \(kind) \(scope)")
            return try await self.requireAlert(c, id: id)
        }
    }

    public func acknowledgeAlert(id: Int64, by user: String, note: String, now: Date? = nil) async throws(JobStoreError) -> AlertRecord {
        guard !user.isEmpty else { throw .invalidArgument(location: name, message: "an acknowledgement needs a user") }
        let t = (now ?? clock()).timeIntervalSince1970
        return try await transaction { c in
            guard let row = try await self.rows(c, "SELECT kind, scope, state FROM alerts WHERE id = \(id) FOR UPDATE").first else {
                throw JobStoreError.notFound(location: self.name, id: id)
            }
            guard try row["state"].decode(String.self) != AlertRecord.State.resolved.rawValue else {
                throw JobStoreError.invalidArgument(location: self.name, message: "alert \(id) is resolved")
            }
            try await self.execute(c, """
                UPDATE alerts SET state = 'acknowledged', acknowledged_by = \(user), acknowledged_at = \(t), note = \(note), updated_at = \(t)
                WHERE id = \(id)
                """)
            let kind = try row["kind"].decode(String.self), scope = try row["scope"].decode(String.self)
            try await self.audit(c, t: t, actor: user, action: "alert_acknowledged", caseJobID: nil, detail: "alert \(id): \(kind) \(scope)")
            return try await self.requireAlert(c, id: id)
        }
    }

    public func alerts(states: Set<AlertRecord.State>, limit: Int) async throws(JobStoreError) -> [AlertRecord] {
        guard limit >= 0 else { throw .invalidArgument(location: name, message: "negative limit \(limit)") }
        guard !states.isEmpty else { return [] }
        let names = states.map(\.rawValue).sorted()
        return try await read { c in
            try await self.reviewRows(c, "\(unescaped: ReviewSQL.alertSelect) WHERE state = ANY(\(names)) ORDER BY opened_at DESC, id DESC LIMIT \(limit)") { row in try ReviewRows.decodeAlert(row, location: self.name) }
        }
    }

    private func requireAlert(_ c: PostgresConnection, id: Int64) async throws -> AlertRecord {
        guard let row = try await rows(c, "\(unescaped: ReviewSQL.alertSelect) WHERE id = \(id)").first else {
            throw JobStoreError.notFound(location: name, id: id)
        }
        return try ReviewRows.decodeAlert(row, location: name)
    }

    // MARK: Audit log

    public func appendAudit(actor: String, action: String, caseJobID: Int64?, detail: String, now: Date? = nil) async throws(JobStoreError) {
        let t = (now ?? clock()).timeIntervalSince1970
        try await transaction { c in try await self.audit(c, t: t, actor: actor, action: action, caseJobID: caseJobID, detail: detail) }
    }

    public func auditEvents(limit: Int) async throws(JobStoreError) -> [AuditEvent] {
        guard limit >= 0 else { throw .invalidArgument(location: name, message: "negative limit \(limit)") }
        return try await read { c in
            try await self.reviewRows(c, "SELECT id, at, actor, action, case_job_id, detail FROM audit_events ORDER BY id DESC LIMIT \(limit)") { row in try ReviewRows.decodeAudit(row, location: self.name) }
        }
    }

    /// Appends an audit event inside the caller's transaction.
    private func audit(_ c: PostgresConnection, t: Double, actor: String, action: String, caseJobID: Int64?, detail: String) async throws {
        guard !actor.isEmpty, !action.isEmpty else {
            throw JobStoreError.invalidArgument(location: name, message: "an audit event needs an actor and an action")
        }
        try await execute(c, """
            INSERT INTO audit_events (at, actor, action, case_job_id, detail) VALUES (\(t), \(actor), \(action), \(caseJobID), \(detail))
            """)
    }

    // MARK: Diagnostics

    /// PostgreSQL's plan for a worklist query (`EXPLAIN` lines), to check that an index serves it.
    public func worklistQueryPlan(_ filter: WorklistFilter) async throws(JobStoreError) -> [String] {
        let statement = ReviewSQL.worklist(filter, dialect: .postgres)
        return try await queryPlan(statement.sql, values: statement.values)
    }

    /// PostgreSQL's plan for any review query, by its SQL and values.
    func queryPlan(_ sql: String, values: [ReviewSQLValue]) async throws(JobStoreError) -> [String] {
        try await read { c in
            try await self.rows(c, Self.query("EXPLAIN " + sql, values)).map { try $0["QUERY PLAN"].decode(String.self) }
        }
    }

    /// Rows decoded by column index, the names looked up once per query: `PostgresRandomAccessRow` builds a
    /// name table for every row, which costs more than the query on large results.
    func reviewRows<T>(_ c: PostgresConnection, _ query: PostgresQuery, _ decode: (IndexedPostgresRow) throws -> T) async throws -> [T] {
        let rows = try await c.query(query, logger: logger).collect()
        guard let first = rows.first else { return [] }
        var indexes: [String: Int] = [:]
        for (index, cell) in first.enumerated() where indexes[cell.columnName] == nil { indexes[cell.columnName] = index }
        return try rows.map { row in try decode(IndexedPostgresRow(cells: Array(row), indexes: indexes)) }
    }

    /// A shared review statement with its values bound.
    static func query(_ sql: String, _ values: [ReviewSQLValue]) -> PostgresQuery {
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .text(let text): binds.append(text)
            case .real(let number): binds.append(number)
            case .integer(let number): binds.append(number)
            case .null: binds.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}

/// `raiseAlert`'s result inside its transaction (a Sendable value the pool's closure can return).
private struct AlertRaise: Sendable {
    let alert: AlertRecord
    let isNew: Bool
}

extension PostgresRandomAccessRow: ReviewRow {
    func text(_ column: String) throws -> String? { try self[column].decode(String?.self) }
    func real(_ column: String) throws -> Double? { try self[column].decode(Double?.self) }
    func integer(_ column: String) throws -> Int64? { try self[column].decode(Int64?.self) }
}

/// A PostgreSQL row's cells with its query's column indexes.
struct IndexedPostgresRow: ReviewRow {
    let cells: [PostgresCell]
    let indexes: [String: Int]

    private func cell(_ column: String) throws -> PostgresCell {
        guard let index = indexes[column], index < cells.count else {
            throw JobStoreError.corrupt(location: "review query", message: "no column \(column)")
        }
        return cells[index]
    }

    func text(_ column: String) throws -> String? { try cell(column).decode(String?.self) }
    func real(_ column: String) throws -> Double? { try cell(column).decode(Double?.self) }
    func integer(_ column: String) throws -> Int64? { try cell(column).decode(Int64?.self) }
}
