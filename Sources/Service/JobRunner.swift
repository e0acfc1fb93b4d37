import Angiography
import DICOM
import Foundation
import Logging
import StructuredReport
import Triage
import WorkerQueue

/// Takes jobs from the queue one at a time and carries each through: its instances (from the spool, or
/// downloaded from Orthanc), scope routing (XA only), the population limit (no children), the triage
/// pipeline, the SR and its delivery, and the job's end state. The lease is kept alive by a heartbeat
/// while the model runs; a lost lease means another worker took the job over, and this result is dropped.
public final class JobRunner: @unchecked Sendable {
    public struct Settings: Sendable {
        public var owner: String
        public var leaseSeconds: Double
        public var shutdownGraceSeconds: Double
        public var idlePollSeconds: Double
        public var sendAttempts: Int
        public init(owner: String, leaseSeconds: Double = 120, shutdownGraceSeconds: Double = 20, idlePollSeconds: Double = 1,
                    sendAttempts: Int = 3) {
            self.owner = owner
            self.leaseSeconds = leaseSeconds
            self.shutdownGraceSeconds = shutdownGraceSeconds
            self.idlePollSeconds = idlePollSeconds
            self.sendAttempts = sendAttempts
        }
    }

    public let store: any JobStore
    public let spool: Spool
    public let pipeline: TriagePipeline
    public let identity: WorkerIdentity
    public let destination: ResultDestination
    public let orthanc: OrthancClient?
    public let settings: Settings
    /// Writes each finished job's review case (nil: no review or monitoring data kept).
    public let cases: CaseRecorder?
    private let logger: Logger
    private let state = RunnerState()

    /// The name written into SRs as algorithm and manufacturer.
    public static let algorithmName = "dsa-triage vessel patency"
    public static let manufacturer = "dsa-triage project"

    public init(store: any JobStore, spool: Spool, pipeline: TriagePipeline, identity: WorkerIdentity,
                destination: ResultDestination, orthanc: OrthancClient?, settings: Settings, cases: CaseRecorder? = nil,
                logger: Logger) {
        self.cases = cases
        self.store = store
        self.spool = spool
        self.pipeline = pipeline
        self.identity = identity
        self.destination = destination
        self.orthanc = orthanc
        self.settings = settings
        self.logger = logger
    }

    /// Asks the runner to stop: no new lease; the job in progress gets `shutdownGraceSeconds` to finish,
    /// then it is given back to the queue.
    public func requestShutdown() { state.shutdown() }
    public var isShuttingDown: Bool { state.isShutdown }

    /// Leases and runs jobs until shutdown is requested.
    public func run() async {
        while !state.isShutdown {
            let worked: Bool
            do {
                worked = try await runOnce()
            } catch {
                logger.error("queue unavailable (will retry)", metadata: ["error": "\(error)"])
                worked = false
            }
            if !worked { await sleepUnlessShutdown(settings.idlePollSeconds) }
        }
    }

    /// Leases one job and runs it; false when none was ready.
    @discardableResult
    public func runOnce(now: Date? = nil) async throws -> Bool {
        guard !state.isShutdown, let job = try await store.lease(owner: settings.owner, leaseSeconds: settings.leaseSeconds, now: now) else {
            return false
        }
        await process(job)
        return true
    }

    /// What became of one job, for the logs and the tests.
    public enum Outcome: Sendable, Equatable {
        case done(TriageLabel?)
        case skipped(String)
        case failed(String)
        case released
        case leaseLost
    }

    @discardableResult
    func process(_ job: Job) async -> Outcome {
        let log = jobLogger(job)
        log.info("job started", metadata: ["attempt": "\(job.attempts)", "version": "\(job.version)"])
        let heartbeat = startHeartbeat(job, log: log)
        defer { heartbeat.cancel() }
        let outcome = await withDeadline(job) { [self] in await self.work(job, log: log) }
        switch outcome {
        case nil:
            do {
                _ = try await store.release(id: job.id, owner: settings.owner, now: nil)
                log.notice("shutdown: job given back to the queue unfinished")
            } catch {
                log.error("shutdown: could not give the job back; its lease will expire", metadata: ["error": "\(error)"])
            }
            return .released
        case .some(let o):
            return o
        }
    }

