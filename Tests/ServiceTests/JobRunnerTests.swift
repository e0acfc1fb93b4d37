import Foundation
import Logging
@testable import Service
import TestSupport
import Triage
import WorkerQueue
import XCTest

/// The job runner with the shipped demo model on the sample runs: XA series are triaged to their
/// generator labels with an SR made, a child's series and a CT are skipped with their reasons before any
/// model work, and a missing spool file is a failed attempt, not a crash.
final class JobRunnerTests: XCTestCase {
    private static let pipeline: TriagePipeline? = try? TriageRequest(
        model: TestPaths.packageRoot.appendingPathComponent("models/demo").path).pipeline()

    private var dir: URL!
    override func setUpWithError() throws { dir = try ServiceFixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testRunnerTriagesSkipsAndFails() async throws {
        let pipeline = try XCTUnwrap(Self.pipeline, "the demo model loads")
        let identity = WorkerIdentity(modelFingerprint: pipeline.modelFingerprint, adapterFingerprint: pipeline.adapterFingerprint,
                                      profileName: pipeline.profile.name, profileHash: try pipeline.profile.contentHash())
        let spool = try Spool(root: dir.appendingPathComponent("spool"))
        let store = try SQLiteJobStore(path: dir.appendingPathComponent("q.sqlite").path,
                                       retryPolicy: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.01))
        let logger = Logger(label: "test")
        let settler = SpoolSettler(spool: spool, store: store, identity: identity, settleSeconds: 0, maxSettleSeconds: 0,
                                   retentionSeconds: 3600, logger: logger)
        func add(_ sample: String, _ args: [String]) throws -> SeriesKey {
            let url = dir.appendingPathComponent(UUID().uuidString + ".dcm")
            try ServiceFixtures.sample(sample, to: url, dcmodify: args)
            guard case .stored(_, let series, _) = spool.accept(file: url, studyInstanceUID: nil) else { throw XCTSkip("not stored") }
            return series
        }
        let blocked = try add("case_0001_subtracted.dcm", ["-i", "(0010,0030)=19500101"])
        let patent = try add("case_0003_subtracted.dcm", [])
        let child = try add("case_0002_subtracted.dcm", ["-gse", "-gin", "-i", "(0010,1010)=009Y"])
        let ct = try add("case_0004_native.dcm", ["-gse", "-gin", "-m", "(0008,0016)=1.2.840.10008.5.1.4.1.1.2", "-m", "(0008,0060)=CT"])
        let r = await settler.sweep(now: Date())
        XCTAssertEqual(r.enqueued, 4)

        let runner = JobRunner(store: store, spool: spool, pipeline: pipeline, identity: identity, destination: .none, orthanc: nil,
                               settings: .init(owner: "test-worker", leaseSeconds: 60), logger: logger)
        var runs = 0
        while try await runner.runOnce() { runs += 1 }
        XCTAssertEqual(runs, 4)

        func result(_ s: SeriesKey) throws -> [String: Any] {
            let job = try XCTUnwrap(try store.currentJob(series: s))
            XCTAssertEqual(job.state, .done, "\(job.lastError ?? "")")
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((job.result ?? "").utf8)) as? [String: Any])
        }
        let b = try result(blocked)
        let br = try XCTUnwrap(b["record"] as? [String: Any])
        XCTAssertEqual(br["decision"] as? String, "blocked", "labels.csv: case 1 is blocked")
        XCTAssertNil(br["patient_age_unknown"], "a birth date was given")
        XCTAssertNotNil((b["structured_report"] as? [String: Any])?["sop_instance_uid_hash"])
        let pr = try XCTUnwrap(try result(patent)["record"] as? [String: Any])
        XCTAssertEqual(pr["decision"] as? String, "patent", "labels.csv: case 3 is patent")
        XCTAssertEqual(pr["patient_age_unknown"] as? Bool, true, "the sample has no age: flagged")
        XCTAssertTrue(((pr["reasons"] as? [String]) ?? []).contains { $0.contains("patient age unknown") })

        let childJob = try XCTUnwrap(try store.currentJob(series: child))
        XCTAssertEqual(childJob.state, .skipped)
        XCTAssertEqual(childJob.skipReason, "pediatric: not validated")
        let ctJob = try XCTUnwrap(try store.currentJob(series: ct))
        XCTAssertEqual(ctJob.state, .skipped)
        XCTAssertTrue(ctJob.skipReason?.contains("out-of-scope modality") == true, ctJob.skipReason ?? "")

        // A job whose files vanished fails (retried, then dead) without a crash.
        let gone = try add("case_0004_subtracted.dcm", ["-gse", "-gin"])
        _ = await settler.sweep(now: Date())
        try FileManager.default.removeItem(at: spool.folder(for: gone))
        let ran1 = try await runner.runOnce()
        try await Task.sleep(nanoseconds: 50_000_000)
        let ran2 = try await runner.runOnce()
        XCTAssertTrue(ran1 && ran2)
        let dead = try XCTUnwrap(try store.currentJob(series: gone))
        XCTAssertEqual(dead.state, .dead)
        XCTAssertTrue(dead.lastError?.contains("spool file(s) missing") == true, dead.lastError ?? "")

        // After shutdown is requested no job is taken.
        _ = try add("case_0002_native.dcm", ["-gse", "-gin"])
        _ = await settler.sweep(now: Date())
        runner.requestShutdown()
        let took = try await runner.runOnce()
        XCTAssertFalse(took)
        XCTAssertEqual(try store.counts()[.pending], 1)
    }
}
