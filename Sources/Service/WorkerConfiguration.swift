import Foundation

/// Everything `dsa-triage serve` is started with. Read from a JSON file (`--config`; `//` comment lines are
/// allowed, as in the example `--print-default-config` writes); every key is also a command-line option,
/// which wins over the file. Keys are the options' names with underscores.
public struct WorkerConfiguration: Codable, Sendable, Equatable {
    /// Model directory (merged model, or the base when an adapter is given).
    public var model: String?
    public var adapter: String?
    /// Task profile JSON (default: the compiled-in profile).
    public var profile: String?
    /// Base-weight quantisation at load: none, int8, nf4 (as `triage --quantize`).
    public var quantize: String?
    /// Arithmetic: auto (default), f32 or bf16 (as `triage --compute`).
    public var compute: String?
    /// `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
    public var db: String?
    /// File holding the PostgreSQL password (else the URL's, else $PGPASSWORD).
    public var dbPasswordFile: String?
    /// Folder of received instances (must be on a disk that survives restarts).
    public var spool: String?
    /// HOST:PORT of the HTTP listener (STOW-RS, API, metrics). Loopback unless tokens are configured.
    public var listen: String?
    /// Bearer tokens, one per line.
    public var tokenFile: String?
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Orthanc's REST base URL; its `/changes` are followed.
    public var orthanc: String?
    public var orthancUser: String?
    public var orthancPasswordFile: String?
    /// Folder that storescp or a router writes instances into.
    public var inbox: String?
    /// Where SRs go: `orthanc` (the source Orthanc), `none`, or a DICOMweb base URL (STOW-RS).
    public var destination: String?
    /// Seconds a series must be quiet before it becomes a job.
    public var settleSeconds: Double?
    /// Longest wait for a series whose header announces more instances than arrived.
    public var maxSettleSeconds: Double?
    public var pollSeconds: Double?
    /// How often the Orthanc sweep looks for stable series the change feed missed.
    public var sweepSeconds: Double?
    public var leaseSeconds: Double?
    public var maxAttempts: Int?
    public var retryBaseSeconds: Double?
    public var retryMaxSeconds: Double?
    /// How long a shutdown waits for the job in progress before giving it back to the queue.
    public var shutdownGraceSeconds: Double?
    /// Hours a finished series' files stay in the spool (late instances need them for the next version).
    public var spoolRetentionHours: Double?
    /// This worker's name in leases and logs (default: host name and process id).
    public var workerID: String?
    /// trace, debug, info, notice, warning, error, critical.
    public var logLevel: String?
    /// URL template of the site's viewer for a study (`{study}` is replaced); used by the review pages.
    public var viewerURL: String?
    /// This site's name: monitoring groups by it, and it is the Verifying Organization of verified SRs.
    public var site: String?
    /// Audit fractions: the share of the model's own patent / blocked calls also put on the worklist.
    public var auditFractionPatent: Double?
    public var auditFractionBlocked: Double?
    /// Seconds between monitoring evaluations (0: no monitoring loop).
    public var monitorIntervalSeconds: Double?
    /// URL that new monitoring alerts are POSTed to as JSON.
    public var alertWebhook: String?
    /// Monitoring configuration JSON (windows, alert limits, CUSUM); omitted keys keep their defaults.
    public var monitoringConfig: String?
    /// Reference distribution JSON for drift (P(blocked) and input statistics of the evaluation run).
    public var monitoringReference: String?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, adapter, profile, quantize, compute, db, spool, listen, orthanc, inbox, destination
        case dbPasswordFile = "db_password_file", tokenFile = "token_file", tlsCertificate = "tls_certificate", tlsKey = "tls_key"
        case orthancUser = "orthanc_user", orthancPasswordFile = "orthanc_password_file"
        case settleSeconds = "settle_seconds", maxSettleSeconds = "max_settle_seconds", pollSeconds = "poll_seconds"
        case sweepSeconds = "sweep_seconds", leaseSeconds = "lease_seconds", maxAttempts = "max_attempts"
        case retryBaseSeconds = "retry_base_seconds", retryMaxSeconds = "retry_max_seconds"
        case shutdownGraceSeconds = "shutdown_grace_seconds", spoolRetentionHours = "spool_retention_hours"
        case workerID = "worker_id", logLevel = "log_level", viewerURL = "viewer_url"
        case site, auditFractionPatent = "audit_fraction_patent", auditFractionBlocked = "audit_fraction_blocked"
        case monitorIntervalSeconds = "monitor_interval_seconds", alertWebhook = "alert_webhook"
        case monitoringConfig = "monitoring_config", monitoringReference = "monitoring_reference"
    }

    /// The configuration keys, as the file spells them.
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Reads a configuration file; unknown keys are errors (a misspelt key must not silently fall back).
    public static func load(path: String) throws(WorkerConfigurationError) -> WorkerConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        let text = String(decoding: data, as: UTF8.self)
        let json = stripComments(text)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8))
        } catch {
            throw .invalid(path: path, reason: "not valid JSON: \((error as NSError).localizedDescription)")
        }
        guard let dict = object as? [String: Any] else { throw .invalid(path: path, reason: "the top level must be an object") }
        let unknown = dict.keys.filter { !keys.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw .invalid(path: path, reason: "unknown key(s) \(unknown.joined(separator: ", ")); known keys: \(keys.joined(separator: ", "))")
        }
        do {
            return try JSONDecoder().decode(WorkerConfiguration.self, from: Data(json.utf8))
        } catch let DecodingError.typeMismatch(type, context) {
            throw .invalid(path: path, reason: "\(context.codingPath.map(\.stringValue).joined(separator: ".")): expected \(type)")
        } catch {
            throw .invalid(path: path, reason: "\(error)")
        }
    }

    /// Removes whole-line `//` comments (JSON itself has none).
    static func stripComments(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).hasPrefix("//") ? "" : String($0) }
            .joined(separator: "\n")
    }

    /// `self` with every value `overrides` sets replacing this one's.
    public func overridden(by overrides: WorkerConfiguration) -> WorkerConfiguration {
        var out = self
        func pick<T>(_ path: WritableKeyPath<WorkerConfiguration, T?>) {
            if let v = overrides[keyPath: path] { out[keyPath: path] = v }
        }
        pick(\.model); pick(\.adapter); pick(\.profile); pick(\.quantize); pick(\.compute); pick(\.db); pick(\.dbPasswordFile)
        pick(\.spool); pick(\.listen); pick(\.tokenFile); pick(\.tlsCertificate); pick(\.tlsKey); pick(\.orthanc)
        pick(\.orthancUser); pick(\.orthancPasswordFile); pick(\.inbox); pick(\.destination); pick(\.settleSeconds)
        pick(\.maxSettleSeconds); pick(\.pollSeconds); pick(\.sweepSeconds); pick(\.leaseSeconds); pick(\.maxAttempts)
        pick(\.retryBaseSeconds); pick(\.retryMaxSeconds); pick(\.shutdownGraceSeconds); pick(\.spoolRetentionHours)
        pick(\.workerID); pick(\.logLevel); pick(\.viewerURL); pick(\.site); pick(\.auditFractionPatent)
        pick(\.auditFractionBlocked); pick(\.monitorIntervalSeconds); pick(\.alertWebhook); pick(\.monitoringConfig)
        pick(\.monitoringReference)
        return out
    }

    /// The commented example `serve --print-default-config` writes.
    public static let defaultText = """
    // dsa-triage serve — worker configuration. Every key is also an option (--settle-seconds for
    // settle_seconds, …); options win over this file. Whole-line // comments are allowed.
    {
      // Merged model directory, or the base model when an adapter is given.
      "model": "models/demo",
      // PEFT LoRA adapter applied on top of the model (omit for a merged model).
      // "adapter": "/srv/dsa-triage/adapter",
      // Task profile (omit: the compiled-in default, profiles/default-task-profile.json).
      // "profile": "/srv/dsa-triage/profile.json",
      // Base-weight quantisation at load: none, int8, w8a8 (int8 activations too) or nf4. Arithmetic: auto (default: measured once per machine), f32 or bf16.
      "quantize": "none",
      // "compute": "auto",

      // The job queue: sqlite:PATH for one worker, postgres://USER@HOST:PORT/DB for several.
      "db": "sqlite:/var/lib/dsa-triage/queue.sqlite",
      // "db_password_file": "/etc/dsa-triage/db-password",
      // Received instances (fsynced before they are acknowledged). Keep it on persistent storage.
      "spool": "/var/lib/dsa-triage/spool",

      // HTTP listener: STOW-RS (POST /dicom-web/studies), /api/v1, /metrics, /healthz, /readyz.
      // Loopback unless a token file is given; TLS when a certificate and key are given.
      "listen": "127.0.0.1:8042",
      // "token_file": "/etc/dsa-triage/tokens",
      // "tls_certificate": "/etc/dsa-triage/tls/cert.pem",
      // "tls_key": "/etc/dsa-triage/tls/key.pem",

      // Sources (any combination): an Orthanc to follow, a folder that storescp writes into.
      // "orthanc": "http://127.0.0.1:8043",
      // "orthanc_user": "dsa-triage",
      // "orthanc_password_file": "/etc/dsa-triage/orthanc-password",
      // "inbox": "/var/lib/dsa-triage/inbox",

      // Where SRs go: "orthanc" (the source Orthanc), "none", or a DICOMweb base URL (STOW-RS).
      "destination": "none",

      // A series becomes a job once quiet this long and complete (at most max_settle_seconds when
      // the header announces instances that never come).
      "settle_seconds": 10,
      "max_settle_seconds": 600,
      "poll_seconds": 2,
      "sweep_seconds": 300,

      // Leases, retries and shutdown.
      "lease_seconds": 120,
      "max_attempts": 5,
      "retry_base_seconds": 30,
      "retry_max_seconds": 3600,
      "shutdown_grace_seconds": 20,
      "spool_retention_hours": 24,

      // "worker_id": "worker-1",
      "log_level": "info",

      // Review and monitoring (pages /login, /worklist, /cases/{id}, /dashboard on the listener; accounts
      // with `dsa-triage users add`). Every manual-review case goes on the worklist, plus these shares of
      // the model's own calls as audit samples (they correct monitoring for verification bias).
      // "site": "St Elsewhere angiography",
      "audit_fraction_patent": 0.02,
      "audit_fraction_blocked": 0.1,
      // "viewer_url": "http://pacs.example/ohif/viewer?StudyInstanceUIDs={StudyInstanceUID}",
      // Monitoring: seconds between evaluations (0: off), where new alerts are POSTed, its settings, and
      // the reference distribution for drift (else the profile's reference_distribution, if any).
      "monitor_interval_seconds": 300
      // "alert_webhook": "https://alerts.example/dsa-triage",
      // "monitoring_config": "/etc/dsa-triage/monitoring.json",
      // "monitoring_reference": "/etc/dsa-triage/reference-distribution.json"
    }

    """
}

public enum WorkerConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalid(path: String, reason: String)
    case missing(key: String, why: String)
    case badValue(key: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): \(reason)"
        case .invalid(let path, let reason): return "\(path): \(reason)"
        case .missing(let key, let why): return "missing --\(key.replacingOccurrences(of: "_", with: "-")) (\(key)): \(why)"
        case .badValue(let key, let value, let expected):
            return "--\(key.replacingOccurrences(of: "_", with: "-")) \(value): expected \(expected)"
        }
    }
}
