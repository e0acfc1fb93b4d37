import Foundation
import Logging
import ServiceLifecycle
import WorkerQueue

/// The worker's background work as one ServiceLifecycle service: the job runner, and the ingest loop
/// (inbox, spool settling, Orthanc's change feed and its periodic sweep). On SIGTERM/SIGINT the ingest
/// loop stops and the runner takes no new job; the job in progress finishes or, after the grace time, is
/// given back to the queue.
public final class PACSWorker: Service, @unchecked Sendable {
    public let runner: JobRunner
    public let settler: SpoolSettler
    public let inbox: InboxSource?
    public let orthanc: OrthancSource?
    public var pollSeconds: Double
    public var sweepSeconds: Double
    private let logger: Logger
    private let stopped = RunnerState()

    public init(runner: JobRunner, settler: SpoolSettler, inbox: InboxSource?, orthanc: OrthancSource?,
                pollSeconds: Double, sweepSeconds: Double, logger: Logger) {
        self.runner = runner
        self.settler = settler
        self.inbox = inbox
        self.orthanc = orthanc
        self.pollSeconds = pollSeconds
        self.sweepSeconds = sweepSeconds
        self.logger = logger
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.runner.run() }
                group.addTask { await self.ingestLoop() }
            }
        } onGracefulShutdown: {
            self.logger.notice("shutdown requested: no new jobs; the job in progress finishes or is given back")
            self.stopped.shutdown()
            self.runner.requestShutdown()
        }
        logger.notice("worker stopped")
    }

    /// Stops the loops (as a signal would).
    public func stop() {
        stopped.shutdown()
        runner.requestShutdown()
    }

    private func ingestLoop() async {
        var lastSweep = Date.distantPast
        var orthancDown = false
        while !stopped.isShutdown {
            inbox?.poll()
            await settler.sweep()
            if let orthanc {
                do {
                    try await orthanc.poll()
                    if Date().timeIntervalSince(lastSweep) >= sweepSeconds {
                        lastSweep = Date()
                        try await orthanc.sweep()
                    }
                    if orthancDown { logger.notice("Orthanc reachable again"); orthancDown = false }
                } catch {
                    // One line when it goes down, not one per poll.
                    if !orthancDown { logger.error("Orthanc source failing (will keep trying)", metadata: ["error": "\(error)"]) }
                    orthancDown = true
                }
            }
            let end = Date().addingTimeInterval(pollSeconds)
            while !stopped.isShutdown, Date() < end { try? await Task.sleep(nanoseconds: 50_000_000) }
        }
    }
}
