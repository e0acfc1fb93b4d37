import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import Monitoring
import NIOCore
import ServiceLifecycle
import WorkerQueue

/// Continuous monitoring inside the worker: every `intervalSeconds` it reads the cases and verdicts of the
/// monitored span from the database, evaluates them (`Monitor.evaluate`), opens an alert for each condition
/// that holds (posting new ones to the webhook as JSON), resolves stored alerts whose condition cleared,
/// exports the headline figures as Prometheus gauges, and keeps the latest report for the dashboard.
public final class AlertMonitor: Service, Sendable {
    public let store: any ReviewStore
    public let configuration: MonitoringConfiguration
    public let reference: ReferenceDistribution?
    public let intervalSeconds: Double
    /// Where new alerts are posted (JSON); nil posts nothing.
    public let webhook: String?
    /// The site name sent with webhook payloads.
    public let site: String?
    let http: HTTPClient?
    let logger: Logger
    private let gate = EvaluationGate()

    public init(store: any ReviewStore, configuration: MonitoringConfiguration = MonitoringConfiguration(),
                reference: ReferenceDistribution?, intervalSeconds: Double, webhook: String?, site: String?,
                http: HTTPClient?, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.reference = reference
        self.intervalSeconds = intervalSeconds
        self.webhook = webhook
        self.site = site
        self.http = http
        self.logger = logger
    }

    /// The span read each time: the longest of the windows and the weekly charts.
    var historySeconds: Double {
        Double(max(configuration.windowDays.max() ?? 90, configuration.weeks * 7, configuration.alertWindowDays)) * 86_400
    }

    /// The last report made (nil before the first evaluation).
    public func latestReport() async -> MonitoringReport? { await gate.latest() }

    /// How old the dashboard lets a report get before it asks for a fresh one: with the loop on, past the
    /// loop's next evaluation (so it is the loop that refreshes); with the loop off, a minute.
    public var dashboardMaximumAgeSeconds: Double { intervalSeconds > 0 ? 2 * intervalSeconds + 60 : 60 }

    /// The report the dashboard shows, never waiting on an evaluation once one exists: the latest report if
    /// it is younger than `dashboardMaximumAgeSeconds`; an older one is still returned at once while a single
    /// evaluation refreshes it in the background (stale-while-revalidate). Only before the first report does
    /// a caller wait, and then on the evaluation already running (the loop's first, or another caller's)
    /// rather than starting its own.
    public func dashboardReport(now: Date = Date()) async throws -> MonitoringReport {
        if let r = await gate.latest() {
            if now.timeIntervalSince(r.now) >= dashboardMaximumAgeSeconds {
                await gate.refreshInBackground { [self] in try await evaluateOnce(now: now) }
            }
            return r
        }
        return try await gate.run { [self] in try await evaluateOnce(now: now) }
    }

    /// One evaluation and alert synchronisation as of `now`; returns the report with the stored alerts joined.
    /// Evaluations never overlap: a call while one runs waits for it and gets its report (so two callers
    /// never raise the same alert twice, and a burst of requests costs one evaluation).
    @discardableResult
    public func evaluate(now: Date = Date()) async throws -> MonitoringReport {
        try await gate.run { [self] in try await evaluateOnce(now: now) }
    }

    private func evaluateOnce(now: Date) async throws -> MonitoringReport {
        let since = now.addingTimeInterval(-historySeconds)
        let cases = try await store.cases(from: since, to: nil)
        let verdicts = try await store.verdicts(from: since, to: nil)
        var report = try Monitor.evaluate(cases: cases, verdicts: verdicts, reference: reference, configuration: configuration,
                                          now: now, since: since)
        let active = Set(report.conditions.map { "\($0.kind)\u{1}\($0.group)" })
        for condition in report.conditions {
            let (alert, isNew) = try await store.raiseAlert(kind: condition.kind, scope: condition.group, message: condition.message,
                                                            value: condition.value, limit: condition.limit, now: now)
            if isNew {
                logger.warning("monitoring alert opened", metadata: ["kind": "\(alert.kind)", "group": "\(alert.scope)",
                                                                      "value": "\(alert.value)", "limit": "\(alert.limit)"])
                try? await store.appendAudit(actor: "system", action: "alert_opened", caseJobID: nil,
                                             detail: "\(alert.kind) \(alert.scope): \(alert.message)", now: now)
                await post(alert)
            }
        }
        for stored in try await store.alerts(states: [.open, .acknowledged], limit: 10_000)
        where !active.contains("\(stored.kind)\u{1}\(stored.scope)") {
            if try await store.resolveAlert(kind: stored.kind, scope: stored.scope, now: now) != nil {
                logger.notice("monitoring alert resolved", metadata: ["kind": "\(stored.kind)", "group": "\(stored.scope)"])
            }
        }
        let stored = try await store.alerts(states: Set(AlertRecord.State.allCases), limit: 10_000)
        report.alerts = AlertRules.join(report.conditions, stored: stored, now: now)
        export(report, openAlerts: stored.filter { $0.state != .resolved }.count)
        return report
    }

