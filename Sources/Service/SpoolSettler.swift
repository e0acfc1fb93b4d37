import DICOM
import Foundation
import Logging
import WorkerQueue

/// Turns the spool's series folders into jobs. A series becomes a job when it has been quiet for the
/// settle time *and* looks complete: every file reads as DICOM of that series, instance numbers do not
/// repeat, and as many instances arrived as the header announces (ImagesInAcquisition) — or the longest
/// wait has passed, and then the job is made anyway and the log says so. Instances that arrive after a job
/// was made change the instance set, hence the key: the next sweep makes a new version, which supersedes
/// the earlier one.
public final class SpoolSettler: @unchecked Sendable {
    public let spool: Spool
    public let store: any JobStore
    public let identity: WorkerIdentity
    public var settleSeconds: Double
    public var maxSettleSeconds: Double
    public var retentionSeconds: Double
    private let logger: Logger
    private let lock = NSLock()
    /// Headers read before, by file name and modification time (a sweep re-reads only what changed).
    private var headerCache: [String: (Date, InstanceHeader)] = [:]
    /// The key each series was last enqueued under (the store answers duplicates too; this spares the query).
    private var enqueued: [SeriesKey: JobKey] = [:]

    public init(spool: Spool, store: any JobStore, identity: WorkerIdentity, settleSeconds: Double,
                maxSettleSeconds: Double, retentionSeconds: Double, logger: Logger) {
        self.spool = spool
        self.store = store
        self.identity = identity
        self.settleSeconds = settleSeconds
        self.maxSettleSeconds = max(maxSettleSeconds, settleSeconds)
        self.retentionSeconds = retentionSeconds
        self.logger = logger
    }

    /// What one sweep did.
    public struct SweepResult: Sendable, Equatable {
        public var enqueued = 0
        public var waiting = 0
        public var removed = 0
    }

    /// One pass over the spool.
    @discardableResult
    public func sweep(now: Date = Date()) async -> SweepResult {
        var result = SweepResult()
        for (series, files, newest) in spool.seriesFolders() {
            let quiet = now.timeIntervalSince(newest)
            if files.isEmpty {
                if quiet > retentionSeconds { try? FileManager.default.removeItem(at: spool.folder(for: series)) }
                continue
            }
            guard quiet >= settleSeconds else { result.waiting += 1; continue }
            guard let set = readSet(series: series, files: files) else { result.waiting += 1; continue }
            if let expected = set.expected, set.headers.count < expected, quiet < maxSettleSeconds {
                result.waiting += 1
                continue
            }
            let key = identity.jobKey(series: series, instances: set.headers.map { ($0.sopInstanceUID, $0.numberOfFrames) })
            if lockedEnqueued(series) != key {
                if let expected = set.expected, set.headers.count < expected {
                    logger.warning("series incomplete after the longest wait; triaging what arrived",
                                   metadata: ["series": "\(series.rawValue.prefix(16))", "instances": "\(set.headers.count)",
                                              "expected": "\(expected)"])
                }
                let payload = JobPayload(source: .spool, seriesFolder: "series/" + series.rawValue,
                                         files: files.map(\.lastPathComponent), instanceCount: set.headers.count,
                                         frameCount: set.headers.reduce(0) { $0 + $1.numberOfFrames },
                                         lastArrival: newest.timeIntervalSince1970)
                do {
                    let outcome = try await store.enqueue(key: key, series: series, payload: payload.json(), now: now)
                    setEnqueued(series, key)
                    if case .created(let id) = outcome {
                        result.enqueued += 1
                        logger.info("series settled: job queued", metadata: [
                            "job": "\(id)", "series": "\(series.rawValue.prefix(16))", "instances": "\(set.headers.count)",
                            "frames": "\(payload.frameCount)", "source": "spool"])
                    }
                } catch {
                    logger.error("could not queue a settled series (will retry)", metadata: ["series": "\(series.rawValue.prefix(16))", "error": "\(error)"])
                }
                continue
            }
            // Already queued with this instance set: drop the folder once its job is over and retention passed.
            if quiet > retentionSeconds, let job = try? await store.currentJob(series: series), job.key == key, job.state.isTerminal {
                try? FileManager.default.removeItem(at: spool.folder(for: series))
                lock.withLock { _ = enqueued.removeValue(forKey: series) }
                result.removed += 1
            }
        }
        return result
    }

    private func lockedEnqueued(_ s: SeriesKey) -> JobKey? { lock.withLock { enqueued[s] } }
    private func setEnqueued(_ s: SeriesKey, _ k: JobKey) { lock.withLock { enqueued[s] = k } }

    /// The headers of a series' files, or nil when one cannot be read yet (it is moved aside and logged).
    private func readSet(series: SeriesKey, files: [URL]) -> (headers: [InstanceHeader], expected: Int?)? {
        var headers: [InstanceHeader] = []
        var numbers = Set<Int>()
        for file in files {
            let mtime = (try? file.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
            let cached = lock.withLock { headerCache[file.path] }
            let header: InstanceHeader
            if let cached, cached.0 == mtime {
                header = cached.1
            } else {
                do {
                    (header, _) = try InstanceHeader.read(file)
                } catch {
                    // Validated on arrival, so this is damage after the fact: keep it for the operator, go on.
                    logger.error("spool file unreadable; moved to rejected/", metadata: ["series": "\(series.rawValue.prefix(16))", "error": "\(error.message)"])
                    try? FileManager.default.moveItem(at: file, to: spool.rejected.appendingPathComponent("\(UUID().uuidString.prefix(8))-\(file.lastPathComponent)"))
                    return nil
                }
                lock.withLock { headerCache[file.path] = (mtime, header) }
            }
            if let n = header.instanceNumber, !numbers.insert(n).inserted {
                logger.notice("two instances share an instance number", metadata: ["series": "\(series.rawValue.prefix(16))", "instance_number": "\(n)"])
            }
            headers.append(header)
        }
        let expected = headers.compactMap(\.expectedInstances).max()
        return (headers, expected)
    }
}
