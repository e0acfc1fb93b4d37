import Foundation
import WorkerQueue

/// A job as the API shows it: snake_case keys, times in ISO 8601 (UTC, milliseconds), nulls kept so that
/// every job has the same keys. The payload (spool paths) is not shown; the result is embedded as JSON.
enum JobJSON {
    private static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    /// The job's fields, without its result.
    static func summary(_ job: Job) -> [String: Any] {
        [
            "id": job.id,
            "key": job.key.rawValue,
            "series": job.series.rawValue,
            "version": job.version,
            "state": job.state.rawValue,
            "attempts": job.attempts,
            "max_attempts": job.maxAttempts,
            "next_attempt_at": time(job.nextAttemptAt),
            "lease_owner": job.leaseOwner ?? NSNull(),
            "lease_expires_at": job.leaseExpiresAt.map(time) ?? NSNull(),
            "last_error": job.lastError ?? NSNull(),
            "skip_reason": job.skipReason ?? NSNull(),
            "created_at": time(job.createdAt),
            "updated_at": time(job.updatedAt),
            "finished_at": job.finishedAt.map(time) ?? NSNull(),
            "is_current": job.isCurrent,
        ]
    }

    /// The summary plus `result`: the stored triage record parsed and embedded as JSON (null when there is
    /// none; null with `result_error` when the stored text is not JSON).
    static func detail(_ job: Job) -> [String: Any] {
        var object = summary(job)
        guard let text = job.result else {
            object["result"] = NSNull()
            return object
        }
        if let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) {
            object["result"] = parsed
        } else {
            object["result"] = NSNull()
            object["result_error"] = "the stored result is not valid JSON"
        }
        return object
    }

    static func time(_ date: Date) -> String {
        date.formatted(timeFormat)
    }
}
