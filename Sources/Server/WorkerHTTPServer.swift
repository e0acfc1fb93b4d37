import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import WorkerQueue

/// The PACS worker's HTTP listener: STOW-RS ingest, the job API, /metrics, /healthz and /readyz, behind
/// bearer tokens and optionally TLS, and (with a `ReviewConfiguration`) the reviewers' pages behind sessions. It is a ServiceLifecycle `Service`, so the command runs it in the same
/// ServiceGroup as the worker and it drains on the same shutdown signal.
public struct WorkerHTTPServer: Service {
    /// The Hummingbird application type (exposed for HummingbirdTesting).
    public typealias App = Application<RouterResponder<BasicRequestContext>>

    public let configuration: ServerConfiguration
    /// The application; run it through `run()` or test it with `application.test(…)`.
    public let application: App
    private let listening = ListeningPort()

    /// Builds the routes and, when configured, the TLS context; throws when the configuration is unsafe
    /// (`ServerConfiguration.validate`) or a TLS file cannot be used.
    ///
    /// - Parameters:
    ///   - stowSink: where STOW-RS parts go; nil leaves the `/dicom-web` routes out (404).
    ///   - registry: the Prometheus registry /metrics exposes (the same one the CLI gives swift-metrics).
    ///   - metricsFactory: where the listener's counters go; the CLI's bootstrapped factory by default.
    ///   - review: the reviewers' web pages (/login, /worklist, /cases, /dashboard, /admin); nil leaves them out.
    public init(configuration: ServerConfiguration, jobStore: any JobStore, stowSink: (any StowInstanceSink)?,
                readiness: any ReadinessProbe, registry: PrometheusCollectorRegistry, logger: Logger,
                metricsFactory: any MetricsFactory = MetricsSystem.factory,
                review: ReviewConfiguration? = nil) throws(ServerConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        let reviewRoutes = review.map { ReviewRoutes(review: $0, secureCookies: configuration.usesTLS, logger: logger) }
        let routes = WorkerRoutes(
            configuration: configuration, store: jobStore, sink: stowSink, readiness: readiness,
            metrics: ServerMetrics(registry: registry, factory: metricsFactory), logger: logger, review: reviewRoutes)
        let router = Router(context: BasicRequestContext.self)
        routes.register(on: router)

        let listening = self.listening
        let address = ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port),
                                               serverName: "dsa-triage")
        let onRunning: @Sendable (any Channel) async -> Void = { channel in listening.set(channel.localAddress?.port) }
        if let certificate = configuration.tlsCertificatePath, let key = configuration.tlsPrivateKeyPath {
            let tls = try TLSFiles.serverConfiguration(certificatePath: certificate, privateKeyPath: key)
            do {
                application = Application(router: router, server: try .tls(.http1(configuration: .init(additionalChannelHandlers: [ExpectContinueHandler()])), tlsConfiguration: tls),
                                          configuration: address, onServerRunning: onRunning, logger: logger)
            } catch {
                throw .tlsFile(path: certificate, what: "certificate", reason: "cannot set up TLS (\(error))")
            }
        } else {
            application = Application(router: router, server: .http1(configuration: .init(additionalChannelHandlers: [ExpectContinueHandler()])), configuration: address,
                                      onServerRunning: onRunning, logger: logger)
        }
    }

    /// Serves until the surrounding ServiceGroup shuts down gracefully.
    public func run() async throws {
        try await application.run()
    }

    /// The bound port once listening (the actual one when the configuration asked for port 0), else nil.
    public var listeningPort: Int? { listening.get() }

    /// Waits until the listener is bound and returns its port; nil when `timeout` passes first.
    public func waitUntilListening(timeout: Duration = .seconds(30)) async -> Int? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let port = listening.get() { return port }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return listening.get()
    }
}

/// The port reported by `onServerRunning`, read from any thread.
private final class ListeningPort: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?

    func set(_ value: Int?) {
        lock.lock()
        port = value
        lock.unlock()
    }

    func get() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        return port
    }
}