    /// The webhook payload of a new alert: what fired, where, the figure and its limit; no identifiers.
    func payload(_ alert: AlertRecord) -> Data {
        var object: [String: Any] = ["event": "alert_opened", "kind": alert.kind, "group": alert.scope, "message": alert.message,
                                     "value": alert.value, "limit": alert.limit, "state": alert.state.rawValue,
                                     "opened": ISO8601DateFormatter().string(from: alert.openedAt), "id": alert.id]
        if let site { object["site"] = site }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    private func post(_ alert: AlertRecord) async {
        guard let webhook, let http else { return }
        var request = HTTPClientRequest(url: webhook)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: payload(alert)))
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            if !(200..<300).contains(Int(response.status.code)) {
                logger.warning("alert webhook refused the alert", metadata: ["status": "\(response.status.code)"])
            }
        } catch {
            logger.warning("alert webhook unreachable", metadata: ["error": "\(error)"])
        }
    }

    private func export(_ report: MonitoringReport, openAlerts: Int) {
        Gauge(label: "dsa_triage_monitor_open_alerts").record(openAlerts)
        guard let window = report.windowOrder.first, let overall = report.windows[window]?.groups["overall"] else { return }
        let dims = [("window", window)]
        func gauge(_ name: String, _ value: Double?) {
            if let value { Gauge(label: "dsa_triage_monitor_\(name)", dimensions: dims).record(value) }
        }
        gauge("sensitivity", overall.sensitivity.value)
        gauge("specificity", overall.specificity.value)
        gauge("weighted_sensitivity", overall.weighted.sensitivity.value)
        gauge("weighted_specificity", overall.weighted.specificity.value)
        gauge("review_rate", overall.reviewRate.value)
        gauge("psi_p_blocked", overall.psi)
        gauge("sensitivity_ci_high", overall.sensitivity.ci?.last)
    }

    public func run() async throws {
        await runPeriodically(every: intervalSeconds) {
            do { try await evaluate() } catch {
                logger.error("monitoring evaluation failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// The latest monitoring report, shared with the dashboard, and the one evaluation in flight: callers that
/// arrive while it runs await the same task instead of starting another.
actor EvaluationGate {
    private var report: MonitoringReport?
    private var inFlight: Task<MonitoringReport, any Error>?

    func latest() -> MonitoringReport? { report }

    /// Runs `evaluate` unless an evaluation is already running, in which case it waits for that one.
    func run(_ evaluate: @escaping @Sendable () async throws -> MonitoringReport) async throws -> MonitoringReport {
        if let running = inFlight { return try await running.value }
        let task = Task { try await evaluate() }
        inFlight = task
        defer { inFlight = nil }
        let made = try await task.value
        keep(made)
        return made
    }

    /// Shows `made` unless the report shown is as of a later time (an earlier one never replaces it).
    private func keep(_ made: MonitoringReport) {
        if report.map({ $0.now <= made.now }) ?? true { report = made }
    }

    /// Starts an evaluation without waiting for it, unless one is running; a failure keeps the old report.
    func refreshInBackground(_ evaluate: @escaping @Sendable () async throws -> MonitoringReport) {
        guard inFlight == nil else { return }
        let task = Task { try await evaluate() }
        inFlight = task
        Task { await self.finish(task) }
    }

    private func finish(_ task: Task<MonitoringReport, any Error>) async {
        let made = try? await task.value
        if inFlight == task { inFlight = nil }
        if let made { keep(made) }
    }
}

/// Runs `body`, then waits `seconds` (in short steps, so graceful shutdown ends the wait at once), until the
/// service group shuts down gracefully: the loop of the worker's periodic services.
func runPeriodically(every seconds: Double, _ body: () async -> Void) async {
    let stopped = StopFlag()
    await withGracefulShutdownHandler {
        while !stopped.isSet {
            await body()
            var waited = 0.0
            while waited < seconds && !stopped.isSet {
                try? await Task.sleep(nanoseconds: 200_000_000)
                waited += 0.2
            }
        }
    } onGracefulShutdown: {
        stopped.set()
    }
}

/// A flag set once, read from any thread.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
