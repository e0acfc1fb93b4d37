import Foundation
import PostgresNIO

/// Job rows as the store selects and decodes them.
extension PostgresJobStore {
    /// Every column of `Job`, with whether the job is its series' current one.
    static let select = """
        SELECT job.id, job.idempotency_key, job.series_key, job.version, job.state, job.attempts, job.max_attempts,
               job.next_attempt_at, job.lease_owner, job.lease_expires_at, job.heartbeat_at, job.last_error, job.skip_reason,
               job.payload, job.result, job.created_at, job.updated_at, job.finished_at,
               COALESCE(series.current_job_id = job.id, false) AS is_current
        FROM job LEFT JOIN series ON series.series_key = job.series_key
        """

    func jobState(_ row: PostgresRandomAccessRow) throws -> JobState {
        let stateName = try row["state"].decode(String.self)
        guard let state = JobState(rawValue: stateName) else {
            throw JobStoreError.corrupt(location: name, message: "unknown state '\(stateName)'")
        }
        return state
    }

    func decodeJob(_ row: PostgresRandomAccessRow) throws -> Job {
        func date(_ column: String) throws -> Date { Date(timeIntervalSince1970: try row[column].decode(Double.self)) }
        func optionalDate(_ column: String) throws -> Date? {
            try row[column].decode(Double?.self).map { Date(timeIntervalSince1970: $0) }
        }
        return Job(
            id: try row["id"].decode(Int64.self),
            key: JobKey(rawValue: try row["idempotency_key"].decode(String.self)),
            series: SeriesKey(rawValue: try row["series_key"].decode(String.self)),
            version: try row["version"].decode(Int.self),
            state: try jobState(row),
            attempts: try row["attempts"].decode(Int.self),
            maxAttempts: try row["max_attempts"].decode(Int.self),
            nextAttemptAt: try date("next_attempt_at"),
            leaseOwner: try row["lease_owner"].decode(String?.self),
            leaseExpiresAt: try optionalDate("lease_expires_at"),
            heartbeatAt: try optionalDate("heartbeat_at"),
            lastError: try row["last_error"].decode(String?.self),
            skipReason: try row["skip_reason"].decode(String?.self),
            payload: try row["payload"].decode(String.self),
            result: try row["result"].decode(String?.self),
            createdAt: try date("created_at"),
            updatedAt: try date("updated_at"),
            finishedAt: try optionalDate("finished_at"),
            isCurrent: try row["is_current"].decode(Bool.self))
    }
}