    /// The job's steps; every failure becomes the job's state (never a crash).
    private func work(_ job: Job, log: Logger) async -> Outcome {
        let payload: JobPayload
        do {
            payload = try JobPayload.parse(job.payload)
        } catch {
            return await finishFailed(job, "unreadable job payload: \(error)", log: log)
        }
        // 1. The instances on local disk.
        let files: [URL]
        switch await materialize(job, payload, log: log) {
        case .success(let f): files = f
        case .failure(let message): return await finishFailed(job, message, log: log)
        case .skip(let reason): return await finishSkipped(job, reason, log: log)
        }
        defer { if payload.source == .orthanc { spool.removeDownloads(job: job.id) } }
        // 2. Routing and the population limit, before any model work.
        var headers: [(InstanceHeader, DICOMDataset)] = []
        for file in files {
            do { headers.append(try InstanceHeader.read(file)) } catch {
                return await finishFailed(job, "an instance is unreadable: \(error.message)", log: log)
            }
        }
        guard let first = headers.first else { return await finishFailed(job, "the job has no instances", log: log) }
        let router = ScopeRouter(policy: RoutingPolicy(includeRadiofluoroscopic: pipeline.profile.includeRadiofluoroscopy))
        let routes = headers.map { router.decide(sopClassUID: $0.0.sopClassUID, modality: $0.0.modality) }
        if !routes.contains(where: { $0.route == .triage }), let r = routes.first {
            return await finishSkipped(job, "\(r.reason): \(r.detail)", header: first, log: log)
        }
        let age = PopulationLimit(minimumAgeYears: pipeline.profile.minimumPatientAge).check(first.1)
        if age == .underAge { return await finishSkipped(job, PopulationLimit.pediatricReason, header: first, log: log) }
        // 3. The model.
        let modelStart = Date()
        var record = await runPipeline(files.map(\.path))
        WorkerMetrics.modelSeconds(Date().timeIntervalSince(modelStart))
        if age == .unknown {
            record.patientAgeUnknown = true
            record.reasons.append("patient age unknown: the population limit (no children) was not checked")
        }
        guard !state.isLeaseLost(job.id) else {
            log.warning("lease lost while the model ran: another worker has the job; this result is dropped")
            return .leaseLost
        }
        switch record.status {
        case .skipped:
            return await finishSkipped(job, [record.routeReason, record.reasons.first].compactMap { $0 }.joined(separator: ": "),
                                       header: first, log: log)
        case .error:
            return await finishFailed(job, record.error ?? "triage failed", log: log)
        case .processed:
            break
        }
        // 4. The SR, sent before the job is marked done (a crash in between resends the same SR UID).
        var delivery: [String: String] = ["destination": destination.name]
        var reportUID: String?
        var reportInputs: PatencyReportInput?
        do {
            let input = try reportInput(record: record, headers: headers, job: job)
            reportInputs = input
            let report = try PatencyReport(input)
            delivery["sop_instance_uid_hash"] = UIDHash.hash(report.sopInstanceUID)
            reportUID = report.sopInstanceUID
            if case .none = destination {
                delivery["status"] = "not sent"
            } else {
                delivery["status"] = try await destination.send(try report.encode(), attempts: settings.sendAttempts)
                WorkerMetrics.srSent(true)
            }
        } catch {
            WorkerMetrics.srSent(false)
            return await finishFailed(job, "SR not delivered: \(error)", log: log)
        }
        // 5. The review case (on the worklist when the model was unsure, or as an audit sample), then done.
        if let cases {
            let reviewCase = cases.triaged(job: job, record: record, header: first.0, dataset: first.1,
                                           reportSOPInstanceUID: destination.sendsReports ? reportUID : nil)
            if reviewCase.worklistReason != nil, reviewCase.reportSOPInstanceUID != nil, let archive = cases.archive,
               let input = reportInputs, let source = files.first {
                do { try archive.save(jobID: job.id, input: input, sourceFile: source) } catch {
                    log.warning("could not keep the report inputs: no verified SR can follow a verdict", metadata: ["error": "\(error)"])
                }
            }
            do { try await cases.record(reviewCase) } catch {
                log.error("could not record the review case (the job will run again)", metadata: ["error": "\(error)"])
                return .failed("\(error)")
            }
            if let reason = reviewCase.worklistReason { log.info("case put on the worklist", metadata: ["reason": "\(reason.rawValue)"]) }
        }
        do {
            let result = try resultJSON(record: record, delivery: delivery)
            _ = try await store.complete(id: job.id, owner: settings.owner, result: result, now: nil)
        } catch JobStoreError.leaseLost {
            log.warning("lease lost before completion: another worker has the job")
            return .leaseLost
        } catch {
            log.error("could not record the result (the job will run again)", metadata: ["error": "\(error)"])
            return .failed("\(error)")
        }
        WorkerMetrics.jobFinished("done")
        if let d = record.decision { WorkerMetrics.decision(d.rawValue) }
        if let arrival = payload.lastArrival { WorkerMetrics.endToEndSeconds(Date().timeIntervalSince1970 - arrival) }
        log.info("job done", metadata: ["decision": "\(record.decision?.rawValue ?? "-")",
                                        "p_blocked": "\(record.pBlocked.map { String(format: "%.4f", $0) } ?? "-")",
                                        "sr": "\(delivery["status"] ?? "-")"])
        return .done(record.decision)
    }

