import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import Prometheus
import Server
import Service
import ServiceLifecycle
import Tensor
import Triage
import WorkerQueue

/// Options shared by `serve` and `queue`: every key of the worker configuration file, as an option.
struct WorkerOptions: ParsableArguments {
    @Option(name: .long, help: "Worker configuration file (JSON; whole-line // comments allowed). Options given here win over it.")
    var config: String?

    @Option(name: .long, help: "Model directory: a merged model, or the base model when --adapter is given.")
    var model: String?
    @Option(name: .long, help: "PEFT LoRA adapter directory applied on top of --model.")
    var adapter: String?
    @Option(name: .long, help: "Task profile JSON (default: the compiled-in profile).")
    var profile: String?
    @Option(name: .long, help: "Quantise the base weights at load: none, int8 or nf4.")
    var quantize: String?
    @Option(name: .long, help: "Arithmetic for 16-bit weights: f32 or bf16.")
    var compute: String?
    @Option(name: .long, help: "Job queue: sqlite:PATH (one worker) or postgres://USER@HOST:PORT/DB (several).")
    var db: String?
    @Option(name: .customLong("db-password-file"), help: "File holding the PostgreSQL password (else the URL's, else $PGPASSWORD).")
    var dbPasswordFile: String?
    @Option(name: .long, help: "Spool folder for received instances (fsynced before acknowledgement).")
    var spool: String?
    @Option(name: .long, help: "HTTP listener HOST:PORT (STOW-RS, API, metrics). Default 127.0.0.1:8042; a non-loopback host needs --token-file.")
    var listen: String?
    @Option(name: .customLong("token-file"), help: "Bearer tokens, one per line; every route but /healthz then needs one.")
    var tokenFile: String?
    @Option(name: .customLong("tls-certificate"), help: "PEM certificate: serve HTTPS (with --tls-key).")
    var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-certificate.")
    var tlsKey: String?
    @Option(name: .long, help: "Orthanc REST base URL to follow (its /changes feed).")
    var orthanc: String?
    @Option(name: .customLong("orthanc-user"), help: "Orthanc user (basic auth).")
    var orthancUser: String?
    @Option(name: .customLong("orthanc-password-file"), help: "File holding the Orthanc user's password.")
    var orthancPasswordFile: String?
    @Option(name: .long, help: "Folder that storescp or a router writes instances into.")
    var inbox: String?
    @Option(name: .long, help: "Where SRs go: orthanc, none, or a DICOMweb base URL (STOW-RS). Default: orthanc when --orthanc is given, else none.")
    var destination: String?
    @Option(name: .customLong("settle-seconds"), help: "Seconds a series must be quiet before it becomes a job (default 10).")
    var settleSeconds: Double?
    @Option(name: .customLong("max-settle-seconds"), help: "Longest wait for instances a header announces (default 600).")
    var maxSettleSeconds: Double?
    @Option(name: .customLong("poll-seconds"), help: "Pause between looks at the sources (default 2).")
    var pollSeconds: Double?
    @Option(name: .customLong("sweep-seconds"), help: "Pause between sweeps over Orthanc's stable series (default 300).")
    var sweepSeconds: Double?
    @Option(name: .customLong("lease-seconds"), help: "Job lease; renewed by a heartbeat while the job runs (default 120).")
    var leaseSeconds: Double?
    @Option(name: .customLong("max-attempts"), help: "Attempts before a job goes to the dead letters (default 5).")
    var maxAttempts: Int?
    @Option(name: .customLong("retry-base-seconds"), help: "First retry pause; doubles per attempt (default 30).")
    var retryBaseSeconds: Double?
    @Option(name: .customLong("retry-max-seconds"), help: "Longest retry pause (default 3600).")
    var retryMaxSeconds: Double?
    @Option(name: .customLong("shutdown-grace-seconds"), help: "On SIGTERM, how long the job in progress may finish before it is given back (default 20).")
    var shutdownGraceSeconds: Double?
    @Option(name: .customLong("spool-retention-hours"), help: "Hours a finished series stays in the spool (default 24).")
    var spoolRetentionHours: Double?
    @Option(name: .customLong("worker-id"), help: "This worker's name in leases and logs (default: host name and process id).")
    var workerID: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?
    @Option(name: .customLong("viewer-url"), help: "URL template of the site's viewer ({study} is replaced).")
    var viewerURL: String?

