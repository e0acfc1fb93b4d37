import Foundation
import Logging
import WorkerQueue

/// Follows an Orthanc's change feed. `StableSeries` (Orthanc's "quiet for StableAge seconds", which is not
/// "complete" and can come twice) makes a candidate; a candidate becomes a job once it has waited the settle
/// time too and Orthanc does not report instances missing (or the longest wait has passed). The change
/// cursor is written in the same transaction as the jobs it produced, and it never moves past a candidate
/// still waiting, so a killed worker re-reads exactly the changes whose jobs it had not written. A second
/// `StableSeries` for the same instance set is the same job key — one job. A periodic sweep over every
/// stable series catches what the feed missed (a cursor reset, a feed that Orthanc trimmed).
///
/// The worker's own SRs come back through the feed: series whose Modality is SR and whose manufacturer is
/// this worker's are ignored, so a result never triggers a job (no export loop).
public final class OrthancSource: @unchecked Sendable {
    public let client: OrthancClient
    public let store: any JobStore
    public let identity: WorkerIdentity
    public var settleSeconds: Double
    public var maxSettleSeconds: Double
    /// The Manufacturer written into this worker's SRs.
    public var ownManufacturer: String
    public static let cursorName = "orthanc.changes"
    private let logger: Logger
    private let lock = NSLock()
    /// Orthanc series id → (the change's sequence number, when it was first seen stable).
    private var candidates: [String: (seq: Int64, seen: Date)] = [:]
    /// Orthanc series id → instance count already queued (spares the sweep a query per series).
    private var queued: [String: Int] = [:]

    public init(client: OrthancClient, store: any JobStore, identity: WorkerIdentity, settleSeconds: Double,
                maxSettleSeconds: Double, ownManufacturer: String, logger: Logger) {
        self.client = client
        self.store = store
        self.identity = identity
        self.settleSeconds = settleSeconds
        self.maxSettleSeconds = max(maxSettleSeconds, settleSeconds)
        self.ownManufacturer = ownManufacturer
        self.logger = logger
    }

    /// Reads the feed from the stored cursor, queues the candidates that are ready, writes the cursor with
    /// them. Returns the number of jobs created.
    @discardableResult
    public func poll(now: Date = Date()) async throws -> Int {
        let stored = try await store.cursor(name: Self.cursorName).flatMap { Int64($0) } ?? 0
        var since = max(stored, lock.withLock { readUpTo })
        // Read what is new (bounded per poll), remembering stable series.
        for _ in 0..<20 {
            let page = try await client.changes(since: since, limit: 200)
            for change in page.changes where change.changeType == "StableSeries" {
                lock.withLock {
                    if candidates[change.resourceID] == nil { candidates[change.resourceID] = (change.seq, now) }
                }
            }
            since = max(since, page.last)
            if page.done { break }
        }
        lock.withLock { readUpTo = since }
        // Queue the ready candidates; those still waiting hold the cursor back.
        var items: [EnqueueItem] = []
        var finished: [String] = []
        var created = 0
        for (id, candidate) in lock.withLock({ candidates }) where now.timeIntervalSince(candidate.seen) >= settleSeconds {
            switch try await item(forSeries: id, waited: now.timeIntervalSince(candidate.seen)) {
            case .wait: continue
            case .ignore: finished.append(id)
            case .job(let item, let count):
                items.append(item)
                finished.append(id)
                lock.withLock { queued[id] = count }
            }
        }
        let waitingSeq = lock.withLock { candidates.filter { !finished.contains($0.key) }.map(\.value.seq).min() }
        let cursor = waitingSeq.map { $0 - 1 } ?? since
        if !items.isEmpty || cursor != stored {
            let outcomes = try await store.enqueueBatch(items, cursor: (Self.cursorName, String(cursor)), now: now)
            for (item, outcome) in zip(items, outcomes) {
                if case .created(let id) = outcome {
                    created += 1
                    logger.info("series stable in Orthanc: job queued", metadata: ["job": "\(id)", "series": "\(item.series.rawValue.prefix(16))", "source": "orthanc"])
                }
            }
        }
        lock.withLock { for id in finished { candidates[id] = nil } }
        return created
    }

    private var readUpTo: Int64 = 0

    enum Decision { case wait, ignore, job(EnqueueItem, Int) }

    /// The job for an Orthanc series, or why not yet / not at all.
    func item(forSeries id: String, waited: Double) async throws -> Decision {
        guard let series = try await client.series(id) else { return .ignore }  // deleted meanwhile
        if series.modality == "SR", series.manufacturer == ownManufacturer { return .ignore }
        if series.status == "Missing", waited < maxSettleSeconds { return .wait }
        let instances = try await client.instances(ofSeries: id)
        guard !instances.isEmpty, let seriesUID = series.seriesInstanceUID else { return .ignore }
        let key = SeriesKey.hashing(uid: seriesUID)
        let payload = JobPayload(source: .orthanc, orthancSeries: id, orthancInstances: instances.map(\.id),
                                 instanceCount: instances.count, frameCount: instances.reduce(0) { $0 + $1.frames },
                                 lastArrival: nil)
        let jobKey = identity.jobKey(series: key, instances: instances.map { ($0.sopInstanceUID, $0.frames) })
        return .job(EnqueueItem(key: jobKey, series: key, payload: payload.json()), instances.count)
    }

    /// Every stable series Orthanc has, queued when not queued already with the same instance count.
    @discardableResult
    public func sweep(now: Date = Date(), pageSize: Int = 200) async throws -> Int {
        var created = 0
        var offset = 0
        while true {
            let page = try await client.listSeries(since: offset, limit: pageSize)
            for series in page where series.isStable {
                if lock.withLock({ queued[series.id] }) == series.instances.count { continue }
                if case .job(let item, let count) = try await item(forSeries: series.id, waited: .infinity) {
                    let outcome = try await store.enqueue(key: item.key, series: item.series, payload: item.payload, now: now)
                    lock.withLock { queued[series.id] = count }
                    if case .created(let id) = outcome {
                        created += 1
                        logger.info("sweep found a stable series without a job: queued", metadata: ["job": "\(id)", "series": "\(item.series.rawValue.prefix(16))"])
                    }
                }
            }
            if page.count < pageSize { break }
            offset += pageSize
        }
        return created
    }
}