    enum Materialized { case success([URL]), failure(String), skip(String) }

    private func materialize(_ job: Job, _ payload: JobPayload, log: Logger) async -> Materialized {
        switch payload.source {
        case .spool:
            guard let folder = payload.seriesFolder, let names = payload.files, !names.isEmpty else { return .failure("spool job without files") }
            let urls = names.map { spool.root.appendingPathComponent(folder).appendingPathComponent($0) }
            let missing = urls.filter { !FileManager.default.fileExists(atPath: $0.path) }.count
            if missing > 0 { return .failure("\(missing) of \(urls.count) spool file(s) missing") }
            return .success(urls)
        case .orthanc:
            guard let orthanc else { return .failure("an Orthanc job but no Orthanc is configured") }
            guard let ids = payload.orthancInstances, !ids.isEmpty else { return .failure("Orthanc job without instances") }
            let start = Date()
            let folder: URL
            do {
                folder = try spool.downloadFolder(job: job.id)
            } catch {
                return .failure("cannot prepare the download folder: \(error)")
            }
            var urls: [URL] = []
            var bytes: Int64 = 0
            for (i, id) in ids.enumerated() {
                let url = folder.appendingPathComponent(String(format: "%05d.dcm", i))
                let result = await Self.download(orthanc, id, url)
                switch result {
                case .success(let n): bytes += n
                case .failure(let error):
                    if case .http(404, _, _) = error { return .skip("deleted from Orthanc before triage") }
                    return .failure("download from Orthanc failed: \(error)")
                }
                urls.append(url)
            }
            WorkerMetrics.downloadSeconds(Date().timeIntervalSince(start))
            WorkerMetrics.ingested(bytes: bytes, source: "orthanc")
            log.debug("instances downloaded", metadata: ["instances": "\(ids.count)", "bytes": "\(bytes)"])
            return .success(urls)
        }
    }

    private static func download(_ orthanc: OrthancClient, _ id: String, _ url: URL) async -> Result<Int64, OrthancError> {
        do {
            return .success(try await orthanc.download(instance: id, to: url))
        } catch {
            return .failure(error)
        }
    }

