import Foundation
import TestSupport
import Triage
import XCTest
@testable import Training

/// Training manifests: path resolution, labels against the profile's vocabulary, bad rows named or
/// skipped, the one-class check and the content hash (hashlib's, from tools/make_training_data_fixtures.py).
final class ManifestTests: XCTestCase {
    static let dir = TestPaths.fixture("training-data")
    func fixture(_ name: String) -> String { Self.dir.appendingPathComponent(name).path }
    func expected() throws -> [String: Any] { try TestPaths.json("training-data/expected.json") }

    func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    func testGoodManifestResolvesPathsLabelsAndHash() throws {
        let m = try TrainingManifest.load(path: fixture("manifest.csv"), profile: .standard)
        XCTAssertEqual(m.rows.count, 7)
        XCTAssertTrue(m.skipped.isEmpty)
        XCTAssertEqual(m.labels, ["patent", "blocked"])
        XCTAssertEqual(m.rows.map(\.label), ["patent", "blocked", "patent", "patent", "blocked", "patent", "patent"],
                       "\"Blocked\" is read as the profile's \"blocked\"")
        XCTAssertEqual(m.rows.map(\.line), Array(2...8))
        XCTAssertEqual(m.rows[1].path, "images/b1.png")
        XCTAssertEqual(m.rows[1].resolvedPath, Self.dir.appendingPathComponent("images/b1.png").standardizedFileURL.path)
        XCTAssertEqual(m.rows[2].fields["site"], "B")
        XCTAssertEqual(m.classCounts, [5, 2])
        XCTAssertEqual(m.classIndices, [0, 1, 0, 0, 1, 0, 0])
        let sha = try XCTUnwrap(try expected()["sha256"] as? [String: String])
        XCTAssertEqual(m.sha256, sha["manifest.csv"])
    }

    func testJSONLManifest() throws {
        let m = try TrainingManifest.load(path: fixture("manifest.jsonl"), profile: .standard)
        XCTAssertEqual(m.rows.map(\.path), ["images/p1.png", "images/b1.png", "images/p2.png"])
        XCTAssertEqual(m.rows.map(\.label), ["patent", "blocked", "patent"])
        XCTAssertEqual(m.rows.map(\.line), [1, 2, 3])
        let sha = try XCTUnwrap(try expected()["sha256"] as? [String: String])
        XCTAssertEqual(m.sha256, sha["manifest.jsonl"])
    }

