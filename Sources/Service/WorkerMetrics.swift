import Metrics

/// The worker's metrics, through swift-metrics (the CLI bootstraps the Prometheus factory). Names carry
/// the `dsa_triage_` prefix; labels hold outcomes, never identifiers.
public enum WorkerMetrics {
    public static func jobFinished(_ outcome: String) {
        Counter(label: "dsa_triage_jobs_total", dimensions: [("outcome", outcome)]).increment()
    }

    public static func decision(_ label: String) {
        Counter(label: "dsa_triage_decisions_total", dimensions: [("decision", label)]).increment()
    }

    public static func ingested(bytes: Int64, source: String) {
        Counter(label: "dsa_triage_ingest_bytes_total", dimensions: [("source", source)]).increment(by: Int(bytes))
        Counter(label: "dsa_triage_ingest_instances_total", dimensions: [("source", source)]).increment()
    }

    public static func srSent(_ ok: Bool) {
        Counter(label: "dsa_triage_sr_sent_total", dimensions: [("result", ok ? "ok" : "failed")]).increment()
    }

    public static func downloadSeconds(_ s: Double) { Timer(label: "dsa_triage_download_seconds").recordSeconds(s) }
    public static func modelSeconds(_ s: Double) { Timer(label: "dsa_triage_model_seconds").recordSeconds(s) }
    public static func endToEndSeconds(_ s: Double) { Timer(label: "dsa_triage_end_to_end_seconds").recordSeconds(s) }
}