    /// The configuration file's values with the options laid over them.
    func resolved() throws -> WorkerConfiguration {
        var o = WorkerConfiguration()
        o.model = model; o.adapter = adapter; o.profile = profile; o.quantize = quantize; o.compute = compute; o.db = db
        o.dbPasswordFile = dbPasswordFile; o.spool = spool; o.listen = listen; o.tokenFile = tokenFile
        o.tlsCertificate = tlsCertificate; o.tlsKey = tlsKey; o.orthanc = orthanc; o.orthancUser = orthancUser
        o.orthancPasswordFile = orthancPasswordFile; o.inbox = inbox; o.destination = destination; o.settleSeconds = settleSeconds
        o.maxSettleSeconds = maxSettleSeconds; o.pollSeconds = pollSeconds; o.sweepSeconds = sweepSeconds; o.leaseSeconds = leaseSeconds
        o.maxAttempts = maxAttempts; o.retryBaseSeconds = retryBaseSeconds; o.retryMaxSeconds = retryMaxSeconds
        o.shutdownGraceSeconds = shutdownGraceSeconds; o.spoolRetentionHours = spoolRetentionHours; o.workerID = workerID
        o.logLevel = logLevel; o.viewerURL = viewerURL
        let base = try config.map { try WorkerConfiguration.load(path: $0) } ?? WorkerConfiguration()
        return base.overridden(by: o)
    }
}

extension WorkerConfiguration {
    func require(_ value: String?, _ key: String, _ why: String) throws -> String {
        guard let value, !value.isEmpty else { throw WorkerConfigurationError.missing(key: key, why: why) }
        return value
    }

    var retryPolicy: RetryPolicy {
        RetryPolicy(maxAttempts: maxAttempts ?? 5, baseDelay: retryBaseSeconds ?? 30, maxDelay: retryMaxSeconds ?? 3600)
    }

    func checkNumbers() throws {
        func positive(_ v: Double?, _ key: String) throws {
            if let v, !(v.isFinite && v > 0) { throw WorkerConfigurationError.badValue(key: key, value: "\(v)", expected: "a positive number") }
        }
        func nonNegative(_ v: Double?, _ key: String) throws {
            if let v, !(v.isFinite && v >= 0) { throw WorkerConfigurationError.badValue(key: key, value: "\(v)", expected: "zero or more") }
        }
        try nonNegative(settleSeconds, "settle_seconds"); try nonNegative(maxSettleSeconds, "max_settle_seconds")
        try positive(pollSeconds, "poll_seconds"); try positive(sweepSeconds, "sweep_seconds"); try positive(leaseSeconds, "lease_seconds")
        try positive(retryBaseSeconds, "retry_base_seconds"); try positive(retryMaxSeconds, "retry_max_seconds")
        try nonNegative(shutdownGraceSeconds, "shutdown_grace_seconds"); try nonNegative(spoolRetentionHours, "spool_retention_hours")
        if let m = maxAttempts, m < 1 { throw WorkerConfigurationError.badValue(key: "max_attempts", value: "\(m)", expected: "at least 1") }
    }

    /// Opens the job store the configuration names.
    func openStore(logger: Logger) async throws -> any JobStore {
        let url = try require(db, "db", "the job queue's database (sqlite:PATH or postgres://USER@HOST:PORT/DB)")
        let location = try JobStoreLocation(parsing: url)
        return try await location.open(retryPolicy: retryPolicy, passwordFile: dbPasswordFile, logger: logger)
    }
}

/// Reads a one-line secret file (a password): trailing newline removed; a clear error naming the file.
func readSecret(_ path: String, what: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw WorkerConfigurationError.unreadable(path: path, reason: "\(what) cannot be read")
    }
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
    guard !text.isEmpty else { throw WorkerConfigurationError.invalid(path: path, reason: "\(what) is empty") }
    return text
}
