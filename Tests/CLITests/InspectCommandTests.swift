import Foundation
import ModelFiles
import XCTest

/// `dsa-triage inspect` on the angiography fixtures (tools/make_angiography_fixtures.py wrote the
/// expectations with pydicom and numpy).
final class InspectCommandTests: XCTestCase {
    let fixtures = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/angiography")

    func path(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    func expected(_ name: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent(name + ".json"))) as? [String: Any])
    }

    func inspect(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try CLI.run(["inspect"] + args)
        XCTAssertEqual(r.status, 0, "stderr: \(r.stderr)", file: file, line: line)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one JSON object on one line: \(r.stdout)", file: file, line: line)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout, file: file, line: line)
    }

    func testHeaderFactsAndRoute() throws {
        for name in ["xa_lin_avgsub", "xa_log", "xa_subtracted", "xa_sigmoid", "xa_mono1", "exa_enhanced", "xa_implicit",
                     "xa_modality_ct", "rf_run", "ct", "mr", "us_rgb", "cr", "dx", "sr"] {
            let exp = try expected(name)
            let got = try inspect([path(name + ".dcm")])
            for key in ["sop_class_uid", "modality", "transfer_syntax_uid", "photometric_interpretation", "route", "reason"] {
                XCTAssertEqual(got[key] as? String, exp[key] as? String, "\(name) \(key)")
            }
            for key in ["rows", "columns", "frames", "bits_stored"] {
                if let e = exp[key] as? Int {
                    XCTAssertEqual(got[key] as? Int, e, "\(name) \(key)")
                } else {
                    XCTAssertTrue(got[key] is NSNull, "\(name) \(key) should be null without pixel data: \(String(describing: got[key]))")
                }
            }
        }
    }

    func testPipelineRecord() throws {
        let exp = try expected("xa_lin_avgsub")
        let got = try inspect([path("xa_lin_avgsub.dcm")])
        let sub = try XCTUnwrap(got["subtraction"] as? [String: Any])
        XCTAssertEqual(sub["method"] as? String, "mask-subtraction-sequence")
        XCTAssertEqual(sub["mask_frames"] as? [Int], exp["mask_frames"] as? [Int])
        XCTAssertEqual(got["strategy"] as? String, "minip")
        XCTAssertEqual(got["chosen_frames"] as? [[Int]], [exp["candidate_frames"] as? [Int] ?? []])
        XCTAssertEqual((got["window"] as? [String: Any])?["source"] as? String, "percentile")

        let peak = try inspect([path("xa_lin_avgsub.dcm"), "--strategy", "peak"])
        XCTAssertEqual(peak["chosen_frames"] as? [[Int]], [[exp["peak_frame"] as? Int ?? -1]])
        let every = try inspect([path("xa_lin_avgsub.dcm"), "--strategy", "every"])
        XCTAssertEqual(every["model_images"] as? Int, (exp["candidate_frames"] as? [Int])?.count)

        let mask2 = try inspect([path("xa_nomask.dcm"), "--mask-frame", "2"])
        XCTAssertEqual((mask2["subtraction"] as? [String: Any])?["method"] as? String, "configured-mask-frame")
        XCTAssertEqual((mask2["subtraction"] as? [String: Any])?["mask_frames"] as? [Int], [2])

        XCTAssertEqual(try inspect([path("rf_run.dcm"), "--include-rf"])["route"] as? String, "triage")
        XCTAssertEqual(try inspect([path("rf_run.dcm")])["route"] as? String, "skip")
    }

    func testNoIdentifiersInOutput() throws {
        let r = try CLI.run(["inspect", path("xa_lin_avgsub.dcm")])
        for needle in ["Synthetic", "SYNTH-ANGIO", "1.2.826.0.1.3680043.8.498.7777"] {
            XCTAssertFalse(r.stdout.contains(needle), "output contains \(needle): \(r.stdout)")
        }
        let got = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        for key in ["study_uid_hash", "series_uid_hash", "sop_instance_uid_hash"] {
            let h = try XCTUnwrap(got[key] as? String, key)
            XCTAssertEqual(h.count, 32, key)  // the triage records' UID hash (32 hex digits)
            XCTAssertTrue(h.allSatisfy(\.isHexDigit), h)
        }
        // The same study UID hashes the same in every file of the study.
        XCTAssertEqual(try inspect([path("ct.dcm")])["study_uid_hash"] as? String, got["study_uid_hash"] as? String)
    }

    func testExportWritesStoredFramesAndModelInput() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("xa")
        _ = try inspect([path("xa_lin_avgsub.dcm"), "--export", out.path])
        let stored = try NPYFile.read(fixtures.appendingPathComponent("xa_lin_avgsub.stored.npy"))
        guard case let .uint16(all) = stored.data else { return XCTFail("fixture dtype \(stored.dtype)") }
        let perFrame = 64 * 64
        for k in 1...6 {
            // File names carry the 0-based index (the index into pydicom's pixel_array).
            let a = try NPYFile.read(out.appendingPathComponent(String(format: "frame_%04d.npy", k - 1)))
            XCTAssertEqual(a.dtype, "<u2")
            XCTAssertEqual(a.shape, [64, 64])
            XCTAssertEqual(a.data, .uint16(Array(all[(k - 1) * perFrame..<k * perFrame])), "frame \(k)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("frame_0006.npy").path))
        let model = try NPYFile.read(out.appendingPathComponent("model_input.npy"))
        let want = try NPYFile.read(fixtures.appendingPathComponent("xa_lin_avgsub.model_minip.npy"))
        XCTAssertEqual(model.shape, [64, 64])
        guard case let .uint8(g) = model.data, case let .uint8(w) = want.data else { return XCTFail("model input dtype") }
        XCTAssertLessThanOrEqual(zip(g, w).map { abs(Int($0) - Int($1)) }.max() ?? 99, 1)
        let png = try Data(contentsOf: out.appendingPathComponent("model_input.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width and height big endian at bytes 16 and 20, bit depth 8, colour type 0 (gray).
        let be = { (o: Int) in png[o..<o + 4].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual([be(16), be(20), Int(png[24]), Int(png[25])], [64, 64, 8, 0])
    }

    func testExportDtypesAndShapes() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, dtype, shape) in [("us_rgb", "|u1", [16, 16, 3]), ("ct", "<i2", [16, 16]), ("xa_mono1", "<u2", [32, 32])] {
            let out = dir.appendingPathComponent(name)
            _ = try inspect([path(name + ".dcm"), "--export", out.path])
            let a = try NPYFile.read(out.appendingPathComponent("frame_0000.npy"))
            XCTAssertEqual(a.dtype, dtype, name)
            XCTAssertEqual(a.shape, shape, name)
            let stored = try NPYFile.read(fixtures.appendingPathComponent(name + ".stored.npy"))
            XCTAssertEqual(a.data, stored.data, name)
        }
        // A skipped grayscale file still gets a display image; the colour one does not.
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("ct/model_input.png").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("us_rgb/model_input.png").path))
    }

    func expectFailure(_ args: [String], mentioning needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLI.run(["inspect"] + args)
        XCTAssertNotEqual(r.status, 0, "expected failure; stdout \(r.stdout)", file: file, line: line)
        XCTAssertLessThan(r.status, 128, "killed by a signal: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stdout.isEmpty, "no JSON on failure: \(r.stdout)", file: file, line: line)
        for n in needles { XCTAssertTrue(r.stderr.contains(n), "stderr should mention \(n): \(r.stderr)", file: file, line: line) }
    }

    func testUnreadableFiles() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("notes.txt")
        try Data("this is not DICOM\n".utf8).write(to: text)
        try expectFailure([text.path], mentioning: [text.path, "not a DICOM file"])
        let cut = dir.appendingPathComponent("cut.dcm")
        let data = try Data(contentsOf: fixtures.appendingPathComponent("xa_lin_avgsub.dcm"))
        try data.prefix(data.count / 2).write(to: cut)
        try expectFailure([cut.path], mentioning: [cut.path])
        try expectFailure([dir.appendingPathComponent("missing.dcm").path], mentioning: ["missing.dcm"])
        try expectFailure([path("xa_bad_mask.dcm")], mentioning: ["xa_bad_mask.dcm", "Mask Frame Numbers"])
        let bad = try CLI.run(["inspect", path("xa_lin_avgsub.dcm"), "--strategy", "best"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--strategy"), bad.stderr)
    }
}
