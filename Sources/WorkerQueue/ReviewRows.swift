import Foundation

/// One result row of a review query, read by column name: the SQLite and PostgreSQL rows behind one
/// decoder, so that both stores read their rows back alike.
protocol ReviewRow {
    func text(_ column: String) throws -> String?
    func real(_ column: String) throws -> Double?
    func integer(_ column: String) throws -> Int64?
}

/// The review records decoded from `ReviewRow`s; a missing required value is `JobStoreError.corrupt`.
enum ReviewRows {
    static func decodeCase(_ row: some ReviewRow, location: String) throws -> ReviewCase {
        let r = Reader(row: row, location: location)
        let decisionName = try r.text("decision")
        guard let decision = CaseDecision(rawValue: decisionName) else {
            throw JobStoreError.corrupt(location: location, message: "unknown decision '\(decisionName)'")
        }
        var reason: WorklistReason?
        if let name = try row.text("worklist_reason") {
            guard let value = WorklistReason(rawValue: name) else {
                throw JobStoreError.corrupt(location: location, message: "unknown worklist reason '\(name)'")
            }
            reason = value
        }
        return ReviewCase(
            jobID: try r.integer("job_id"),
            seriesKey: try r.text("series_key"),
            studyInstanceUID: try r.text("study_instance_uid"),
            seriesInstanceUID: try r.text("series_instance_uid"),
            decidedAt: try r.time("decided_at"),
            decision: decision,
            reasons: try ReviewSQL.strings(fromJSON: try r.text("reasons"), location: location),
            pBlocked: try row.real("p_blocked"),
            threshold: try row.real("threshold"),
            reviewBandLow: try row.real("review_band_low"),
            reviewBandHigh: try row.real("review_band_high"),
            site: try row.text("site"),
            manufacturer: try row.text("manufacturer"),
            manufacturerModel: try row.text("manufacturer_model"),
            softwareVersions: try row.text("software_versions"),
            protocolName: try row.text("protocol_name"),
            meanGray: try row.real("mean_gray"),
            dynamicRange: try row.real("dynamic_range"),
            frameCount: try row.integer("frame_count").map { Int($0) },
            framesUsed: try ReviewSQL.integers(fromJSON: try r.text("frames_used"), location: location),
            worklistReason: reason,
            samplingProbability: try r.real("sampling_probability"),
            imageFile: try row.text("image_file"),
            reportSOPInstanceUID: try row.text("report_sop_instance_uid"),
            verdictCount: Int(try r.integer("verdict_count")))
    }

    static func decodeVerdict(_ row: some ReviewRow, location: String) throws -> VerdictRecord {
        let r = Reader(row: row, location: location)
        let name = try r.text("verdict")
        guard let verdict = Verdict(rawValue: name) else {
            throw JobStoreError.corrupt(location: location, message: "unknown verdict '\(name)'")
        }
        return VerdictRecord(id: try r.integer("id"), caseJobID: try r.integer("case_job_id"), userID: try r.integer("user_id"),
                             userName: try r.text("user_name"), verdict: verdict, comment: try row.text("comment"),
                             recordedAt: try r.time("recorded_at"),
                             verifiedReportSOPInstanceUID: try row.text("verified_report_sop_instance_uid"))
    }

    static func decodeAlert(_ row: some ReviewRow, location: String) throws -> AlertRecord {
        let r = Reader(row: row, location: location)
        let stateName = try r.text("state")
        guard let state = AlertRecord.State(rawValue: stateName) else {
            throw JobStoreError.corrupt(location: location, message: "unknown alert state '\(stateName)'")
        }
        return AlertRecord(id: try r.integer("id"), kind: try r.text("kind"), scope: try r.text("scope"),
                           message: try r.text("message"), value: try r.real("value"), limit: try r.real("limit_value"),
                           state: state, openedAt: try r.time("opened_at"), updatedAt: try r.time("updated_at"),
                           acknowledgedBy: try row.text("acknowledged_by"), note: try row.text("note"),
                           acknowledgedAt: try r.optionalTime("acknowledged_at"), resolvedAt: try r.optionalTime("resolved_at"))
    }

    static func decodeUser(_ row: some ReviewRow, location: String) throws -> UserAccount {
        let r = Reader(row: row, location: location)
        let roleName = try r.text("role")
        guard let role = UserRole(rawValue: roleName) else {
            throw JobStoreError.corrupt(location: location, message: "unknown role '\(roleName)'")
        }
        return UserAccount(id: try r.integer("id"), name: try r.text("name"), role: role, passwordHash: try r.text("password_hash"),
                           disabled: try r.integer("disabled") != 0, createdAt: try r.time("created_at"))
    }

    static func decodeSession(_ row: some ReviewRow, location: String) throws -> ReviewSession {
        let r = Reader(row: row, location: location)
        return ReviewSession(tokenHash: try r.text("token_hash"), userID: try r.integer("user_id"), csrfToken: try r.text("csrf_token"),
                             createdAt: try r.time("created_at"), expiresAt: try r.time("expires_at"))
    }

    static func decodeAudit(_ row: some ReviewRow, location: String) throws -> AuditEvent {
        let r = Reader(row: row, location: location)
        return AuditEvent(id: try r.integer("id"), at: try r.time("at"), actor: try r.text("actor"), action: try r.text("action"),
                          caseJobID: try row.integer("case_job_id"), detail: try r.text("detail"))
    }

    /// Required columns: NULL is a corrupt row, not a crash.
    private struct Reader<Row: ReviewRow> {
        let row: Row
        let location: String

        func missing(_ column: String) -> JobStoreError { .corrupt(location: location, message: "column \(column) is NULL") }
        func text(_ column: String) throws -> String {
            guard let value = try row.text(column) else { throw missing(column) }
            return value
        }
        func real(_ column: String) throws -> Double {
            guard let value = try row.real(column) else { throw missing(column) }
            return value
        }
        func integer(_ column: String) throws -> Int64 {
            guard let value = try row.integer(column) else { throw missing(column) }
            return value
        }
        func time(_ column: String) throws -> Date { Date(timeIntervalSince1970: try real(column)) }
        func optionalTime(_ column: String) throws -> Date? { try row.real(column).map { Date(timeIntervalSince1970: $0) } }
    }
}
