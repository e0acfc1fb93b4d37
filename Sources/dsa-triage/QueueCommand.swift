import ArgumentParser
import Foundation
import Logging
import Service
import WorkerQueue

/// The job queue's database, from the worker configuration or an option.
struct QueueDatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "Worker configuration file (the one `serve` runs with); its db and db_password_file are used.")
    var config: String?
    @Option(name: .long, help: "Job queue: sqlite:PATH or postgres://USER@HOST:PORT/DB (wins over --config).")
    var db: String?
    @Option(name: .customLong("db-password-file"), help: "File holding the PostgreSQL password.")
    var dbPasswordFile: String?

    /// Opens the store, runs `body`, closes the store (also when `body` throws).
    func withStore(_ body: (any JobStore) async throws -> Void) async throws {
        let store = try await open()
        do {
            try await body(store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    func open() async throws -> any JobStore {
        var c = try config.map { try WorkerConfiguration.load(path: $0) } ?? WorkerConfiguration()
        if let db { c.db = db }
        if let dbPasswordFile { c.dbPasswordFile = dbPasswordFile }
        var logger = Logger(label: "dsa-triage.queue")
        logger.logLevel = .error
        return try await c.openStore(logger: logger)
    }
}

struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Operate the PACS worker's job queue: counts, jobs, retries of dead letters, purges.",
        subcommands: [Status.self, List.self, Retry.self, Purge.self, Bench.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Jobs per state (JSON with --json).")
        @OptionGroup var database: QueueDatabaseOptions
        @Flag(name: .long, help: "One JSON object instead of a table.")
        var json = false

        func run() async throws {
            try await QueueCommand.reporting {
                try await database.withStore { store in
                let counts = try await store.counts()
                if json {
                    let object = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, counts[$0] ?? 0) })
                    try Console.out(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self) + "\n")
                } else {
                    for state in JobState.allCases { try Console.out("\(state.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0))\(counts[state] ?? 0)\n") }
                }
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Jobs, newest first: one JSON object per line.")
        @OptionGroup var database: QueueDatabaseOptions
        @Option(name: .long, help: "Only jobs in this state: \(JobState.allCases.map(\.rawValue).joined(separator: ", ")).")
        var state: String?
        @Option(name: .long, help: "At most this many jobs (default 100).")
        var limit = 100

        func validate() throws {
            if let state, JobState(rawValue: state) == nil {
                throw ValidationError("--state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            try await QueueCommand.reporting {
                try await database.withStore { store in
                for job in try await store.list(state: state.flatMap(JobState.init(rawValue:)), limit: limit) {
                    try Console.out(QueueCommand.line(job) + "\n")
                }
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send dead jobs back to the queue (attempts reset).")
        @OptionGroup var database: QueueDatabaseOptions
        @Argument(help: "Job ids (see `queue list --state dead`).")
        var ids: [Int64] = []
        @Flag(name: .customLong("all-dead"), help: "Every dead job.")
        var allDead = false

        func validate() throws {
            if ids.isEmpty && !allDead { throw ValidationError("give job ids or --all-dead") }
        }

        func run() async throws {
            try await QueueCommand.reporting {
                try await database.withStore { store in
                var targets = ids
                if allDead { targets += try await store.list(state: .dead, limit: 100_000).map(\.id) }
                for id in targets {
                    let job = try await store.retry(id: id, now: nil)
                    try Console.out("job \(job.id): \(job.state.rawValue)\n")
                }
                }
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete finished jobs older than a number of days.")
        @OptionGroup var database: QueueDatabaseOptions
        @Option(name: .customLong("older-than-days"), help: "Age in days of the last change (default 30).")
        var olderThanDays: Double = 30
        @Option(name: .long, help: "States to purge, comma-separated, among done, skipped, superseded, dead (default done,skipped,superseded).")
        var states = "done,skipped,superseded"

        func parsedStates() throws -> Set<JobState> {
            var out = Set<JobState>()
            for part in states.split(separator: ",") {
                let name = part.trimmingCharacters(in: .whitespaces)
                guard let s = JobState(rawValue: name), s.isTerminal else {
                    throw ValidationError("--states: \"\(name)\" is not a finished state (done, skipped, superseded, dead)")
                }
                out.insert(s)
            }
            return out
        }

        func validate() throws {
            _ = try parsedStates()
            if !(olderThanDays.isFinite && olderThanDays >= 0) { throw ValidationError("--older-than-days must be zero or more") }
        }

        func run() async throws {
            try await QueueCommand.reporting {
                try await database.withStore { store in
                let n = try await store.purge(olderThan: Date().addingTimeInterval(-olderThanDays * 86400), states: try parsedStates())
                try Console.out("purged \(n) job(s)\n")
                }
            }
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure the queue's own cost per job: enqueue, lease, heartbeat, complete (use an empty scratch database).")
        @OptionGroup var database: QueueDatabaseOptions
        @Option(name: .long, help: "Jobs to run through (default 500).")
        var jobs = 500

        func validate() throws {
            if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        }

        func run() async throws {
            try await QueueCommand.reporting {
                try await database.withStore { store in
                    let run = UUID().uuidString
                    let clock = ContinuousClock()
                    var enqueue = Duration.zero, lease = Duration.zero, heartbeat = Duration.zero, complete = Duration.zero
                    for i in 0..<jobs {
                        let series = SeriesKey.hashing(uid: "2.25.\(i).\(run.hashValue.magnitude)")
                        let key = JobKey.make(seriesUIDHash: series.rawValue, instanceSetHash: "bench-\(run)-\(i)", modelFingerprint: "bench",
                                              adapterFingerprint: nil, profileHash: "bench")
                        let t0 = clock.now
                        _ = try await store.enqueue(key: key, series: series, payload: "{}", now: nil)
                        let t1 = clock.now
                        guard let job = try await store.lease(owner: "bench", leaseSeconds: 60, now: nil) else {
                            throw ValidationError("the database is not empty: a scratch database is needed (a job of another run was leased)")
                        }
                        let t2 = clock.now
                        _ = try await store.heartbeat(id: job.id, owner: "bench", leaseSeconds: 60, now: nil)
                        let t3 = clock.now
                        _ = try await store.complete(id: job.id, owner: "bench", result: "{}", now: nil)
                        let t4 = clock.now
                        enqueue += t1 - t0; lease += t2 - t1; heartbeat += t3 - t2; complete += t4 - t3
                    }
                    func ms(_ d: Duration) -> String { String(format: "%.3f", Double(d.components.attoseconds) / 1e15 / Double(jobs) + Double(d.components.seconds) * 1000 / Double(jobs)) }
                    let total = enqueue + lease + heartbeat + complete
                    try Console.out("{\"jobs\":\(jobs),\"enqueue_ms\":\(ms(enqueue)),\"lease_ms\":\(ms(lease)),\"heartbeat_ms\":\(ms(heartbeat)),\"complete_ms\":\(ms(complete)),\"per_job_ms\":\(ms(total))}\n")
                }
            }
        }
    }

    static func line(_ job: Job) -> String {
        let f = ISO8601DateFormatter()
        var o: [String: Any] = [
            "id": job.id, "series": job.series.rawValue, "version": job.version, "state": job.state.rawValue,
            "attempts": job.attempts, "max_attempts": job.maxAttempts, "current": job.isCurrent,
            "created_at": f.string(from: job.createdAt), "updated_at": f.string(from: job.updatedAt),
        ]
        if let e = job.lastError { o["last_error"] = e }
        if let r = job.skipReason { o["skip_reason"] = r }
        if let w = job.leaseOwner { o["lease_owner"] = w }
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let e as ExitCode {
            throw e
        } catch let e as ValidationError {
            throw e
        } catch {
            Console.err("error: \(CommandErrors.message(for: error))\n")
            throw ExitCode(1)
        }
    }
}