    /// Every bad row is named (file:line: reason), not the first only; the same rows and reasons as skipping.
    func testEveryBadRowIsNamedInOneError() throws {
        let path = fixture("manifest-bad.csv")
        let want = try XCTUnwrap(try expected()["bad_rows"] as? [[String: Any]]).map {
            SkippedRow(line: (($0["line"] as? NSNumber)?.intValue) ?? -1, reason: ($0["reason"] as? String) ?? "")
        }
        XCTAssertThrowsError(try TrainingManifest.load(path: path, profile: .standard)) { e in
            XCTAssertEqual(e as? TrainingDataError, .badRows(file: path, rows: want, total: 8))
            let lines = "\(e)".split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.first, "\(path): 6 of 8 rows cannot be used (fix them, or pass --skip-bad-rows to train without them):")
            XCTAssertEqual(Array(lines.dropFirst()), want.map { "  \(path):\($0.line): \($0.reason)" })
        }
        // Past 20 bad rows the message lists 20 and counts the rest.
        let many = TrainingDataError.badRows(file: "m.csv", rows: (2..<27).map { SkippedRow(line: $0, reason: "empty path") }, total: 30)
        let text = "\(many)".split(separator: "\n")
        XCTAssertEqual(text.count, 1 + 20 + 1)
        XCTAssertEqual(text.last, "  … and 5 more")
    }

    func testSkipBadRowsReportsEachRowAndKeepsTheRest() throws {
        let m = try TrainingManifest.load(path: fixture("manifest-bad.csv"), profile: .standard, skipBadRows: true)
        let want = try XCTUnwrap(try expected()["bad_rows"] as? [[String: Any]]).map {
            SkippedRow(line: (($0["line"] as? NSNumber)?.intValue) ?? -1, reason: ($0["reason"] as? String) ?? "")
        }
        XCTAssertEqual(want.count, 6)
        XCTAssertEqual(m.skipped, want)
        XCTAssertEqual(m.rows.map(\.line), [2, 9])
        XCTAssertEqual(m.rows.map(\.label), ["patent", "blocked"])
        let sha = try XCTUnwrap(try expected()["sha256"] as? [String: String])
        XCTAssertEqual(m.sha256, sha["manifest-bad.csv"])
    }

    func testOneClassAfterSkippingIsAnError() throws {
        let path = fixture("manifest-one-class.csv")
        XCTAssertThrowsError(try TrainingManifest.load(path: path, profile: .standard, skipBadRows: true)) { e in
            XCTAssertEqual(e as? TrainingDataError, .oneClass(file: path, label: "patent", rows: 2))
            XCTAssertTrue("\(e)".contains("both classes"), "\(e)")
        }
        XCTAssertThrowsError(try TrainingManifest.load(path: path, profile: .standard)) { e in
            XCTAssertEqual(e as? TrainingDataError, .badRow(file: path, line: 4, reason: "no such file \"images/gone.png\""))
        }
    }

    func testValidateFailuresAreBadRows() throws {
        struct Refused: Error, CustomStringConvertible { var description: String { "cannot decode" } }
        let path = fixture("manifest.csv")
        let refuse: (TrainingRow) throws -> Void = { row in if row.path == "images/p3.png" { throw Refused() } }
        XCTAssertThrowsError(try TrainingManifest.load(path: path, profile: .standard, validate: refuse)) { e in
            XCTAssertEqual(e as? TrainingDataError, .badRow(file: path, line: 5, reason: "cannot decode"))
        }
        let m = try TrainingManifest.load(path: path, profile: .standard, skipBadRows: true, validate: refuse)
        XCTAssertEqual(m.skipped, [SkippedRow(line: 5, reason: "cannot decode")])
        XCTAssertEqual(m.rows.count, 6)
    }

    /// Triage's own input reader as the validator: a file named .png that is no picture is a bad row.
    func testTriageReaderCatchesAnUndecodablePicture() throws {
        let dir = try tempDir()
        try FileManager.default.copyItem(at: Self.dir.appendingPathComponent("images/p1.png"), to: dir.appendingPathComponent("p1.png"))
        try FileManager.default.copyItem(at: Self.dir.appendingPathComponent("images/b1.png"), to: dir.appendingPathComponent("b1.png"))
        try Data("\u{89}PNG but truncated".utf8).write(to: dir.appendingPathComponent("bad.png"))
        let manifest = dir.appendingPathComponent("train.csv")
        try Data("path,label\np1.png,patent\nbad.png,blocked\nb1.png,blocked\n".utf8).write(to: manifest)
        let profile = TaskProfile.standard
        let m = try TrainingManifest.load(path: manifest.path, profile: profile, skipBadRows: true) { row in
            _ = try TriagePipeline.modelImages(path: row.resolvedPath, profile: profile)
        }
        XCTAssertEqual(m.rows.map(\.path), ["p1.png", "b1.png"])
        XCTAssertEqual(m.skipped.map(\.line), [3])
        XCTAssertTrue(m.skipped.first?.reason.contains("bad.png") == true, "\(m.skipped)")
    }

    func testWholeFileProblems() throws {
        let dir = try tempDir()
        func write(_ name: String, _ text: String) throws -> String {
            let u = dir.appendingPathComponent(name)
            try Data(text.utf8).write(to: u)
            return u.path
        }
        let empty = try write("empty.csv", "path,label\n")
        XCTAssertThrowsError(try TrainingManifest.load(path: empty, profile: .standard)) { e in
            XCTAssertEqual(e as? TrainingDataError, .invalid(file: empty, reason: "no data rows"))
        }
        let noPath = try write("nopath.csv", "file,label\nx.png,patent\n")
        XCTAssertThrowsError(try TrainingManifest.load(path: noPath, profile: .standard)) { e in
            XCTAssertEqual(e as? TrainingDataError, .invalid(file: noPath, reason: "no \"path\" column (columns: file, label)"))
        }
        let missing = dir.appendingPathComponent("absent.csv").path
        XCTAssertThrowsError(try TrainingManifest.load(path: missing, profile: .standard)) { e in
            XCTAssertEqual(e as? TrainingDataError, .invalid(file: missing, reason: "no such file or folder"))
        }
        let allBad = try write("allbad.csv", "path,label\nnope.png,patent\n")
        XCTAssertThrowsError(try TrainingManifest.load(path: allBad, profile: .standard, skipBadRows: true)) { e in
            XCTAssertEqual(e as? TrainingDataError,
                           .invalid(file: allBad, reason: "no usable rows: all 1 skipped (first: line 2: no such file \"nope.png\")"))
        }
    }

    /// `dsa-triage synth` writes labels.csv with a `png` column; `pathColumn` reads it as it is.
    func testSynthLabelsThroughPathColumn() throws {
        let dir = try tempDir()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("png"), withIntermediateDirectories: true)
        for n in ["c1", "c2"] {
            try FileManager.default.copyItem(at: Self.dir.appendingPathComponent("images/p1.png"), to: dir.appendingPathComponent("png/\(n).png"))
        }
        let labels = dir.appendingPathComponent("labels.csv")
        try Data("case_id,label,native_dicom,png\nc1,blocked,,png/c1.png\nc2,patent,,png/c2.png\n".utf8).write(to: labels)
        let m = try TrainingManifest.load(path: labels.path, profile: .standard, pathColumn: "png")
        XCTAssertEqual(m.rows.map(\.path), ["png/c1.png", "png/c2.png"])
        XCTAssertEqual(m.rows.map(\.label), ["blocked", "patent"])
        XCTAssertEqual(m.rows[0].fields["case_id"], "c1")
    }
}
