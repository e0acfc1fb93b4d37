import Foundation

/// The SQLite migration `v2-review`: the review UI's and monitoring's tables beside the job queue. The
/// PostgreSQL migration of the same name (`PostgresSchema`) has the same tables, columns and indexes.
/// Times are REAL seconds since 1970 (UTC); flags are INTEGER 0/1; lists are JSON text.
enum SQLiteReviewSchema {
    static let sql = """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('reviewer', 'admin')),
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id),
            csrf_token TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX sessions_expiry ON sessions (expires_at);
        CREATE INDEX sessions_user ON sessions (user_id);
        CREATE TABLE cases (
            job_id INTEGER PRIMARY KEY,
            series_key TEXT NOT NULL,
            study_instance_uid TEXT NOT NULL,
            series_instance_uid TEXT NOT NULL,
            decided_at REAL NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('blocked', 'patent', 'manual_review', 'skipped', 'unreadable')),
            priority INTEGER NOT NULL,
            reasons TEXT NOT NULL,
            p_blocked REAL,
            threshold REAL,
            review_band_low REAL,
            review_band_high REAL,
            site TEXT,
            manufacturer TEXT,
            manufacturer_model TEXT,
            software_versions TEXT,
            protocol_name TEXT,
            mean_gray REAL,
            dynamic_range REAL,
            frame_count INTEGER,
            frames_used TEXT NOT NULL,
            worklist_reason TEXT CHECK (worklist_reason IN ('manual_review', 'audit_sample')),
            sampling_probability REAL NOT NULL,
            image_file TEXT,
            report_sop_instance_uid TEXT,
            verdict_count INTEGER NOT NULL DEFAULT 0,
            disagreement INTEGER NOT NULL DEFAULT 0 CHECK (disagreement IN (0, 1))
        );
        CREATE INDEX cases_order ON cases (priority, decided_at, job_id);
        CREATE INDEX cases_pending ON cases (priority, decided_at, job_id, worklist_reason)
            WHERE worklist_reason IS NOT NULL AND verdict_count = 0;
        CREATE INDEX cases_reviewed ON cases (priority, decided_at, job_id) WHERE verdict_count > 0;
        CREATE INDEX cases_disagreement ON cases (job_id) WHERE disagreement = 1;
        CREATE INDEX cases_decided ON cases (decided_at);
        CREATE INDEX cases_site ON cases (site, priority, decided_at);
        CREATE INDEX cases_manufacturer ON cases (manufacturer, priority, decided_at);
        CREATE INDEX cases_model ON cases (manufacturer_model, priority, decided_at);
        CREATE TABLE verdicts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            case_job_id INTEGER NOT NULL REFERENCES cases (job_id),
            user_id INTEGER NOT NULL REFERENCES users (id),
            user_name TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('patent', 'blocked', 'non_diagnostic')),
            comment TEXT,
            recorded_at REAL NOT NULL,
            verified_report_sop_instance_uid TEXT
        );
        CREATE INDEX verdicts_case ON verdicts (case_job_id, verdict, user_id);
        CREATE INDEX verdicts_recorded ON verdicts (recorded_at);
        CREATE TRIGGER verdicts_no_delete BEFORE DELETE ON verdicts
            BEGIN SELECT RAISE(ABORT, 'verdicts are append-only'); END;
        CREATE TRIGGER verdicts_no_update BEFORE UPDATE OF id, case_job_id, user_id, user_name, verdict, comment, recorded_at ON verdicts
            BEGIN SELECT RAISE(ABORT, 'verdicts are append-only'); END;
        CREATE TRIGGER verdicts_report_once BEFORE UPDATE OF verified_report_sop_instance_uid ON verdicts
            WHEN OLD.verified_report_sop_instance_uid IS NOT NULL OR NEW.verified_report_sop_instance_uid IS NULL
            BEGIN SELECT RAISE(ABORT, 'a verdict''s verified report is set once'); END;
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            scope TEXT NOT NULL,
            message TEXT NOT NULL,
            value REAL NOT NULL,
            limit_value REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
            opened_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            acknowledged_by TEXT,
            acknowledged_at REAL,
            note TEXT,
            resolved_at REAL
        );
        CREATE UNIQUE INDEX alerts_active ON alerts (kind, scope) WHERE state <> 'resolved';
        CREATE INDEX alerts_state ON alerts (state, opened_at);
        CREATE TABLE audit_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            case_job_id INTEGER,
            detail TEXT NOT NULL
        );
        CREATE INDEX audit_events_case ON audit_events (case_job_id) WHERE case_job_id IS NOT NULL;
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        """
}
