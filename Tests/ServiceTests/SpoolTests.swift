import DICOM
import Foundation
import Logging
@testable import Service
import TestSupport
import WorkerQueue
import XCTest

/// The spool takes valid DICOM only, files it by hashed series, and the settler turns quiet, complete
/// series into one job each — a new job version when an instance arrives late.
final class SpoolTests: XCTestCase {
    private var dir: URL!
    private let logger = Logger(label: "test")
    private let identity = WorkerIdentity(modelFingerprint: "sha256:model", adapterFingerprint: nil, profileName: "p", profileHash: "h")

    override func setUpWithError() throws { dir = try ServiceFixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func staged(_ sample: String, _ args: [String] = []) throws -> URL {
        let url = dir.appendingPathComponent("in-\(UUID().uuidString).dcm")
        try ServiceFixtures.sample(sample, to: url, dcmodify: args)
        return url
    }

    func testAcceptFilesByHashedSeriesAndRejectsWithReasonCodes() throws {
        let spool = try Spool(root: dir.appendingPathComponent("spool"))
        let good = try staged("case_0001_subtracted.dcm")
        let bytes = try Data(contentsOf: good)
        let seriesUID = try XCTUnwrap(ServiceFixtures.header(good, DICOMTag(0x0020, 0x000E)))
        guard case .stored(let header, let series, let size) = spool.accept(file: good, studyInstanceUID: nil) else {
            return XCTFail("a valid instance is stored")
        }
        XCTAssertEqual(series, SeriesKey.hashing(uid: seriesUID))
        XCTAssertEqual(size, Int64(bytes.count))
        let stored = spool.folder(for: series).appendingPathComponent(Spool.fileName(sopInstanceUID: header.sopInstanceUID))
        XCTAssertEqual(try Data(contentsOf: stored), bytes, "byte-identical in the spool")
        XCTAssertFalse(FileManager.default.fileExists(atPath: good.path), "the staged file is consumed")
        XCTAssertFalse(stored.path.contains(seriesUID), "no UID in spool paths")

        let text = dir.appendingPathComponent("note.txt")
        try Data("not dicom".utf8).write(to: text)
        guard case .failed(_, _, let reason, _) = spool.accept(file: text, studyInstanceUID: nil) else { return XCTFail() }
        XCTAssertEqual(reason, 0xC000)

        let truncated = try staged("case_0003_subtracted.dcm")
        let whole = try Data(contentsOf: truncated)
        try whole.prefix(400).write(to: truncated)
        guard case .failed(_, _, let r2, _) = spool.accept(file: truncated, studyInstanceUID: nil) else { return XCTFail() }
        XCTAssertEqual(r2, 0xC000)

        let other = try staged("case_0002_native.dcm")
        guard case .failed(let cls, let sop, let r3, let message) = spool.accept(file: other, studyInstanceUID: "1.2.3.4") else { return XCTFail() }
        XCTAssertEqual(r3, 0xA900)
        XCTAssertNotNil(cls)
        XCTAssertNotNil(sop)
        XCTAssertTrue(message.contains("another study"), message)
        XCTAssertEqual(spool.seriesFolders().count, 1)
    }

    func testSettlerWaitsThenQueuesOnceAndMakesAVersionForALateInstance() async throws {
        let spool = try Spool(root: dir.appendingPathComponent("spool"))
        let store = try SQLiteJobStore(path: dir.appendingPathComponent("q.sqlite").path)
        let settler = SpoolSettler(spool: spool, store: store, identity: identity, settleSeconds: 5, maxSettleSeconds: 60,
                                   retentionSeconds: 3600, logger: logger)
        let first = try staged("case_0001_subtracted.dcm")
        guard case .stored(_, let series, _) = spool.accept(file: first, studyInstanceUID: nil) else { return XCTFail() }
        var r = await settler.sweep(now: Date())
        XCTAssertEqual(r.enqueued, 0)
        XCTAssertEqual(r.waiting, 1, "not quiet long enough")
        r = await settler.sweep(now: Date().addingTimeInterval(10))
        XCTAssertEqual(r.enqueued, 1)
        r = await settler.sweep(now: Date().addingTimeInterval(20))
        XCTAssertEqual(r.enqueued, 0, "the same instance set is queued once")
        let v1 = try XCTUnwrap(try store.currentJob(series: series))
        XCTAssertEqual(v1.version, 1)
        let payload = try JobPayload.parse(v1.payload)
        XCTAssertEqual(payload.instanceCount, 1)
        XCTAssertEqual(payload.frameCount, 8)

        // A late instance of the same series (same series UID, a new SOP instance).
        let seriesUID = try XCTUnwrap(ServiceFixtures.header(spool.folder(for: series).appendingPathComponent(payload.files![0]), DICOMTag(0x0020, 0x000E)))
        let late = try staged("case_0003_subtracted.dcm", ["-gin", "-i", "(0020,000E)=\(seriesUID)", "-i", "(0020,0013)=2"])
        guard case .stored(_, let sameSeries, _) = spool.accept(file: late, studyInstanceUID: nil) else { return XCTFail() }
        XCTAssertEqual(sameSeries, series)
        r = await settler.sweep(now: Date().addingTimeInterval(30))
        XCTAssertEqual(r.enqueued, 1)
        let v2 = try XCTUnwrap(try store.currentJob(series: series))
        XCTAssertEqual(v2.version, 2)
        XCTAssertEqual(try JobPayload.parse(v2.payload).instanceCount, 2)
        XCTAssertEqual(try store.job(id: v1.id)?.state, .superseded)

        // A fresh settler (a restarted worker) queues nothing new for the same files.
        let again = SpoolSettler(spool: spool, store: store, identity: identity, settleSeconds: 5, maxSettleSeconds: 60,
                                 retentionSeconds: 3600, logger: logger)
        r = await again.sweep(now: Date().addingTimeInterval(40))
        XCTAssertEqual(r.enqueued, 0)
        XCTAssertEqual(try store.counts()[.pending], 1)
    }

    func testAnnouncedInstancesAreAwaitedUpToTheLongestWait() async throws {
        let spool = try Spool(root: dir.appendingPathComponent("spool"))
        let store = try SQLiteJobStore(path: dir.appendingPathComponent("q.sqlite").path)
        let settler = SpoolSettler(spool: spool, store: store, identity: identity, settleSeconds: 1, maxSettleSeconds: 100,
                                   retentionSeconds: 3600, logger: logger)
        let file = try staged("case_0001_subtracted.dcm", ["-i", "(0020,1002)=3"])
        guard case .stored = spool.accept(file: file, studyInstanceUID: nil) else { return XCTFail() }
        var r = await settler.sweep(now: Date().addingTimeInterval(10))
        XCTAssertEqual(r.enqueued, 0, "1 of 3 announced instances: wait")
        r = await settler.sweep(now: Date().addingTimeInterval(200))
        XCTAssertEqual(r.enqueued, 1, "after the longest wait, what arrived is triaged")
    }

    func testInboxTakesSettledFilesAndKeepsRejectsAside() throws {
        let spool = try Spool(root: dir.appendingPathComponent("spool"))
        let inboxDir = dir.appendingPathComponent("inbox")
        let inbox = try InboxSource(folder: inboxDir, spool: spool, quietSeconds: 0, logger: logger)
        try FileManager.default.createDirectory(at: inboxDir.appendingPathComponent("study"), withIntermediateDirectories: true)
        try ServiceFixtures.sample("case_0001_native.dcm", to: inboxDir.appendingPathComponent("study/XA.1.2.3"))
        try Data("garbage".utf8).write(to: inboxDir.appendingPathComponent("junk.bin"))
        var r = inbox.poll(now: Date().addingTimeInterval(5))
        XCTAssertEqual(r.stored + r.rejected, 0, "first look only notes the files")
        r = inbox.poll(now: Date().addingTimeInterval(10))
        XCTAssertEqual(r.stored, 1)
        XCTAssertEqual(r.rejected, 1)
        XCTAssertEqual(spool.seriesFolders().count, 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spool.rejected.path).count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: inboxDir.appendingPathComponent("study/XA.1.2.3").path))
    }

    func testConfigurationFileCommentsOverridesAndErrors() throws {
        let file = dir.appendingPathComponent("worker.json")
        try WorkerConfiguration.defaultText.write(to: file, atomically: true, encoding: .utf8)
        let c = try WorkerConfiguration.load(path: file.path)
        XCTAssertEqual(c.model, "models/demo")
        XCTAssertEqual(c.settleSeconds, 10)
        var o = WorkerConfiguration()
        o.settleSeconds = 2
        XCTAssertEqual(c.overridden(by: o).settleSeconds, 2)
        XCTAssertEqual(c.overridden(by: o).model, "models/demo")
        try #"{"setle_seconds": 3}"#.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WorkerConfiguration.load(path: file.path)) { e in
            XCTAssertTrue("\(e)".contains("unknown key(s) setle_seconds"), "\(e)")
        }
        try #"{"settle_seconds": "soon"}"#.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WorkerConfiguration.load(path: file.path)) { e in XCTAssertTrue("\(e)".contains("settle_seconds"), "\(e)") }
        XCTAssertThrowsError(try WorkerConfiguration.load(path: dir.appendingPathComponent("absent.json").path)) { e in
            XCTAssertTrue("\(e)".contains("no such file"), "\(e)")
        }
    }

    func testJSONLogLinesAreObjectsWithEscapedText() throws {
        final class Lines: @unchecked Sendable { var all: [String] = [] }
        let lines = Lines()
        var handler = JSONLogHandler(label: "t", level: .info) { lines.all.append($0) }
        handler[metadataKey: "job"] = "7"
        let log = Logger(label: "t") { _ in handler }
        log.info("quote \" and\nnewline", metadata: ["count": "3"])
        log.debug("not at info")
        XCTAssertEqual(lines.all.count, 1)
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines.all[0].utf8)) as? [String: Any])
        XCTAssertEqual(o["msg"] as? String, "quote \" and\nnewline")
        XCTAssertEqual(o["job"] as? String, "7")
        XCTAssertEqual(o["level"] as? String, "info")
        XCTAssertNotNil(o["ts"])
    }
}
