import Foundation
import TestSupport
import Triage
import XCTest

/// UID and path hashes (plain and keyed with a site key), the `--paths` naming of found files, and study
/// verdicts over series records. Expected values from Python's hashlib/hmac.
final class IdentifierHashTests: XCTestCase {
    let key = try! SiteKey(bytes: Array("0123456789abcdef-site-key".utf8))  // 25 bytes: above the minimum, cannot throw

    func testUIDHashPlainKeepsTodaysValueAndKeyedDiffers() throws {
        // python3 -c "import hashlib; print(hashlib.sha256(b'dsa-triage-uid:1.2.840.99.1').hexdigest()[:32])"
        XCTAssertEqual(UIDHash.hash("1.2.840.99.1"), "3850e2f4e91d1e1ebd21cc07ffba8f33")
        // python3 -c "import hmac,hashlib; print(hmac.new(b'0123456789abcdef-site-key', b'dsa-triage-uid:1.2.840.99.1', hashlib.sha256).hexdigest()[:32])"
        XCTAssertEqual(UIDHash.hash("1.2.840.99.1", key: key), "842a27e05790b9e8f21b7e0852e178c6")
    }

    func testSiteKeyFileIsReadWithoutItsLastNewlineAndShortKeysAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sitekey-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("key")
        try Data("0123456789abcdef-site-key\n".utf8).write(to: file)
        XCTAssertEqual(try SiteKey.load(path: file.path), key)
        XCTAssertEqual(try SiteKey.resolve(option: nil, environment: [SiteKey.environmentVariable: file.path]), key)
        XCTAssertNil(try SiteKey.resolve(option: nil, environment: [:]))
        try Data("short\n".utf8).write(to: file)
        XCTAssertThrowsError(try SiteKey.load(path: file.path)) { e in
            XCTAssertTrue("\(e)".contains("\(file.path): 5 bytes, at least 16 needed"), "\(e)")
        }
        XCTAssertThrowsError(try SiteKey.load(path: dir.appendingPathComponent("none").path)) { e in
            XCTAssertTrue("\(e)".contains("no such file"), "\(e)")
        }
    }

    func testPathDisplayModes() {
        let found = "/data/in/Smith^John/caf\\xe9.dcm"
        XCTAssertEqual(PathDisplay(mode: .asGiven).show(found, under: "/data/in"), found)
        XCTAssertEqual(PathDisplay(mode: .relative).show(found, under: "/data/in/"), "Smith^John/caf\\xe9.dcm")
        // python3 -c "import hashlib; print(hashlib.sha256(b'dsa-triage-path:Smith^John/caf\xe9.dcm').hexdigest()[:16])"
        XCTAssertEqual(PathDisplay(mode: .hashed).show(found, under: "/data/in"), "/data/in/00f2b653b62c5c0a.dcm")
        XCTAssertEqual(PathDisplay(mode: .hashed, key: key).show(found, under: "/data/in"), "/data/in/79483fabf2576802.dcm")
        XCTAssertEqual(PathDisplay(mode: .hashed).show("/elsewhere/typed.dcm", under: "/data/in"), "/elsewhere/typed.dcm",
                       "a path not beneath the folder input was typed: it stays")
        XCTAssertFalse(PathDisplay(mode: .hashed).hashedName("Smith^John/scan.Smith_John_1933").contains("Smith"),
                       "a long extension may be a name: dropped")
    }

    /// A series record as JSON, decoded (the record's fields are its schema).
    func series(_ id: String, status: String, decision: String?, p: Double?) throws -> TriageRecord {
        var o: [String: Any] = [
            "input": "in", "kind": "dicom_series", "status": status, "files": ["in/\(id).dcm"], "study_uid_hash": "study1",
            "series_uid_hash": id, "instance_uid_hashes": [], "frames_used": [], "reasons": ["reason of \(id)"], "images": [],
            "mode": "score", "profile": "p", "model_fingerprint": "m", "test_model_decisions_meaningless": false,
            "demo_model_no_clinical_meaning": false, "domain_checked": false, "timings": ["input_s": 0, "vision_s": 0, "prefill_s": 0, "scoring_s": 0,
                                                                  "generation_s": 0, "total_s": 1],
        ]
        if let decision { o["decision"] = decision }
        if let p { o["p_blocked"] = p }
        return try JSONDecoder().decode(TriageRecord.self, from: try JSONSerialization.data(withJSONObject: o))
    }

    func testStudyVerdictIsTheWorstSeriesAndAFailedSeriesBlocksPatent() throws {
        let patent = try series("a", status: "processed", decision: "patent", p: 0.1)
        let review = try series("b", status: "processed", decision: "manual_review", p: 0.4)
        let blocked = try series("c", status: "processed", decision: "blocked", p: 0.9)
        let failed = try series("d", status: "error", decision: nil, p: nil)
        let skipped = try series("e", status: "skipped", decision: nil, p: nil)
        let all = StudyVerdict.verdict(study: "study1", series: [patent, review, blocked, skipped])
        XCTAssertEqual(all.kind, .study)
        XCTAssertEqual(all.decision, .blocked)
        XCTAssertEqual(all.pBlocked, 0.9)
        XCTAssertEqual(all.series?.map(\.seriesUIDHash), ["a", "b", "c", "e"])
        XCTAssertEqual(all.series?.map(\.decision), [.patent, .manualReview, .blocked, nil])
        XCTAssertEqual(all.files, [])
        XCTAssertEqual(StudyVerdict.verdict(study: "study1", series: [patent, review]).decision, .manualReview)
        let withFailure = StudyVerdict.verdict(study: "study1", series: [patent, failed])
        XCTAssertEqual(withFailure.decision, .manualReview, "a study with an unread series is never patent")
        XCTAssertEqual(withFailure.status, .processed)
        XCTAssertEqual(StudyVerdict.verdict(study: "study1", series: [blocked, failed]).decision, .blocked)
        let onlySkipped = StudyVerdict.verdict(study: "study1", series: [skipped])
        XCTAssertEqual(onlySkipped.status, .skipped)
        XCTAssertNil(onlySkipped.decision)
        XCTAssertEqual(StudyVerdict.verdict(study: "study1", series: [failed]).status, .error)
        // One study record per study, in order of first appearance; records without a study give none.
        var other = patent
        other.studyUIDHash = "study2"
        XCTAssertEqual(StudyVerdict.records(for: [other, patent, blocked]).map(\.studyUIDHash), ["study2", "study1"])
    }

    /// Training reads rows through `modelImages`; a folder row's found names follow the display in its errors
    /// and in each image's `file`.
    func testModelImagesNameFoundFilesAsTheDisplaySays() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("display-\(UUID().uuidString)")
        let patient = dir.appendingPathComponent("Audit^Canary")
        try FileManager.default.createDirectory(at: patient, withIntermediateDirectories: true)
        try Data("not dicom".utf8).write(to: patient.appendingPathComponent("broken.dcm"))
        XCTAssertThrowsError(try TriagePipeline.modelImages(path: dir.path, profile: .standard, display: PathDisplay(mode: .hashed))) { e in
            XCTAssertFalse("\(e)".contains("Canary"), "\(e)")
            XCTAssertTrue("\(e)".contains(dir.path + "/"), "\(e)")
        }
        XCTAssertThrowsError(try TriagePipeline.modelImages(path: dir.path, profile: .standard)) { e in
            XCTAssertTrue("\(e)".contains("Audit^Canary/broken.dcm"), "as found by default in the library: \(e)")
        }
        try FileManager.default.removeItem(at: patient.appendingPathComponent("broken.dcm"))
        try FileManager.default.copyItem(at: TestPaths.fixture("triage/images/dsa-64.png"), to: patient.appendingPathComponent("pic.png"))
        let images = try TriagePipeline.modelImages(path: dir.path, profile: .standard, display: PathDisplay(mode: .relative))
        XCTAssertEqual(images.map(\.file), ["Audit^Canary/pic.png"])
    }
}
