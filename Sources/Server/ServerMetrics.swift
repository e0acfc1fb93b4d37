import Metrics
import Prometheus
import WorkerQueue

/// The listener's metrics. Counters go through swift-metrics (the CLI bootstraps it with swift-prometheus's
/// factory over the same registry, so they appear on /metrics); the queue gauge is set on the registry
/// directly, because /metrics refreshes it from the job store just before each scrape.
///
/// Names: `dsa_triage_ingest_bytes_total{source="stow"}`, `dsa_triage_stow_instances_total{outcome}`
/// (stored, failed), `dsa_triage_stow_requests_total{status}`, and `dsa_triage_queue_jobs{state}` (owned
/// here: nothing else may register it).
struct ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: any MetricsFactory
    private let ingestBytes: Metrics.Counter
    private let storedInstances: Metrics.Counter
    private let failedInstances: Metrics.Counter

    private static var queueJobs: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "dsa_triage", metricName: "queue", unitName: "jobs",
                             helpText: "Jobs in the worker's queue, by state")
    }

    init(registry: PrometheusCollectorRegistry, factory: any MetricsFactory) {
        self.registry = registry
        self.factory = factory
        ingestBytes = Metrics.Counter(label: "dsa_triage_ingest_bytes_total", dimensions: [("source", "stow")], factory: factory)
        storedInstances = Metrics.Counter(label: "dsa_triage_stow_instances_total", dimensions: [("outcome", "stored")], factory: factory)
        failedInstances = Metrics.Counter(label: "dsa_triage_stow_instances_total", dimensions: [("outcome", "failed")], factory: factory)
    }

    /// Bytes of STOW-RS bodies read, counted as they arrive (a body cut short still counts what came).
    func countIngest(bytes: Int) {
        ingestBytes.increment(by: bytes)
    }

    /// One STOW-RS request's result.
    func countStow(status: Int, stored: Int, failed: Int) {
        if stored > 0 { storedInstances.increment(by: stored) }
        if failed > 0 { failedInstances.increment(by: failed) }
        Metrics.Counter(label: "dsa_triage_stow_requests_total", dimensions: [("status", String(status))], factory: factory).increment()
    }

    /// Sets `dsa_triage_queue_jobs{state=…}` for every state (a state absent from `counts` is 0).
    func refreshQueue(_ counts: [JobState: Int]) {
        for state in JobState.allCases {
            registry.makeGauge(descriptor: Self.queueJobs, labels: [("state", state.rawValue)]).set(Int64(counts[state] ?? 0))
        }
    }
}
