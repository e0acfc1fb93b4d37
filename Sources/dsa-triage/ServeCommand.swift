import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import Monitoring
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
    @Option(name: .long, help: "Quantise the base weights at load: none, int8, w8a8 (int8 activations too; opt-in) or nf4.")
    var quantize: String?
    @Option(name: .long, help: "Arithmetic for 16-bit weights: auto (default; the faster on this machine, measured once and cached), f32 or bf16.")
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
    @Option(name: .customLong("viewer-url"), help: "URL template of the site's viewer for the review pages ({StudyInstanceUID} is replaced).")
    var viewerURL: String?
    @Option(name: .long, help: "This site's name (monitoring groups; Verifying Organization of verified SRs).")
    var site: String?
    @Option(name: .customLong("audit-fraction-patent"), help: "Share of the model's own patent calls also put on the worklist (default 0.02).")
    var auditFractionPatent: Double?
    @Option(name: .customLong("audit-fraction-blocked"), help: "Share of the model's own blocked calls also put on the worklist (default 0.1).")
    var auditFractionBlocked: Double?
    @Option(name: .customLong("monitor-interval-seconds"), help: "Seconds between monitoring evaluations; 0 turns the loop off (default 300).")
    var monitorIntervalSeconds: Double?
    @Option(name: .customLong("alert-webhook"), help: "URL new monitoring alerts are POSTed to as JSON.")
    var alertWebhook: String?
    @Option(name: .customLong("monitoring-config"), help: "Monitoring configuration JSON (windows, alert limits, CUSUM).")
    var monitoringConfig: String?
    @Option(name: .customLong("monitoring-reference"), help: "Reference distribution JSON for drift (P(blocked), input statistics).")
    var monitoringReference: String?

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
        o.logLevel = logLevel; o.viewerURL = viewerURL; o.site = site; o.auditFractionPatent = auditFractionPatent
        o.auditFractionBlocked = auditFractionBlocked; o.monitorIntervalSeconds = monitorIntervalSeconds; o.alertWebhook = alertWebhook
        o.monitoringConfig = monitoringConfig; o.monitoringReference = monitoringReference
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
        try nonNegative(monitorIntervalSeconds, "monitor_interval_seconds")
        for (v, key) in [(auditFractionPatent, "audit_fraction_patent"), (auditFractionBlocked, "audit_fraction_blocked")] {
            if let v, !(v.isFinite && v >= 0 && v <= 1) { throw WorkerConfigurationError.badValue(key: key, value: "\(v)", expected: "a fraction in 0…1") }
        }
        if let m = maxAttempts, m < 1 { throw WorkerConfigurationError.badValue(key: "max_attempts", value: "\(m)", expected: "at least 1") }
    }

    /// Opens the job store the configuration names.
    func openStore(logger: Logger) async throws -> any WorkerDatabase {
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

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the PACS worker: ingest DICOM (Orthanc, STOW-RS, inbox), triage each series once, send SRs back.",
        discussion: """
        Decision support only: every SR is UNVERIFIED until a person reviews it. Patient identifiers are read in \
        memory only (to copy them into the SR); the database, logs and metrics hold hashes. See docs/WORKER.md.
        """
    )

    @OptionGroup var options: WorkerOptions

    @Flag(name: .customLong("print-default-config"), help: "Write a commented example configuration to standard output and exit.")
    var printDefaultConfig = false

    func run() async throws {
        if printDefaultConfig {
            try Console.out(WorkerConfiguration.defaultText)
            return
        }
        var config: WorkerConfiguration!
        var level = Logger.Level.info
        try CommandErrors.reporting {
            config = try options.resolved()
            try config.checkNumbers()
            if let l = config.logLevel {
                guard let parsed = Logger.Level(rawValue: l) else {
                    throw WorkerConfigurationError.badValue(key: "log_level", value: l, expected: "trace, debug, info, notice, warning, error or critical")
                }
                level = parsed
            }
        }
        let chosenLevel = level
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: chosenLevel) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "dsa-triage.worker")
        do {
            try await Self.serve(config, registry: registry, logger: logger)
        } catch let e as ExitCode {
            throw e
        } catch {
            logger.critical("worker cannot start or stopped on an error", metadata: ["error": "\(CommandErrors.message(for: error))"])
            Console.err("error: \(CommandErrors.message(for: error))\n")
            throw ExitCode(1)
        }
    }

    static func serve(_ config: WorkerConfiguration, registry: PrometheusCollectorRegistry, logger: Logger) async throws {
        // Everything that can be wrong with the configuration is found before the model loads.
        let modelPath = try config.require(config.model, "model", "the model directory")
        let spoolPath = try config.require(config.spool, "spool", "the folder received instances are kept in")
        let (host, port) = try parseListen(config.listen ?? "127.0.0.1:8042")
        let tokens = try config.tokenFile.map { try ServerConfiguration.loadTokens(file: URL(fileURLWithPath: $0)) } ?? []
        let serverConfig = ServerConfiguration(host: host, port: port, bearerTokens: tokens,
                                               tlsCertificatePath: config.tlsCertificate, tlsPrivateKeyPath: config.tlsKey)
        try serverConfig.validate()
        // nil: auto (the loader measures or reads the cached choice for a bf16 model).
        let compute: ComputeMode? = try config.compute.flatMap {
            guard ComputeChoice(rawValue: $0) != nil else {
                throw WorkerConfigurationError.badValue(key: "compute", value: $0, expected: "auto, f32 or bf16")
            }
            return ComputeMode(rawValue: $0)
        }
        let quantization = try QuantizationScheme(rawValue: config.quantize ?? "none").orThrow(
            WorkerConfigurationError.badValue(key: "quantize", value: config.quantize ?? "", expected: "none, int8, w8a8 or nf4"))
        let destinationName = config.destination ?? (config.orthanc != nil ? "orthanc" : "none")
        if destinationName == "orthanc" && config.orthanc == nil {
            throw WorkerConfigurationError.missing(key: "orthanc", why: "--destination orthanc sends SRs to the Orthanc given by --orthanc")
        }
        if destinationName != "orthanc" && destinationName != "none" && !(destinationName.hasPrefix("http://") || destinationName.hasPrefix("https://")) {
            throw WorkerConfigurationError.badValue(key: "destination", value: destinationName, expected: "orthanc, none, or a DICOMweb base URL (http:// or https://)")
        }
        let orthancPassword = try config.orthancPasswordFile.map { try readSecret($0, what: "the Orthanc password file") }
        let spool = try Spool(root: URL(fileURLWithPath: spoolPath))
        let store = try await config.openStore(logger: logger)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await run(config, modelPath: modelPath, spool: spool, store: store, http: http, serverConfig: serverConfig,
                          compute: compute, quantization: quantization, destinationName: destinationName,
                          orthancPassword: orthancPassword, registry: registry, logger: logger)
        } catch {
            try? await http.shutdown()
            try? await store.close()
            throw error
        }
        try? await http.shutdown()
        try? await store.close()
    }

    private static func run(_ config: WorkerConfiguration, modelPath: String, spool: Spool, store: any WorkerDatabase, http: HTTPClient,
                            serverConfig: ServerConfiguration, compute: ComputeMode?, quantization: QuantizationScheme,
                            destinationName: String, orthancPassword: String?, registry: PrometheusCollectorRegistry,
                            logger: Logger) async throws {
        // Review and monitoring settings are checked before the model loads, too.
        let monitoringConfiguration = try config.monitoringConfig.map { try loadMonitoringConfiguration($0) } ?? MonitoringConfiguration()
        let referenceFile = try config.monitoringReference.map { try loadReferenceDistribution($0) }
        let viewerLink = try config.viewerURL.map { text in
            do { return try ViewerLink(template: text) } catch {
                throw WorkerConfigurationError.badValue(key: "viewer_url", value: text, expected: "an absolute http(s) URL with {StudyInstanceUID}")
            }
        }
        if let hook = config.alertWebhook, !(hook.hasPrefix("http://") || hook.hasPrefix("https://")) {
            throw WorkerConfigurationError.badValue(key: "alert_webhook", value: hook, expected: "an http:// or https:// URL")
        }
        let imageFolder = spool.root.appendingPathComponent("images", isDirectory: true)
        try SavedImages.prepare(imageFolder)

        let loadStart = Date()
        var pipeline = try TriageRequest(model: modelPath, adapter: config.adapter, profilePath: config.profile,
                                         computeMode: compute, quantization: quantization).pipeline()
        let identity = WorkerIdentity(modelFingerprint: pipeline.modelFingerprint, adapterFingerprint: pipeline.adapterFingerprint,
                                      profileName: pipeline.profile.name, profileHash: try pipeline.profile.contentHash())
        logger.notice("model loaded", metadata: [
            "seconds": "\(String(format: "%.1f", Date().timeIntervalSince(loadStart)))", "model_fingerprint": "\(identity.modelFingerprint)",
            "adapter_fingerprint": "\(identity.adapterFingerprint ?? "none")", "profile": "\(identity.profileName)",
            "profile_hash": "\(identity.profileHash.prefix(16))", "compute": "\(computeDescription(forced: compute, loaded: pipeline.loaded.model.computeMode, quantization: quantization))"])
        for line in pipeline.notices(model: modelPath, recordNotes: true) { logger.warning("\(line)") }
        pipeline.savedImagesDirectory = imageFolder
        // Drift reference: the configured file, else the one `evaluate --write-profile` stored in the profile.
        var reference = referenceFile
        if reference == nil, let stored = pipeline.profile.referenceDistribution {
            do { reference = try ReferenceDistribution(stored) } catch {
                throw WorkerConfigurationError.invalid(path: config.profile ?? "the compiled-in profile",
                                                       reason: "its reference_distribution is not usable: \(error)")
            }
        }
        if reference == nil {
            logger.warning("no drift reference: P(blocked) and input PSI/KS are not monitored (set monitoring_reference or use a profile from evaluate --write-profile)")
        }

        let orthanc = config.orthanc.map { OrthancClient(baseURL: $0, user: config.orthancUser, password: orthancPassword, http: http) }
        let destination: ResultDestination
        switch destinationName {
        case "none": destination = .none
        case "orthanc": destination = .orthanc(orthanc!)
        default: destination = .dicomweb(base: destinationName, http: http, authorization: nil)
        }
        let settle = config.settleSeconds ?? 10
        let archive = ReviewArchive(folder: spool.root.appendingPathComponent("review", isDirectory: true))
        let reviewSettings = ReviewSettings(site: config.site, auditFractionPatent: config.auditFractionPatent ?? 0.02,
                                            auditFractionBlocked: config.auditFractionBlocked ?? 0.1, imageFolder: imageFolder)
        let cases = CaseRecorder(store: store, settings: reviewSettings, profile: pipeline.profile, archive: archive)
        let verifier = VerifiedReportSender(archive: archive, destination: destination, store: store,
                                            organization: config.site ?? "dsa-triage", logger: logger)
        let monitorInterval = config.monitorIntervalSeconds ?? 300
        let monitor = AlertMonitor(store: store, configuration: monitoringConfiguration, reference: reference,
                                   intervalSeconds: monitorInterval, webhook: config.alertWebhook, site: config.site,
                                   http: http, logger: logger)
        // The verified SR is sent beside the reviewer's next page, not before it.
        // A failed send is not lost: the sweeper finds the verdict without a verified SR and retries with backoff.
        let verifiedBackoff = VerifiedReportBackoff()
        let onVerdict: ReviewConfiguration.VerdictHook = { verdict, reviewCase in
            Task {
                do { try await verifier.send(verdict: verdict, reviewCase: reviewCase) } catch {
                    let (_, next) = await verifiedBackoff.failed(verdict.id, now: Date())
                    logger.error("verified SR not sent; will retry", metadata: [
                        "job": "\(reviewCase.jobID)", "verdict_id": "\(verdict.id)",
                        "next_in_seconds": "\(Int(next.timeIntervalSinceNow))", "error": "\(error)"])
                }
            }
        }
        let sweeper = VerifiedReportSweeper(sender: verifier, intervalSeconds: 60, backoff: verifiedBackoff, logger: logger)
        let review = try ReviewConfiguration(store: store, imageDirectory: imageFolder, viewerLink: viewerLink,
                                             dashboard: MonitoringDashboard(monitor: monitor), onVerdict: onVerdict)
        let owner = config.workerID ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        let runner = JobRunner(store: store, spool: spool, pipeline: pipeline, identity: identity, destination: destination,
                               orthanc: orthanc,
                               settings: .init(owner: owner, leaseSeconds: config.leaseSeconds ?? 120,
                                               shutdownGraceSeconds: config.shutdownGraceSeconds ?? 20,
                                               idlePollSeconds: min(1, config.pollSeconds ?? 2)),
                               cases: cases, logger: logger)
        let settler = SpoolSettler(spool: spool, store: store, identity: identity, settleSeconds: settle,
                                   maxSettleSeconds: config.maxSettleSeconds ?? 600,
                                   retentionSeconds: (config.spoolRetentionHours ?? 24) * 3600, logger: logger)
        let inbox = try config.inbox.map {
            try InboxSource(folder: URL(fileURLWithPath: $0), spool: spool, logger: logger) { WorkerMetrics.ingested(bytes: $0, source: "inbox") }
        }
        let orthancSource = orthanc.map {
            OrthancSource(client: $0, store: store, identity: identity, settleSeconds: settle,
                          maxSettleSeconds: config.maxSettleSeconds ?? 600, ownManufacturer: JobRunner.manufacturer, logger: logger)
        }
        let worker = PACSWorker(runner: runner, settler: settler, inbox: inbox, orthanc: orthancSource,
                                pollSeconds: config.pollSeconds ?? 2, sweepSeconds: config.sweepSeconds ?? 300, logger: logger)
        let readiness = WorkerReadiness(store: store, orthanc: orthanc, spool: spool, compute: computeDescription(forced: compute, loaded: pipeline.loaded.model.computeMode, quantization: quantization))
        let server = try WorkerHTTPServer(configuration: serverConfig, jobStore: store, stowSink: SpoolStowSink(spool: spool, logger: logger),
                                          readiness: readiness, registry: registry, logger: logger, review: review)
        let announce = Task {
            if let port = await server.waitUntilListening(timeout: .seconds(60)) {
                logger.notice("listening", metadata: ["host": "\(serverConfig.host)", "port": "\(port)",
                                                      "tls": "\(serverConfig.usesTLS)", "auth": "\(serverConfig.requiresAuthentication)"])
            }
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: server), .init(service: worker)] + (monitorInterval > 0 ? [.init(service: monitor)] : [])
                + (destination.sendsReports ? [.init(service: sweeper)] : []),
            gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        try await group.run()
        announce.cancel()
    }

    /// "HOST:PORT" or "[v6]:PORT".
    static func parseListen(_ text: String) throws -> (String, Int) {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(after: close)...].drop { $0 == ":" }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            throw WorkerConfigurationError.badValue(key: "listen", value: text, expected: "HOST:PORT, e.g. 127.0.0.1:8042")
        }
        if host.isEmpty { host = "127.0.0.1" }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw WorkerConfigurationError.badValue(key: "listen", value: text, expected: "HOST:PORT with a port in 0…65535")
        }
        return (String(host), port)
    }
}