    /// Runs the pipeline on its own thread (the model's loops must not block the server's event loops).
    private func runPipeline(_ paths: [String]) async -> TriageRecord {
        let pipeline = self.pipeline
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let records = pipeline.run(paths: paths)
                var record = records.first { $0.kind == .dicomSeries } ?? records.first
                    ?? pipeline.recordContext.blankRecord(input: "job", kind: .dicomSeries, status: .error)
                if records.count > 1 { record.reasons.append("the job's files formed \(records.count) units; the first series is reported") }
                continuation.resume(returning: record)
            }
        }
    }

    func reportInput(record: TriageRecord, headers: [(InstanceHeader, DICOMDataset)], job: Job) throws -> PatencyReportInput {
        var evidence: [SourceInstance] = []
        let byHash = Dictionary(headers.map { (UIDHash.hash($0.0.sopInstanceUID, key: pipeline.siteKey), $0.0) }, uniquingKeysWith: { a, _ in a })
        for image in record.images {
            guard let hash = image.instance, let h = byHash[hash] else { continue }
            evidence.append(SourceInstance(sopClassUID: h.sopClassUID, sopInstanceUID: h.sopInstanceUID,
                                           seriesInstanceUID: h.seriesInstanceUID, frameNumbers: image.frames))
        }
        if evidence.isEmpty, let h = headers.first?.0 {
            evidence.append(SourceInstance(sopClassUID: h.sopClassUID, sopInstanceUID: h.sopInstanceUID, seriesInstanceUID: h.seriesInstanceUID, frameNumbers: []))
        }
        let decision = PatencyDecision(rawValue: record.decision?.rawValue ?? "manual_review") ?? .manualReview
        let algorithm = AlgorithmIdentification(name: Self.algorithmName, version: SoftwareVersion.current,
                                                modelFingerprint: identity.modelFingerprint, adapterFingerprint: identity.adapterFingerprint,
                                                profileName: identity.profileName, profileHash: identity.profileHash,
                                                manufacturer: Self.manufacturer)
        var reasons = record.reasons
        if record.demoModel { reasons.append("demo model trained on synthetic images: no clinical meaning") }
        if record.testModel { reasons.append("test model: decisions meaningless") }
        return PatencyReportInput(source: headers[0].1, evidence: evidence, decision: decision, pBlocked: record.pBlocked,
                                  reasons: reasons, algorithm: algorithm, jobKey: job.key.rawValue, contentDateTime: Date())
    }

    /// The stored result: the triage record (the schema of `dsa-triage triage`) and the SR's delivery.
    func resultJSON(record: TriageRecord, delivery: [String: String]) throws -> String {
        let recordLine = try record.jsonLine()
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let deliveryText = String(decoding: try e.encode(delivery), as: UTF8.self)
        return "{\"record\":\(recordLine),\"structured_report\":\(deliveryText)}"
    }

    private func finishSkipped(_ job: Job, _ reason: String, header: (InstanceHeader, DICOMDataset)? = nil, log: Logger) async -> Outcome {
        if let cases {
            // Counted by monitoring (the share of skipped series); a failure here only costs that count.
            do {
                try await cases.record(cases.notTriaged(job: job, decision: .skipped, reason: reason, header: header?.0, dataset: header?.1))
            } catch {
                log.warning("could not record the skipped case", metadata: ["error": "\(error)"])
            }
        }
        do {
            _ = try await store.skip(id: job.id, reason: reason, now: nil)
            WorkerMetrics.jobFinished("skipped")
            log.info("job skipped", metadata: ["reason": "\(reason)"])
        } catch {
            log.error("could not record the skip (the job will run again)", metadata: ["error": "\(error)"])
        }
        return .skipped(reason)
    }

    private func finishFailed(_ job: Job, _ message: String, log: Logger) async -> Outcome {
        do {
            let after = try await store.fail(id: job.id, owner: settings.owner, error: message, now: nil)
            WorkerMetrics.jobFinished(after.state == .dead ? "dead" : "retrying")
            if after.state == .dead, let cases {
                // A dead letter is a series the worker could not read or deliver: monitoring's unreadable share.
                try? await cases.record(cases.notTriaged(job: job, decision: .unreadable, reason: message, header: nil, dataset: nil))
            }
            log.error(after.state == .dead ? "job failed for the last time: dead letter" : "job failed; will retry",
                      metadata: ["error": "\(message)", "attempts": "\(after.attempts)"])
        } catch {
            log.error("job failed and the failure could not be recorded", metadata: ["error": "\(message)", "store_error": "\(error)"])
        }
        return .failed(message)
    }

    private func jobLogger(_ job: Job) -> Logger {
        var l = logger
        l[metadataKey: "job"] = "\(job.id)"
        l[metadataKey: "series"] = "\(job.series.rawValue.prefix(16))"
        return l
    }

    private func startHeartbeat(_ job: Job, log: Logger) -> Task<Void, Never> {
        let interval = max(0.2, settings.leaseSeconds / 3)
        return Task { [store, settings, state] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
                if Task.isCancelled { return }
                do {
                    _ = try await store.heartbeat(id: job.id, owner: settings.owner, leaseSeconds: settings.leaseSeconds, now: nil)
                } catch JobStoreError.leaseLost {
                    state.markLeaseLost(job.id)
                    return
                } catch {
                    log.warning("heartbeat failed (will retry)", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Runs `work`; nil when shutdown was requested and the grace time passed first (the work keeps running
    /// on its thread, its result unused).
    private func withDeadline(_ job: Job, _ work: @escaping @Sendable () async -> Outcome) async -> Outcome? {
        let once = OnceFlag()
        let grace = settings.shutdownGraceSeconds
        let state = self.state
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome?, Never>) in
            Task {
                let outcome = await work()
                if once.take() { continuation.resume(returning: outcome) }
            }
            Task {
                while !once.isTaken {
                    if let since = state.shutdownSince, Date().timeIntervalSince(since) >= grace {
                        if once.take() { continuation.resume(returning: nil) }
                        return
                    }
                    try? await Task.sleep(nanoseconds: 100_000_000)
                }
            }
        }
    }

    private func sleepUnlessShutdown(_ seconds: Double) async {
        let end = Date().addingTimeInterval(seconds)
        while !state.isShutdown, Date() < end { try? await Task.sleep(nanoseconds: 50_000_000) }
    }
}

/// Shared flags of a runner, behind a lock.
final class RunnerState: @unchecked Sendable {
    private let lock = NSLock()
    private var shutdownAt: Date?
    private var lost = Set<Int64>()

    func shutdown() { lock.withLock { if shutdownAt == nil { shutdownAt = Date() } } }
    var isShutdown: Bool { lock.withLock { shutdownAt != nil } }
    var shutdownSince: Date? { lock.withLock { shutdownAt } }
    func markLeaseLost(_ id: Int64) { lock.withLock { _ = lost.insert(id) } }
    func isLeaseLost(_ id: Int64) -> Bool { lock.withLock { lost.contains(id) } }
}

/// A flag that exactly one caller can take.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = false
    func take() -> Bool { lock.withLock { if taken { return false }; taken = true; return true } }
    var isTaken: Bool { lock.withLock { taken } }
}
