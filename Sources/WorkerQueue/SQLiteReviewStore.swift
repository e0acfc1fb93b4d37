import Foundation
import GRDB

/// The review data in the job queue's SQLite file (migration `v2-review`), on the same connection and in
/// the same `BEGIN IMMEDIATE` transactions as the jobs. Verdicts and audit events are append-only: the
/// store has no path that changes them (but the verified SR's UID, set once), and triggers refuse any
/// other UPDATE or DELETE.
extension SQLiteJobStore: ReviewStore {
    // MARK: Users

    public func addUser(name: String, role: UserRole, passwordHash: String, actor: String, now: Date? = nil) throws(JobStoreError) -> UserAccount {
        guard ReviewSQL.validUserName(name) else {
            throw .invalidArgument(location: path, message: "user name must be 1-64 letters, digits, '.', '_' or '-'")
        }
        guard !passwordHash.isEmpty else { throw .invalidArgument(location: path, message: "empty password hash") }
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            if try Int64.fetchOne(db, sql: "SELECT id FROM users WHERE name = ?", arguments: [name]) != nil {
                throw JobStoreError.invalidArgument(location: self.path, message: "a user named '\(name)' exists")
            }
            try db.execute(sql: """
                INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)
                """, arguments: [name, role.rawValue, passwordHash, t, t])
            let id = db.lastInsertedRowID
            try self.audit(db, t: t, actor: actor, action: "user_added", caseJobID: nil, detail: "\(name) (\(role.rawValue))")
            return try self.requireUser(db, sql: ReviewSQL.userSelect + " WHERE id = ?", argument: id, name: "\(id)")
        }
    }

    public func setUserDisabled(name: String, disabled: Bool, actor: String, now: Date? = nil) throws(JobStoreError) -> UserAccount {
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            let user = try self.requireUser(db, sql: ReviewSQL.userSelect + " WHERE name = ?", argument: name, name: name)
            try db.execute(sql: "UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?", arguments: [disabled ? 1 : 0, t, user.id])
            if disabled { try db.execute(sql: "DELETE FROM sessions WHERE user_id = ?", arguments: [user.id]) }
            try self.audit(db, t: t, actor: actor, action: disabled ? "user_disabled" : "user_enabled", caseJobID: nil, detail: name)
            return try self.requireUser(db, sql: ReviewSQL.userSelect + " WHERE id = ?", argument: user.id, name: name)
        }
    }

    public func setPasswordHash(name: String, passwordHash: String, actor: String, now: Date? = nil) throws(JobStoreError) -> UserAccount {
        guard !passwordHash.isEmpty else { throw .invalidArgument(location: path, message: "empty password hash") }
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            let user = try self.requireUser(db, sql: ReviewSQL.userSelect + " WHERE name = ?", argument: name, name: name)
            try db.execute(sql: "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", arguments: [passwordHash, t, user.id])
            try self.audit(db, t: t, actor: actor, action: "password_changed", caseJobID: nil, detail: name)
            return try self.requireUser(db, sql: ReviewSQL.userSelect + " WHERE id = ?", argument: user.id, name: name)
        }
    }

    public func users() throws(JobStoreError) -> [UserAccount] {
        try read { db in
            try Self.fetch(db, sql: ReviewSQL.userSelect + " ORDER BY name") { row in try ReviewRows.decodeUser(row, location: self.path) }
        }
    }

    public func user(name: String) throws(JobStoreError) -> UserAccount? {
        try read { db in
            try Row.fetchOne(db, sql: ReviewSQL.userSelect + " WHERE name = ?", arguments: [name]).map { row in
                try ReviewRows.decodeUser(row, location: self.path)
            }
        }
    }

    public func user(id: Int64) throws(JobStoreError) -> UserAccount? {
        try read { db in
            try Row.fetchOne(db, sql: ReviewSQL.userSelect + " WHERE id = ?", arguments: [id]).map { row in
                try ReviewRows.decodeUser(row, location: self.path)
            }
        }
    }

    private func requireUser(_ db: Database, sql: String, argument: some DatabaseValueConvertible, name: String) throws -> UserAccount {
        guard let row = try Row.fetchOne(db, sql: sql, arguments: [argument]) else {
            throw JobStoreError.invalidArgument(location: path, message: "no user '\(name)'")
        }
        return try ReviewRows.decodeUser(row, location: path)
    }

    // MARK: Sessions

    public func createSession(_ session: ReviewSession) throws(JobStoreError) {
        guard !session.tokenHash.isEmpty, !session.csrfToken.isEmpty else {
            throw .invalidArgument(location: path, message: "a session needs a token hash and a CSRF token")
        }
        try write { db in
            guard try Int64.fetchOne(db, sql: "SELECT id FROM users WHERE id = ?", arguments: [session.userID]) != nil else {
                throw JobStoreError.invalidArgument(location: self.path, message: "no user \(session.userID)")
            }
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM sessions WHERE token_hash = ?", arguments: [session.tokenHash]) == nil else {
                throw JobStoreError.invalidArgument(location: self.path, message: "a session with this token exists")
            }
            try db.execute(sql: """
                INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
                """, arguments: [session.tokenHash, session.userID, session.csrfToken,
                                 session.createdAt.timeIntervalSince1970, session.expiresAt.timeIntervalSince1970])
        }
    }

    public func session(tokenHash: String, now: Date? = nil) throws(JobStoreError) -> ReviewSession? {
        let t = (now ?? clock()).timeIntervalSince1970
        return try read { db in
            try Row.fetchOne(db, sql: """
                SELECT s.token_hash, s.user_id, s.csrf_token, s.created_at, s.expires_at
                FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0
                """, arguments: [tokenHash, t]).map { row in try ReviewRows.decodeSession(row, location: self.path) }
        }
    }

    public func deleteSession(tokenHash: String) throws(JobStoreError) {
        try write { db in try db.execute(sql: "DELETE FROM sessions WHERE token_hash = ?", arguments: [tokenHash]) }
    }

    public func purgeSessions(now: Date? = nil) throws(JobStoreError) -> Int {
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at <= ?", arguments: [t])
            return db.changesCount
        }
    }

    // MARK: Cases

    public func recordCase(_ reviewCase: ReviewCase) throws(JobStoreError) -> Bool {
        try recordCases([reviewCase]) == 1
    }

    public func recordCases(_ cases: [ReviewCase]) throws(JobStoreError) -> Int {
        for reviewCase in cases { try ReviewSQL.validate(reviewCase, location: path) }
        guard !cases.isEmpty else { return 0 }
        return try write { db in
            let statement = try db.cachedStatement(sql: ReviewSQL.insertCases(.sqlite, rows: 1))
            var inserted = 0
            for reviewCase in cases {
                try statement.execute(arguments: Self.arguments(ReviewSQL.caseValues(reviewCase)))
                inserted += db.changesCount
            }
            return inserted
        }
    }

    public func reviewCase(jobID: Int64) throws(JobStoreError) -> ReviewCase? {
        try read { db in
            try Row.fetchOne(db, sql: ReviewSQL.caseSelect + " WHERE job_id = ?", arguments: [jobID]).map { row in
                try ReviewRows.decodeCase(row, location: self.path)
            }
        }
    }

    public func worklist(_ filter: WorklistFilter) throws(JobStoreError) -> [ReviewCase] {
        guard filter.limit >= 0 else { throw .invalidArgument(location: path, message: "negative worklist limit \(filter.limit)") }
        let statement = ReviewSQL.worklist(filter, dialect: .sqlite)
        return try read { db in
            try Self.fetch(db, sql: statement.sql, arguments: Self.arguments(statement.values)) { row in
                try ReviewRows.decodeCase(row, location: self.path)
            }
        }
    }

    public func worklistCounts() throws(JobStoreError) -> WorklistCounts {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: ReviewSQL.counts) else {
                throw JobStoreError.database(location: self.path, message: "the counts query returned no row")
            }
            return WorklistCounts(pendingManualReview: try row.decode(forColumn: "manual"), pendingAuditSamples: try row.decode(forColumn: "audit"),
                                  reviewed: try row.decode(forColumn: "reviewed"), disagreements: try row.decode(forColumn: "disagreements"))
        }
    }

    public func cases(from: Date?, to: Date?) throws(JobStoreError) -> [ReviewCase] {
        let range = ReviewSQL.range("decided_at", from: from, to: to, dialect: .sqlite)
        return try read { db in
            try Self.fetch(db, sql: ReviewSQL.caseSelect + range.sql + " ORDER BY decided_at, job_id",
                             arguments: Self.arguments(range.values)) { row in try ReviewRows.decodeCase(row, location: self.path) }
        }
    }

    public func facets() throws(JobStoreError) -> (sites: [String], scanners: [String]) {
        try read { db in
            let sites = try String.fetchAll(db, sql: ReviewSQL.distinctValues(ofIndexed: ReviewSQL.siteColumn))
            let scanners = ReviewSQL.mergedScanners(try ReviewSQL.scannerColumns.map { column in
                try String.fetchAll(db, sql: ReviewSQL.distinctValues(ofIndexed: column))
            })
            return (sites, scanners)
        }
    }

    // MARK: Verdicts

    public func addVerdict(caseJobID: Int64, userID: Int64, verdict: Verdict, comment: String?, now: Date? = nil) throws(JobStoreError) -> VerdictRecord {
        if let comment, comment.count > ReviewSQL.maximumCommentLength {
            throw .invalidArgument(location: path, message: "a comment is at most \(ReviewSQL.maximumCommentLength) characters")
        }
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            let user = try self.requireUser(db, sql: ReviewSQL.userSelect + " WHERE id = ?", argument: userID, name: "\(userID)")
            guard !user.disabled else { throw JobStoreError.invalidArgument(location: self.path, message: "user '\(user.name)' is disabled") }
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM cases WHERE job_id = ?", arguments: [caseJobID]) != nil else {
                throw JobStoreError.notFound(location: self.path, id: caseJobID)
            }
            let disagreeing = try Int.fetchOne(db, sql: ReviewSQL.disagrees(.sqlite), arguments: [caseJobID, userID, verdict.rawValue]) ?? 0
            try db.execute(sql: """
                INSERT INTO verdicts (case_job_id, user_id, user_name, verdict, comment, recorded_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [caseJobID, userID, user.name, verdict.rawValue, comment, t])
            let id = db.lastInsertedRowID
            try db.execute(sql: ReviewSQL.countVerdict(.sqlite), arguments: [disagreeing > 0 ? 1 : 0, caseJobID])
            try self.audit(db, t: t, actor: user.name, action: "verdict", caseJobID: caseJobID, detail: "verdict \(id): \(verdict.rawValue)")
            guard let row = try Row.fetchOne(db, sql: ReviewSQL.verdictSelect + " WHERE id = ?", arguments: [id]) else {
                throw JobStoreError.database(location: self.path, message: "verdict \(id) vanished")
            }
            return try ReviewRows.decodeVerdict(row, location: self.path)
        }
    }

    public func setVerifiedReport(verdictID: Int64, sopInstanceUID: String, now: Date? = nil) throws(JobStoreError) {
        guard !sopInstanceUID.isEmpty else { throw .invalidArgument(location: path, message: "empty SOP Instance UID") }
        let t = (now ?? clock()).timeIntervalSince1970
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT case_job_id, verified_report_sop_instance_uid AS uid FROM verdicts WHERE id = ?",
                                             arguments: [verdictID]) else {
                throw JobStoreError.notFound(location: self.path, id: verdictID)
            }
            guard try row.decode(String?.self, forColumn: "uid") == nil else {
                throw JobStoreError.invalidArgument(location: self.path, message: "verdict \(verdictID) already has its verified report")
            }
            try db.execute(sql: "UPDATE verdicts SET verified_report_sop_instance_uid = ? WHERE id = ?", arguments: [sopInstanceUID, verdictID])
            let caseJobID: Int64 = try row.decode(forColumn: "case_job_id")
            try self.audit(db, t: t, actor: "system", action: "verified_sr_sent", caseJobID: caseJobID, detail: "verdict \(verdictID)")
        }
    }

    public func importVerdicts(_ verdicts: [VerdictImport]) throws(JobStoreError) -> Int {
        guard !verdicts.isEmpty else { return 0 }
        return try write { db in
            var names: [Int64: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM users") { names[try row.decode(forColumn: "id")] = try row.decode(forColumn: "name") }
            let insert = try db.cachedStatement(sql: """
                INSERT INTO verdicts (case_job_id, user_id, user_name, verdict, comment, recorded_at) VALUES (?, ?, ?, ?, ?, ?)
                """)
            let auditInsert = try db.cachedStatement(sql: "INSERT INTO audit_events (at, actor, action, case_job_id, detail) VALUES (?, ?, 'verdict', ?, ?)")
            var firstID: Int64?
            for item in verdicts {
                guard let name = names[item.userID] else { throw JobStoreError.invalidArgument(location: self.path, message: "no user \(item.userID)") }
                let t = item.at.timeIntervalSince1970
                do {
                    try insert.execute(arguments: [item.caseJobID, item.userID, name, item.verdict.rawValue, item.comment, t])
                } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                    throw JobStoreError.notFound(location: self.path, id: item.caseJobID)
                }
                let id = db.lastInsertedRowID
                if firstID == nil { firstID = id }
                try auditInsert.execute(arguments: [t, name, item.caseJobID, "verdict \(id): \(item.verdict.rawValue)"])
            }
            try db.execute(sql: ReviewSQL.refreshVerdictSummaries(.sqlite), arguments: [firstID ?? 0])
            return verdicts.count
        }
    }

    public func verdicts(caseJobID: Int64) throws(JobStoreError) -> [VerdictRecord] {
        try read { db in
            try Self.fetch(db, sql: ReviewSQL.verdictSelect + " WHERE case_job_id = ? ORDER BY recorded_at, id", arguments: [caseJobID]) { row in try ReviewRows.decodeVerdict(row, location: self.path) }
        }
    }

    public func verdicts(from: Date?, to: Date?) throws(JobStoreError) -> [VerdictRecord] {
        let range = ReviewSQL.range("recorded_at", from: from, to: to, dialect: .sqlite)
        return try read { db in
            try Self.fetch(db, sql: ReviewSQL.verdictSelect + range.sql + " ORDER BY recorded_at, id", arguments: Self.arguments(range.values)) { row in try ReviewRows.decodeVerdict(row, location: self.path) }
        }
    }

    public func disagreements(limit: Int) throws(JobStoreError) -> [Int64] {
        guard limit >= 0 else { throw .invalidArgument(location: path, message: "negative limit \(limit)") }
        return try read { db in
            try Int64.fetchAll(db, sql: "SELECT job_id FROM cases WHERE disagreement = 1 ORDER BY job_id LIMIT ?", arguments: [limit])
        }
    }

    // MARK: Alerts

    public func raiseAlert(kind: String, scope: String, message: String, value: Double, limit: Double, now: Date? = nil) throws(JobStoreError) -> (AlertRecord, isNew: Bool) {
        guard !kind.isEmpty, !scope.isEmpty else { throw .invalidArgument(location: path, message: "an alert needs a kind and a scope") }
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM alerts WHERE kind = ? AND scope = ? AND state <> 'resolved'", arguments: [kind, scope]) {
                try db.execute(sql: "UPDATE alerts SET message = ?, value = ?, limit_value = ?, updated_at = ? WHERE id = ?",
                               arguments: [message, value, limit, t, id])
                return (try self.requireAlert(db, id: id), false)
            }
            try db.execute(sql: """
                INSERT INTO alerts (kind, scope, message, value, limit_value, state, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, 'open', ?, ?)
                """, arguments: [kind, scope, message, value, limit, t, t])
            let id = db.lastInsertedRowID
            try self.audit(db, t: t, actor: "system", action: "alert_opened", caseJobID: nil, detail: "alert \(id): \(kind) \(scope)")
            return (try self.requireAlert(db, id: id), true)
        }
    }

    public func resolveAlert(kind: String, scope: String, now: Date? = nil) throws(JobStoreError) -> AlertRecord? {
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db -> AlertRecord? in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM alerts WHERE kind = ? AND scope = ? AND state <> 'resolved'",
                                              arguments: [kind, scope]) else { return nil }
            try db.execute(sql: "UPDATE alerts SET state = 'resolved', resolved_at = ?, updated_at = ? WHERE id = ?", arguments: [t, t, id])
            try self.audit(db, t: t, actor: "system", action: "alert_resolved", caseJobID: nil, detail: "alert \(id): \(kind) \(scope)")
            return try self.requireAlert(db, id: id)
        }
    }

    public func acknowledgeAlert(id: Int64, by user: String, note: String, now: Date? = nil) throws(JobStoreError) -> AlertRecord {
        guard !user.isEmpty else { throw .invalidArgument(location: path, message: "an acknowledgement needs a user") }
        let t = (now ?? clock()).timeIntervalSince1970
        return try write { db in
            let alert = try self.requireAlert(db, id: id)
            guard alert.state != .resolved else {
                throw JobStoreError.invalidArgument(location: self.path, message: "alert \(id) is resolved")
            }
            try db.execute(sql: """
                UPDATE alerts SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, note = ?, updated_at = ? WHERE id = ?
                """, arguments: [user, t, note, t, id])
            try self.audit(db, t: t, actor: user, action: "alert_acknowledged", caseJobID: nil, detail: "alert \(id): \(alert.kind) \(alert.scope)")
            return try self.requireAlert(db, id: id)
        }
    }

    public func alerts(states: Set<AlertRecord.State>, limit: Int) throws(JobStoreError) -> [AlertRecord] {
        guard limit >= 0 else { throw .invalidArgument(location: path, message: "negative limit \(limit)") }
        guard !states.isEmpty else { return [] }
        let names = states.map(\.rawValue).sorted()
        return try read { db in
            var arguments = StatementArguments(names)
            arguments += [limit]
            return try Self.fetch(db, sql: ReviewSQL.alertSelect + " WHERE state IN (\(ReviewSQL.marks(.sqlite, first: 1, count: names.count)))"
                                    + " ORDER BY opened_at DESC, id DESC LIMIT ?", arguments: arguments) { row in try ReviewRows.decodeAlert(row, location: self.path) }
        }
    }

    private func requireAlert(_ db: Database, id: Int64) throws -> AlertRecord {
        guard let row = try Row.fetchOne(db, sql: ReviewSQL.alertSelect + " WHERE id = ?", arguments: [id]) else {
            throw JobStoreError.notFound(location: path, id: id)
        }
        return try ReviewRows.decodeAlert(row, location: path)
    }

    // MARK: Audit log

    public func appendAudit(actor: String, action: String, caseJobID: Int64?, detail: String, now: Date? = nil) throws(JobStoreError) {
        let t = (now ?? clock()).timeIntervalSince1970
        try write { db in try self.audit(db, t: t, actor: actor, action: action, caseJobID: caseJobID, detail: detail) }
    }

    public func auditEvents(limit: Int) throws(JobStoreError) -> [AuditEvent] {
        guard limit >= 0 else { throw .invalidArgument(location: path, message: "negative limit \(limit)") }
        return try read { db in
            try Self.fetch(db, sql: "SELECT id, at, actor, action, case_job_id, detail FROM audit_events ORDER BY id DESC LIMIT ?", arguments: [limit]) { row in try ReviewRows.decodeAudit(row, location: self.path) }
        }
    }

    /// Appends an audit event inside the caller's transaction.
    private func audit(_ db: Database, t: Double, actor: String, action: String, caseJobID: Int64?, detail: String) throws {
        guard !actor.isEmpty, !action.isEmpty else {
            throw JobStoreError.invalidArgument(location: path, message: "an audit event needs an actor and an action")
        }
        try db.execute(sql: "INSERT INTO audit_events (at, actor, action, case_job_id, detail) VALUES (?, ?, ?, ?, ?)",
                       arguments: [t, actor, action, caseJobID, detail])
    }

    // MARK: Diagnostics

    /// SQLite's plan for a worklist query (`EXPLAIN QUERY PLAN` details), to check that an index serves it.
    public func worklistQueryPlan(_ filter: WorklistFilter) throws(JobStoreError) -> [String] {
        let statement = ReviewSQL.worklist(filter, dialect: .sqlite)
        return try queryPlan(statement.sql, values: statement.values)
    }

    /// SQLite's plan for any review query, by its SQL and values.
    func queryPlan(_ sql: String, values: [ReviewSQLValue]) throws(JobStoreError) -> [String] {
        try read { db in
            try Self.fetch(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: Self.arguments(values)) { row in try row.text("detail") ?? "" }
        }
    }

    /// Runs SQL outside the store's API in one transaction: tests check with it that the triggers refuse
    /// what the API never does (an UPDATE or DELETE of verdicts and audit events).
    func executeUnchecked(_ sql: String) throws(JobStoreError) {
        try write { db in try db.execute(sql: sql) }
    }

    /// Decodes each row while the statement steps, its columns found by index: GRDB's lookup by name
    /// (case-insensitive, per value) costs more than the query itself on large results.
    static func fetch<T>(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments(),
                         _ decode: (IndexedRow) throws -> T) throws -> [T] {
        let statement = try db.makeStatement(sql: sql)
        let indexes = Dictionary(statement.columnNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        var values: [T] = []
        while let row = try cursor.next() { values.append(try decode(IndexedRow(row: row, indexes: indexes))) }
        return values
    }

    static func arguments(_ values: [ReviewSQLValue]) -> StatementArguments {
        StatementArguments(values.map { value -> DatabaseValue in
            switch value {
            case .text(let text): return text.databaseValue
            case .real(let number): return number.databaseValue
            case .integer(let number): return number.databaseValue
            case .null: return .null
            }
        })
    }
}

/// An SQLite row with its statement's column indexes, looked up once per statement.
struct IndexedRow: ReviewRow {
    let row: Row
    let indexes: [String: Int]

    private func index(_ column: String) throws -> Int {
        guard let index = indexes[column] else { throw JobStoreError.corrupt(location: "review query", message: "no column \(column)") }
        return index
    }

    func text(_ column: String) throws -> String? { try row.decode(String?.self, atIndex: index(column)) }
    func real(_ column: String) throws -> Double? { try row.decode(Double?.self, atIndex: index(column)) }
    func integer(_ column: String) throws -> Int64? { try row.decode(Int64?.self, atIndex: index(column)) }
}

/// Single rows (`fetchOne`) are read by column name.
extension Row: ReviewRow {
    func text(_ column: String) throws -> String? { try decode(String?.self, forColumn: column) }
    func real(_ column: String) throws -> Double? { try decode(Double?.self, forColumn: column) }
    func integer(_ column: String) throws -> Int64? { try decode(Int64?.self, forColumn: column) }
}
