import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL schema as numbered migrations, applied by the first store to open a database. The
/// names are the SQLite store's (`v1-jobs`, …) so that both databases tell the same history.
enum PostgresSchema {
    /// One schema change: its name and its statements (one statement per string: the extended query
    /// protocol runs one at a time).
    struct Migration: Sendable {
        let name: String
        let statements: [String]
    }

    /// The versioned schema. Append migrations; never edit a registered one. Times are `double precision`
    /// seconds since 1970 (UTC), exactly the SQLite store's REAL values, so a `Date` reads back unchanged.
    static let migrations: [Migration] = [
        Migration(name: "v1-jobs", statements: [
            """
            CREATE TABLE job (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                idempotency_key text NOT NULL UNIQUE,
                series_key text NOT NULL,
                version integer NOT NULL,
                state text NOT NULL CHECK (state IN ('pending', 'leased', 'done', 'failed_retrying', 'dead', 'superseded', 'skipped')),
                attempts integer NOT NULL DEFAULT 0,
                max_attempts integer NOT NULL,
                next_attempt_at double precision NOT NULL,
                lease_owner text,
                lease_expires_at double precision,
                heartbeat_at double precision,
                last_error text,
                skip_reason text,
                payload text NOT NULL,
                result text,
                created_at double precision NOT NULL,
                updated_at double precision NOT NULL,
                finished_at double precision,
                UNIQUE (series_key, version)
            )
            """,
            "CREATE INDEX job_ready ON job (state, next_attempt_at, id)",
            "CREATE INDEX job_lease ON job (state, lease_expires_at)",
            "CREATE INDEX job_updated ON job (state, updated_at)",
            "CREATE INDEX job_series ON job (series_key, state)",
            """
            CREATE TABLE series (
                series_key text PRIMARY KEY,
                latest_version integer NOT NULL,
                current_job_id bigint
            )
            """,
            """
            CREATE TABLE cursor (
                name text PRIMARY KEY,
                value text NOT NULL,
                updated_at double precision NOT NULL
            )
            """,
        ]),
        Migration(name: "v2-review", statements: PostgresReviewSchema.statements),
    ]

    /// The key of the transaction-scoped advisory lock that serialises migrations: two workers starting
    /// at once apply each migration once, the second waiting for the first's commit.
    static let migrationLock: Int64 = 0x6473_615F_7175_6575 // "dsa_queue"

    /// Applies the missing migrations (up to `lastMigration`, nil: all) in one transaction under the
    /// advisory lock; returns the names applied now (empty when the schema was current).
    static func migrate(_ connection: PostgresConnection, now: Date, logger: Logger, upTo lastMigration: String? = nil) async throws -> [String] {
        try await connection.query("BEGIN", logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    position integer PRIMARY KEY,
                    name text NOT NULL UNIQUE,
                    applied_at double precision NOT NULL
                )
                """, logger: logger)
            var applied = Set<String>()
            for row in try await connection.query("SELECT name FROM schema_migrations", logger: logger).collect() {
                applied.insert(try row.decode(String.self))
            }
            var names: [String] = []
            let wanted = lastMigration.flatMap { last in migrations.firstIndex { $0.name == last } }.map { migrations.prefix(through: $0) }
                ?? migrations[...]
            for (position, migration) in wanted.enumerated() where !applied.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("""
                    INSERT INTO schema_migrations (position, name, applied_at)
                    VALUES (\(position + 1), \(migration.name), \(now.timeIntervalSince1970))
                    """, logger: logger)
                names.append(migration.name)
            }
            try await connection.query("COMMIT", logger: logger)
            return names
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }
}