/// The STOW-RS receiver's sink: the worker's spool.
struct SpoolStowSink: StowInstanceSink {
    let spool: Spool
    let logger: Logger
    var stagingDirectory: URL { spool.staging }

    func accept(stagedFile: URL, studyInstanceUID: String?) async -> StowPartOutcome {
        switch spool.accept(file: stagedFile, studyInstanceUID: studyInstanceUID) {
        case .stored(let header, _, let bytes):
            WorkerMetrics.ingested(bytes: bytes, source: "stow")
            return .stored(sopClassUID: header.sopClassUID, sopInstanceUID: header.sopInstanceUID, warning: nil)
        case .failed(let cls, let sop, let reason, let message):
            logger.warning("STOW-RS part refused", metadata: ["reason": "\(String(format: "0x%04X", reason))", "error": "\(message)"])
            return .failed(sopClassUID: cls, sopInstanceUID: sop, reason: reason, message: message)
        }
    }
}

/// /readyz: the model is loaded (this exists only after it is), the database answers, Orthanc answers,
/// the spool is writable.
struct WorkerReadiness: ReadinessProbe {
    let store: any JobStore
    let orthanc: OrthancClient?
    let spool: Spool
    let compute: String

    func readiness() async -> [ReadinessCheck] {
        var checks = [ReadinessCheck(name: "model", ok: true, detail: "loaded (compute \(compute))")]
        do {
            let counts = try await store.counts()
            checks.append(ReadinessCheck(name: "database", ok: true, detail: "\(counts.values.reduce(0, +)) jobs"))
        } catch {
            checks.append(ReadinessCheck(name: "database", ok: false, detail: "\(error)"))
        }
        if let orthanc {
            do {
                checks.append(ReadinessCheck(name: "orthanc", ok: true, detail: "Orthanc \(try await orthanc.systemVersion())"))
            } catch {
                checks.append(ReadinessCheck(name: "orthanc", ok: false, detail: "\(error)"))
            }
        }
        let probe = spool.staging.appendingPathComponent(".readyz-\(UUID().uuidString)")
        let writable = FileManager.default.createFile(atPath: probe.path, contents: Data())
        try? FileManager.default.removeItem(at: probe)
        checks.append(ReadinessCheck(name: "spool", ok: writable, detail: writable ? "writable" : "not writable"))
        return checks
    }
}

extension Optional {
    func orThrow(_ error: @autoclosure () -> Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}
