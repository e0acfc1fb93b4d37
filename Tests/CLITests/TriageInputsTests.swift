import Foundation
import ModelFiles
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What `triage` and `evaluate` read and how they name it: names that are not UTF-8, links to folders and
/// link loops, input order, `--paths`, site keys, attribute values that must never be quoted, study records
/// and saved model images.
final class TriageInputsTests: XCTestCase {
    var env: [String: String] { TriageCommandTests.env }

    func model() throws -> String { try TriageCommandTests.model() }

    func records(_ stdout: String) throws -> [[String: Any]] {
        try stdout.split(separator: "\n").map { line in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
        }
    }

    /// One synthetic case's runs (`native`, `subtracted`), 64×64, 4 frames, uncompressed.
    func synthCase(count: Int = 1) throws -> URL {
        let dir = try CLI.tempDir().appendingPathComponent("synth")
        let r = try CLI.run(["synth", "--out", dir.path, "--count", "\(count)", "--size", "64", "--frames", "4", "--transfer-syntax", "explicit-le"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return dir.appendingPathComponent("dicom")
    }

    /// Writes `contents` to a path given as raw bytes (Foundation cannot name a file that is not UTF-8).
    func writeRaw(_ path: [UInt8], _ contents: Data) throws {
        var c = path.map { CChar(bitPattern: $0) }
        c.append(0)
        let fd = open(c, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw NSError(domain: "test", code: Int(errno)) }
        defer { close(fd) }
        _ = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Runs the binary with arguments given as raw bytes (Process only passes UTF-8 strings).
    func runRaw(_ args: [[UInt8]]) throws -> CLIResult {
        let dir = try CLI.tempDir()
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, out.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, err.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let all = [Array(CLI.binary.path.utf8)] + args
        let argv: [UnsafeMutablePointer<CChar>?] = all.map { bytes in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (i, b) in bytes.enumerated() { p[i] = CChar(bitPattern: b) }
            p[bytes.count] = 0
            return p
        } + [nil]
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { $0?.deallocate() }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, CLI.binary.path, &actions, nil, argv, envp)
        XCTAssertEqual(rc, 0)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return CLIResult(status: (status >> 8) & 0xff, stdout: try String(contentsOf: out, encoding: .utf8),
                         stderr: try String(contentsOf: err, encoding: .utf8))
    }

    /// A UI element's value in an explicit-VR little-endian file, found by its tag bytes.
    static func explicitUID(_ data: Data, group: UInt16, element: UInt16) -> String? {
        let b = [UInt8](data)
        let pattern: [UInt8] = [UInt8(group & 0xff), UInt8(group >> 8), UInt8(element & 0xff), UInt8(element >> 8), 0x55, 0x49]
        guard b.count > pattern.count + 2 else { return nil }
        for i in 0..<(b.count - pattern.count - 2) where Array(b[i..<i + 6]) == pattern {
            let n = Int(b[i + 6]) | Int(b[i + 7]) << 8
            guard i + 8 + n <= b.count else { return nil }
            return String(decoding: b[(i + 8)..<(i + 8 + n)], as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\0 "))
        }
        return nil
    }

    /// Item 1 of issue 15: a valid DICOM named `caf\xe9.dcm` (Latin-1) inside a folder or named directly, a
    /// link to a folder (given directly and inside a scanned folder) and a link loop: each gets a record,
    /// named by the escaped form; the loop is reported, not followed.
    func testNonUTF8NamesAndFolderLinksAreReadAndNamedLosslessly() throws {
        let syn = try synthCase()
        let root = try CLI.tempDir()
        let data = root.appendingPathComponent("data"), sub = data.appendingPathComponent("sub"), other = root.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        let subtracted = try Data(contentsOf: syn.appendingPathComponent("case_0001_subtracted.dcm"))
        try writeRaw(Array(sub.path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".dcm".utf8), subtracted)
        try writeRaw(Array(root.path.utf8) + Array("/x".utf8) + [0xE9] + Array(".dcm".utf8), subtracted)
        try FileManager.default.copyItem(at: syn.appendingPathComponent("case_0001_native.dcm"), to: other.appendingPathComponent("native.dcm"))
        try FileManager.default.createSymbolicLink(atPath: data.appendingPathComponent("link").path, withDestinationPath: "../other")
        try FileManager.default.createSymbolicLink(atPath: sub.appendingPathComponent("loop").path, withDestinationPath: "..")
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("linked").path, withDestinationPath: "other")
        let base = root.path + "/"
        let latin1Arg = Array((base + "x").utf8) + [0xE9] + Array(".dcm".utf8)
        let r = try runRaw([Array("triage".utf8), Array("--model".utf8), Array(try model().utf8), Array("--paths".utf8), Array("as-given".utf8),
                            Array((base + "data").utf8), latin1Arg, Array((base + "linked").utf8)])
        XCTAssertEqual(r.status, 0, r.stderr)
        let recs = try records(r.stdout)
        let summary = recs.map { "\($0["input"] as? String ?? "?")|\(($0["files"] as? [String])?.first ?? "?")|\($0["status"] as? String ?? "?")" }
        let expected = [("data", "data/link/native.dcm", "processed"), ("data", "data/sub/caf\\xe9.dcm", "processed"),
                        ("data", "data/sub/loop", "skipped"), ("x\\xe9.dcm", "x\\xe9.dcm", "processed"),
                        ("linked", "linked/native.dcm", "processed")]
        XCTAssertEqual(summary, expected.map { "\(base)\($0.0)|\(base)\($0.1)|\($0.2)" }, r.stdout)
        XCTAssertEqual((recs[2]["reasons"] as? [String])?.first, "symbolic link loop: leads back to a folder that contains it")
        XCTAssertEqual(recs[1]["modality"] as? String, "XA")
        // The table names them the same way.
        let t = try runRaw([Array("triage".utf8), Array("--model".utf8), Array(try model().utf8), Array("--paths".utf8), Array("as-given".utf8),
                            Array("--format".utf8), Array("table".utf8), latin1Arg])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("XA       \(base)x\\xe9.dcm — "), t.stdout)
    }

    /// Item 9: records come in the order the inputs were given, and within a folder in byte order of each
    /// unit's first file; a picture found in a folder has that folder as its `input` (docs/TRIAGE.md), and
    /// the table's input column is the record's own `files`/`input`.
    func testRecordsFollowInputOrderAndNameOrderWithinAFolder() throws {
        let syn = try synthCase(count: 2)
        let dir = try CLI.tempDir()
        let folder = dir.appendingPathComponent("scans")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // Series numbers and UIDs are unrelated to these names: only the names decide the order.
        try FileManager.default.copyItem(at: syn.appendingPathComponent("case_0001_native.dcm"), to: folder.appendingPathComponent("b.dcm"))
        try FileManager.default.copyItem(at: syn.appendingPathComponent("case_0002_subtracted.dcm"), to: folder.appendingPathComponent("a.dcm"))
        try FileManager.default.copyItem(at: syn.appendingPathComponent("case_0001_subtracted.dcm"), to: folder.appendingPathComponent("C.dcm"))
        try FileManager.default.copyItem(at: TestPaths.fixture("triage/images/dsa-64.png"), to: folder.appendingPathComponent("ab.png"))
        let png = TestPaths.fixture("triage/images/dsa-64.png").path
        let single = syn.appendingPathComponent("case_0002_native.dcm").path
        let r = try CLI.run(["triage", "--model", try model(), "--paths", "relative", single, folder.path, png], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let recs = try records(r.stdout)
        XCTAssertEqual(recs.map { ($0["files"] as? [String])?.first ?? "?" }, [single, "C.dcm", "a.dcm", "ab.png", "b.dcm", png])
        XCTAssertEqual(recs.map { $0["input"] as? String ?? "?" }, [single, folder.path, folder.path, folder.path, folder.path, png])
        XCTAssertEqual(recs[3]["kind"] as? String, "image")
        let t = try CLI.run(["triage", "--model", try model(), "--paths", "relative", "--format", "table", single, folder.path, png], environment: env)
        let column = t.stdout.split(separator: "\n").dropFirst().map { line -> String in
            let s = String(line)
            let start = s.index(s.startIndex, offsetBy: 44)
            return String(s[start..<(s.range(of: " — ")?.lowerBound ?? s.endIndex)])
        }
        XCTAssertEqual(column, [single, "C.dcm", "a.dcm", "ab.png", "b.dcm", png], t.stdout)
    }

    /// Item 6: names found under a folder never reach the output by default (hashed, extension kept);
    /// `relative` drops the folder; a site key (option or environment) changes UID and path hashes to keyed
    /// ones, computed here with HMAC-SHA256 (itself checked against RFC 4231).
    func testPathsHashedByDefaultAndSiteKeyKeysEveryHash() throws {
        let syn = try synthCase()
        let dir = try CLI.tempDir()
        let input = dir.appendingPathComponent("in")
        let patientFolder = input.appendingPathComponent("Audit^Canary^Q_19330303")
        try FileManager.default.createDirectory(at: patientFolder, withIntermediateDirectories: true)
        let source = syn.appendingPathComponent("case_0001_subtracted.dcm")
        try FileManager.default.copyItem(at: source, to: patientFolder.appendingPathComponent("CANARY-31337.dcm"))
        try Data("notes".utf8).write(to: patientFolder.appendingPathComponent("Canary_notes.txt"))
        let keyFile = dir.appendingPathComponent("site.key")
        try Data("a-site-secret-of-enough-length\n".utf8).write(to: keyFile)
        let key = Array("a-site-secret-of-enough-length".utf8)

        let plain = try CLI.run(["triage", "--model", try model(), input.path], environment: env)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertFalse((plain.stdout + plain.stderr).contains("Canary") || (plain.stdout + plain.stderr).contains("CANARY"), plain.stdout)
        let recs = try records(plain.stdout)
        XCTAssertEqual(recs.count, 2)
        let rel = "Audit^Canary^Q_19330303/CANARY-31337.dcm"
        let expected = input.path + "/" + String(SHA256Hasher.hex(of: Data(("dsa-triage-path:" + rel).utf8)).prefix(16)) + ".dcm"
        XCTAssertEqual((recs[0]["files"] as? [String]) ?? [], [expected])
        XCTAssertEqual(recs[0]["input"] as? String, input.path, "the folder as typed")
        XCTAssertTrue(((recs[1]["files"] as? [String])?.first ?? "").hasSuffix(".txt"))

        let relative = try CLI.run(["triage", "--model", try model(), "--paths", "relative", input.path], environment: env)
        XCTAssertEqual((try records(relative.stdout).first?["files"] as? [String]) ?? [], [rel])

        let seriesUID = try XCTUnwrap(Self.explicitUID(try Data(contentsOf: source), group: 0x0020, element: 0x000E))
        let keyed = try CLI.run(["triage", "--model", try model(), "--site-key-file", keyFile.path, input.path], environment: env)
        XCTAssertEqual(keyed.status, 0, keyed.stderr)
        let k = try records(keyed.stdout)
        let keyedPath = input.path + "/" + String(HMACSHA256.hex(key: key, message: Array(("dsa-triage-path:" + rel).utf8)).prefix(16)) + ".dcm"
        XCTAssertEqual((k[0]["files"] as? [String]) ?? [], [keyedPath])
        XCTAssertEqual(recs[0]["series_uid_hash"] as? String,
                       String(SHA256Hasher.hex(of: Data(("dsa-triage-uid:" + seriesUID).utf8)).prefix(32)), "no key: today's hash")
        XCTAssertEqual(k[0]["series_uid_hash"] as? String,
                       String(HMACSHA256.hex(key: key, message: Array(("dsa-triage-uid:" + seriesUID).utf8)).prefix(32)))
        // inspect hashes the same way, so its output joins triage's.
        let inspectPlain = try CLI.run(["inspect", source.path], environment: env)
        let inspectKeyed = try CLI.run(["inspect", "--site-key-file", keyFile.path, source.path], environment: env)
        let ip = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspectPlain.stdout.utf8)) as? [String: Any])
        let ik = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspectKeyed.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(recs[0]["series_uid_hash"] as? String, ip["series_uid_hash"] as? String)
        XCTAssertEqual(k[0]["series_uid_hash"] as? String, ik["series_uid_hash"] as? String)
        XCTAssertNotEqual(k[0]["series_uid_hash"] as? String, recs[0]["series_uid_hash"] as? String)
        XCTAssertNotEqual(k[0]["study_uid_hash"] as? String, recs[0]["study_uid_hash"] as? String)
        // The same key through the environment gives the same hashes.
        var e = env
        e["DSA_SITE_KEY_FILE"] = keyFile.path
        let viaEnv = try records(try CLI.run(["triage", "--model", try model(), input.path], environment: e).stdout)
        XCTAssertEqual(viaEnv[0]["series_uid_hash"] as? String, k[0]["series_uid_hash"] as? String)
        XCTAssertEqual(viaEnv[0]["files"] as? [String], k[0]["files"] as? [String])
        // A short key is refused with a message naming the file, before any model work.
        try Data("short".utf8).write(to: keyFile)
        let short = try CLI.run(["triage", "--model", "/nonexistent/model", "--site-key-file", keyFile.path, input.path], environment: env)
        XCTAssertEqual(short.status, 1)
        XCTAssertTrue(short.stderr.contains("site key file \(keyFile.path): 5 bytes, at least 16 needed"), short.stderr)
    }

    /// A 1 KB value holding a name, an ID and a birth date.
    static let planted = String(repeating: "AUDIT^CANARY^Q ID-CANARY31337 DOB-19330303 ", count: 24)

    /// Copies of a native run with the planted value in VOI LUT Function, in Mask Operation, and in Pixel
    /// Intensity Relationship and Modality (dcmtk's dcmodify writes them).
    func plantedFiles(_ native: URL, into dir: URL) throws -> [URL] {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dcmodify") else { throw XCTSkip("dcmodify (dcmtk) is not installed") }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var out: [URL] = []
        for (name, edits) in [("voi", ["-i", "(0028,1056)=\(Self.planted)"]), ("maskop", ["-m", "(0028,6100)[0].(0028,6101)=\(Self.planted)"]),
                              ("pir", ["-m", "(0028,1040)=\(Self.planted)", "-m", "(0008,0060)=\(Self.planted)"])] {
            let f = dir.appendingPathComponent("\(name).dcm")
            try FileManager.default.copyItem(at: native, to: f)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/dcmodify")
            p.arguments = ["-nb"] + edits + [f.path]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
            XCTAssertNotNil(try Data(contentsOf: f).range(of: Data("CANARY31337".utf8)), "\(name): the value must be in the file for the test to mean anything")
            out.append(f)
        }
        return out
    }

    /// Item 6: attribute values outside the defined terms are described, never quoted: the planted value
    /// appears in no output of inspect, triage (both formats) or evaluate (stdout, stderr, every artifact and
    /// the cache), and evaluate names each input that failed with its reason.
    func testPlantedAttributeValuesAppearInNoOutput() throws {
        let syn = try synthCase()
        let dir = try CLI.tempDir()
        let files = try plantedFiles(syn.appendingPathComponent("case_0001_native.dcm"), into: dir.appendingPathComponent("planted"))
        var everything = ""
        for f in files {
            let r = try CLI.run(["inspect", f.path], environment: env)
            everything += r.stdout + r.stderr
        }
        XCTAssertTrue(everything.contains("VOI LUT Function (0028,1056): an unrecognised value ("), everything)
        XCTAssertTrue(everything.contains("Mask Operation (0028,6101): an unrecognised value ("), everything)
        for format in ["jsonl", "table"] {
            let r = try CLI.run(["triage", "--model", try model(), "--format", format, "--paths", "as-given"] + files.map(\.path), environment: env)
            everything += r.stdout + r.stderr
        }
        let manifest = dir.appendingPathComponent("manifest.csv")
        try Data(("path,label\n" + files.map { "planted/\($0.lastPathComponent),patent\n" }.joined()).utf8).write(to: manifest)
        let out = dir.appendingPathComponent("eval")
        let e = try CLI.run(["evaluate", "--data", manifest.path, "--model", try model(), "--out", out.path, "--bootstrap", "0"], environment: env)
        XCTAssertEqual(e.status, 0, e.stderr)
        everything += e.stdout + e.stderr
        // Each failed input is named with its manifest line and reason (today: only a count).
        XCTAssertTrue(e.stderr.contains("planted/voi.dcm (\(manifest.path) line 2): failed: "), e.stderr)
        XCTAssertTrue(e.stderr.contains("planted/maskop.dcm (\(manifest.path) line 3): failed: "), e.stderr)
        let walker = FileManager.default.enumerator(at: out, includingPropertiesForKeys: nil)
        while let f = walker?.nextObject() as? URL {
            if let d = FileManager.default.contents(atPath: f.path) { everything += String(decoding: d, as: UTF8.self) }
        }
        for secret in ["CANARY", "31337", "19330303"] {
            XCTAssertFalse(everything.contains(secret), "an output quotes the planted value (\(secret))")
        }
    }

    /// New: `--group study` adds one record per study, the worst of its series, listing them; a study whose
    /// other series are patent but one failed goes to manual review.
    func testGroupStudyAddsOneStudyRecord() throws {
        let syn = try synthCase()
        let r = try CLI.run(["triage", "--model", try model(), "--group", "study", syn.path], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let recs = try records(r.stdout)
        XCTAssertEqual(recs.map { $0["kind"] as? String ?? "?" }, ["dicom_series", "dicom_series", "study"])
        let study = recs[2]
        let listed = try XCTUnwrap(study["series"] as? [[String: Any]])
        XCTAssertEqual(listed.map { $0["series_uid_hash"] as? String }, recs[0..<2].map { $0["series_uid_hash"] as? String })
        XCTAssertEqual(listed.map { $0["decision"] as? String }, recs[0..<2].map { $0["decision"] as? String })
        XCTAssertEqual(study["study_uid_hash"] as? String, recs[0]["study_uid_hash"] as? String)
        let severity = ["patent": 0, "manual_review": 1, "blocked": 2]
        let worst = recs[0..<2].compactMap { $0["decision"] as? String }.max { severity[$0]! < severity[$1]! }
        XCTAssertEqual(study["decision"] as? String, worst)
        XCTAssertEqual(study["p_blocked"] as? Double, recs[0..<2].compactMap { $0["p_blocked"] as? Double }.max())
        let table = try CLI.run(["triage", "--model", try model(), "--group", "study", "--format", "table", syn.path], environment: env)
        XCTAssertEqual(table.stdout.split(separator: "\n").count, 4, table.stdout)
        XCTAssertTrue(table.stdout.contains("study \(study["study_uid_hash"] as? String ?? "?") (2 series)"), table.stdout)
        // The native run made unreadable (a planted VOI LUT Function): the study cannot be patent.
        let mixed = try CLI.tempDir()
        let planted = try plantedFiles(syn.appendingPathComponent("case_0001_native.dcm"), into: mixed.appendingPathComponent("p"))[0]
        try FileManager.default.copyItem(at: syn.appendingPathComponent("case_0001_subtracted.dcm"), to: mixed.appendingPathComponent("subtracted.dcm"))
        let m = try CLI.run(["triage", "--model", try model(), "--group", "study", planted.path, mixed.appendingPathComponent("subtracted.dcm").path],
                            environment: env)
        XCTAssertEqual(m.status, 3, m.stderr)
        let mr = try records(m.stdout)
        XCTAssertEqual(mr.map { $0["status"] as? String ?? "?" }, ["error", "processed", "processed"])
        XCTAssertEqual(mr[1]["decision"] as? String, "patent", "precondition: the readable series alone is patent")
        XCTAssertEqual(mr[2]["kind"] as? String, "study")
        XCTAssertEqual(mr[2]["decision"] as? String, "manual_review")
    }

    /// New: `--save-images DIR` writes each model input as a PNG named by hashed UIDs and frames, named in
    /// the record; an unwritable DIR stops the run before the model loads.
    func testSaveImagesWritesTheModelInputsNamedInTheRecords() throws {
        let syn = try synthCase()
        let dir = try CLI.tempDir()
        let images = dir.appendingPathComponent("seen")
        let png = TestPaths.fixture("triage/images/dsa-64.png").path
        let r = try CLI.run(["triage", "--model", try model(), "--save-images", images.path, syn.path, png], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let recs = try records(r.stdout)
        XCTAssertEqual(recs.count, 3)
        var names: [String] = []
        for rec in recs {
            for img in try XCTUnwrap(rec["images"] as? [[String: Any]]) {
                let name = try XCTUnwrap(img["saved_image"] as? String, "\(rec)")
                names.append(name)
                if let series = rec["series_uid_hash"] as? String {
                    XCTAssertTrue(name.hasPrefix("series-\(series)_"), name)
                    let frames = try XCTUnwrap(img["frames"] as? [Int])
                    XCTAssertTrue(name.hasSuffix("_f\(frames.first!)-\(frames.last!).png") || name.hasSuffix("_f\(frames.first!).png"), name)
                } else {
                    XCTAssertTrue(name.hasPrefix("picture-") && name.hasSuffix(".png"), name)
                }
                let data = try Data(contentsOf: images.appendingPathComponent(name))
                XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                // Width and height from IHDR: the 64×64 model input.
                XCTAssertEqual(Array(data[16..<24]), [0, 0, 0, 64, 0, 0, 0, 64])
            }
        }
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: images.path)), Set(names), "no temporary file left")
        let blocker = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: blocker)
        let bad = try CLI.run(["triage", "--model", "/nonexistent/model", "--save-images", blocker.path, png], environment: env)
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("--save-images \(blocker.path): cannot create the folder"), bad.stderr)
        XCTAssertFalse(bad.stderr.contains("/nonexistent/model"), "checked before the model: \(bad.stderr)")
    }

    /// `train --paths`: a manifest row naming a folder has the names found under it hashed in its errors by
    /// default; `as-given` shows them.
    func testTrainHashesNamesFoundUnderAFolderRow() throws {
        let dir = try CLI.tempDir()
        let patient = dir.appendingPathComponent("scans/Audit^Canary")
        try FileManager.default.createDirectory(at: patient, withIntermediateDirectories: true)
        try Data("junk".utf8).write(to: patient.appendingPathComponent("broken.dcm"))
        let manifest = dir.appendingPathComponent("m.csv")
        try Data("path,label\nscans,patent\n".utf8).write(to: manifest)
        let r = try CLI.run(["train", "--model", try model(), "--data", manifest.path, "--out", dir.appendingPathComponent("out").path], environment: env)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("\(manifest.path):2: "), r.stderr)
        XCTAssertFalse(r.stderr.contains("Canary"), r.stderr)
        let shown = try CLI.run(["train", "--model", try model(), "--data", manifest.path, "--out", dir.appendingPathComponent("out").path,
                                 "--paths", "as-given"], environment: env)
        XCTAssertTrue(shown.stderr.contains("scans/Audit^Canary/broken.dcm"), shown.stderr)
    }
}
