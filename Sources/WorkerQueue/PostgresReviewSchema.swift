import Foundation

/// The PostgreSQL migration `v2-review`: the same tables, columns and indexes as the SQLite migration of
/// that name (`SQLiteReviewSchema`), with triggers that refuse UPDATE, DELETE and TRUNCATE of audit events
/// and of verdicts (but the verified SR's UID, set once). Times are `double precision` seconds since 1970,
/// as in the job tables; flags are integers 0/1 so that both stores run the same SQL.
enum PostgresReviewSchema {
    static let statements: [String] = [
        """
        CREATE TABLE users (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL UNIQUE,
            role text NOT NULL CHECK (role IN ('reviewer', 'admin')),
            password_hash text NOT NULL,
            disabled integer NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL
        )
        """,
        """
        CREATE TABLE sessions (
            token_hash text PRIMARY KEY,
            user_id bigint NOT NULL REFERENCES users (id),
            csrf_token text NOT NULL,
            created_at double precision NOT NULL,
            expires_at double precision NOT NULL
        )
        """,
        "CREATE INDEX sessions_expiry ON sessions (expires_at)",
        "CREATE INDEX sessions_user ON sessions (user_id)",
        """
        CREATE TABLE cases (
            job_id bigint PRIMARY KEY,
            series_key text NOT NULL,
            study_instance_uid text NOT NULL,
            series_instance_uid text NOT NULL,
            decided_at double precision NOT NULL,
            decision text NOT NULL CHECK (decision IN ('blocked', 'patent', 'manual_review', 'skipped', 'unreadable')),
            priority integer NOT NULL,
            reasons text NOT NULL,
            p_blocked double precision,
            threshold double precision,
            review_band_low double precision,
            review_band_high double precision,
            site text,
            manufacturer text,
            manufacturer_model text,
            software_versions text,
            protocol_name text,
            mean_gray double precision,
            dynamic_range double precision,
            frame_count integer,
            frames_used text NOT NULL,
            worklist_reason text CHECK (worklist_reason IN ('manual_review', 'audit_sample')),
            sampling_probability double precision NOT NULL,
            image_file text,
            report_sop_instance_uid text,
            verdict_count integer NOT NULL DEFAULT 0,
            disagreement integer NOT NULL DEFAULT 0 CHECK (disagreement IN (0, 1))
        )
        """,
        "CREATE INDEX cases_order ON cases (priority, decided_at, job_id)",
        """
        CREATE INDEX cases_pending ON cases (priority, decided_at, job_id, worklist_reason)
            WHERE worklist_reason IS NOT NULL AND verdict_count = 0
        """,
        "CREATE INDEX cases_reviewed ON cases (priority, decided_at, job_id) WHERE verdict_count > 0",
        "CREATE INDEX cases_disagreement ON cases (job_id) WHERE disagreement = 1",
        "CREATE INDEX cases_decided ON cases (decided_at)",
        "CREATE INDEX cases_site ON cases (site, priority, decided_at)",
        "CREATE INDEX cases_manufacturer ON cases (manufacturer, priority, decided_at)",
        "CREATE INDEX cases_model ON cases (manufacturer_model, priority, decided_at)",
        """
        CREATE TABLE verdicts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            case_job_id bigint NOT NULL REFERENCES cases (job_id),
            user_id bigint NOT NULL REFERENCES users (id),
            user_name text NOT NULL,
            verdict text NOT NULL CHECK (verdict IN ('patent', 'blocked', 'non_diagnostic')),
            comment text,
            recorded_at double precision NOT NULL,
            verified_report_sop_instance_uid text
        )
        """,
        "CREATE INDEX verdicts_case ON verdicts (case_job_id, verdict, user_id)",
        "CREATE INDEX verdicts_recorded ON verdicts (recorded_at)",
        """
        CREATE FUNCTION verdicts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                IF OLD.verified_report_sop_instance_uid IS NULL AND NEW.verified_report_sop_instance_uid IS NOT NULL
                   AND NEW.id = OLD.id AND NEW.case_job_id = OLD.case_job_id AND NEW.user_id = OLD.user_id
                   AND NEW.user_name = OLD.user_name AND NEW.verdict = OLD.verdict
                   AND NEW.comment IS NOT DISTINCT FROM OLD.comment AND NEW.recorded_at = OLD.recorded_at THEN
                    RETURN NEW;
                END IF;
            END IF;
            RAISE EXCEPTION 'verdicts are append-only (only the verified report is set, once)';
        END
        $$
        """,
        """
        CREATE TRIGGER verdicts_append_only BEFORE UPDATE OR DELETE ON verdicts
            FOR EACH ROW EXECUTE FUNCTION verdicts_append_only()
        """,
        """
        CREATE TRIGGER verdicts_no_truncate BEFORE TRUNCATE ON verdicts
            FOR EACH STATEMENT EXECUTE FUNCTION verdicts_append_only()
        """,
        """
        CREATE TABLE alerts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind text NOT NULL,
            scope text NOT NULL,
            message text NOT NULL,
            value double precision NOT NULL,
            limit_value double precision NOT NULL,
            state text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
            opened_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            acknowledged_by text,
            acknowledged_at double precision,
            note text,
            resolved_at double precision
        )
        """,
        "CREATE UNIQUE INDEX alerts_active ON alerts (kind, scope) WHERE state <> 'resolved'",
        "CREATE INDEX alerts_state ON alerts (state, opened_at)",
        """
        CREATE TABLE audit_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at double precision NOT NULL,
            actor text NOT NULL,
            action text NOT NULL,
            case_job_id bigint,
            detail text NOT NULL
        )
        """,
        "CREATE INDEX audit_events_case ON audit_events (case_job_id) WHERE case_job_id IS NOT NULL",
        """
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are append-only';
        END
        $$
        """,
        """
        CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
        """,
        """
        CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
            FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
        """,
    ]
}
