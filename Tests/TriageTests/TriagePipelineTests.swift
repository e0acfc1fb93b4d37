import Angiography
import Foundation
import MedGemma
import TestSupport
import Triage
import XCTest

/// The pipeline end to end on the tiny VLM: planning, routing, records, aggregation, modes.
final class TriagePipelineTests: XCTestCase {
    nonisolated(unsafe) static var modelDir: URL?

    static func model() throws -> LoadedModel {
        if modelDir == nil { modelDir = try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model")) }
        return try ModelLoader.load(path: modelDir!.path, computeMode: .f32)
    }

    func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("triage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// A folder with an XA run, a CT, a picture, a CSV and a broken .dcm.
    func batchFolder() throws -> URL {
        let dir = try tempDir()
        let fm = FileManager.default
        try fm.copyItem(at: TestPaths.fixture("angiography/xa_log.dcm"), to: dir.appendingPathComponent("xa_log.dcm"))
        try fm.copyItem(at: TestPaths.fixture("angiography/ct.dcm"), to: dir.appendingPathComponent("ct.dcm"))
        try fm.copyItem(at: TestPaths.fixture("triage/images/dsa-64.png"), to: dir.appendingPathComponent("dsa.png"))
        try Data("case,label\n".utf8).write(to: dir.appendingPathComponent("labels.csv"))
        try Data("not dicom at all".utf8).write(to: dir.appendingPathComponent("broken.dcm"))
        return dir
    }

    func testPlanGroupsFoldersAndNeverThrows() throws {
        let dir = try batchFolder()
        let units = TriagePipeline.plan([dir.path, "/nonexistent/input.dcm", TestPaths.fixture("angiography/xa_tid.dcm").path])
        XCTAssertEqual(units.count, 7, "\(units)")
        let series = units.compactMap { u -> [String]? in if case .dicomSeries(_, _, _, _, let f) = u { return f } else { return nil } }
        XCTAssertEqual(series.count, 3)
        XCTAssertTrue(units.contains(.image(path: dir.appendingPathComponent("dsa.png").path, input: dir.path)))
        XCTAssertTrue(units.contains { if case .skippedFile(let p, _, _) = $0 { return p.hasSuffix("labels.csv") } else { return false } })
        XCTAssertTrue(units.contains { if case .unreadable(let p, _, _) = $0 { return p.hasSuffix("broken.dcm") } else { return false } })
        XCTAssertTrue(units.contains { if case .unreadable(let p, let r, _) = $0 { return p == "/nonexistent/input.dcm" && r == "no such file or folder" } else { return false } })
    }

    func testFilesOfOneSeriesNamedDirectlyFormOneUnit() throws {
        let dir = try tempDir()
        let a = dir.appendingPathComponent("a.dcm"), b = dir.appendingPathComponent("b.dcm")
        try FileManager.default.copyItem(at: TestPaths.fixture("angiography/xa_log.dcm"), to: a)
        try FileManager.default.copyItem(at: TestPaths.fixture("angiography/xa_log.dcm"), to: b)
        let units = TriagePipeline.plan([a.path, TestPaths.fixture("triage/images/dsa-64.png").path, b.path])
        XCTAssertEqual(units.count, 2, "\(units)")
        guard case .dicomSeries(let input, _, _, let modality, let files) = units[0] else { return XCTFail("\(units)") }
        XCTAssertEqual(input, a.path, "the command-line argument the series came from (its first file named)")
        XCTAssertEqual(modality, "XA")
        XCTAssertEqual(Set(files), Set([a.path, b.path]))
    }

    func testSingleFrameRunFailsTheFrameCheck() throws {
        let pipeline = try TriagePipeline(loaded: try Self.model(), profile: .standard, mode: .score, fingerprintCache: nil)
        let r = pipeline.run(.dicomSeries(input: "x", study: nil, series: nil, modality: nil,
                                          files: [TestPaths.fixture("angiography/xa_implicit.dcm").path]))
        XCTAssertEqual(r.status, .processed, r.error ?? "")
        XCTAssertEqual(r.decision, .manualReview)
        XCTAssertTrue(r.reasons.contains("quality: too few frames (1 < 2)"), "\(r.reasons)")
        XCTAssertEqual(r.images.first?.quality.frames, 1)
    }

    func testBatchGivesOneRecordPerUnitWithoutIdentifiers() throws {
        let pipeline = try TriagePipeline(loaded: try Self.model(), profile: .standard, mode: .score, fingerprintCache: nil)
        XCTAssertTrue(pipeline.isTestModel)
        XCTAssertNil(pipeline.adapterFingerprint)
        let dir = try batchFolder()
        var ticks: [Int] = []
        let records = pipeline.run(paths: [dir.path]) { done, _ in ticks.append(done) }
        XCTAssertEqual(records.count, 5)
        XCTAssertEqual(ticks, [1, 2, 3, 4, 5])
        func record(_ suffix: String) throws -> TriageRecord { try XCTUnwrap(records.first { $0.files.first?.hasSuffix(suffix) == true }, suffix) }
        let xa = try record("xa_log.dcm"), ct = try record("ct.dcm"), png = try record("dsa.png")
        let csv = try record("labels.csv"), bad = try record("broken.dcm")
        XCTAssertEqual(xa.status, .processed)
        XCTAssertEqual(xa.kind, .dicomSeries)
        XCTAssertEqual(xa.modality, "XA")
        XCTAssertEqual(xa.route, "triage")
        XCTAssertNotNil(xa.decision)
        XCTAssertEqual(xa.framesUsed.count, 1)
        XCTAssertGreaterThan(xa.framesUsed[0].count, 1, "minIP over the run's frames")
        let p = try XCTUnwrap(xa.pBlocked)
        XCTAssertTrue(p >= 0 && p <= 1)
        XCTAssertEqual(try XCTUnwrap(xa.labelProbabilities?["blocked"]), p, accuracy: 1e-12)
        XCTAssertEqual(xa.labelProbabilities!.values.reduce(0, +), 1, accuracy: 1e-9)
        XCTAssertTrue(xa.testModel)
        XCTAssertEqual(xa.modelFingerprint.count, 64)
        XCTAssertGreaterThan(xa.timings.vision, 0)
        XCTAssertGreaterThan(xa.timings.total, 0)
        XCTAssertEqual(ct.status, .skipped)
        XCTAssertEqual(ct.route, "skip")
        XCTAssertEqual(ct.routeReason, RouteDecision.outOfScope)
        XCTAssertNil(ct.decision)
        XCTAssertEqual(png.status, .processed)
        XCTAssertEqual(png.kind, .image)
        XCTAssertNil(png.studyUIDHash)
        XCTAssertEqual(csv.status, .skipped)
        XCTAssertEqual(bad.status, .error)
        XCTAssertNotNil(bad.error)

        // UIDs only as hashes; the fixture's patient name never appears.
        let file = try DICOMFileProbe.uids(TestPaths.fixture("angiography/xa_log.dcm"))
        XCTAssertEqual(xa.studyUIDHash, UIDHash.hash(file.study))
        XCTAssertEqual(xa.seriesUIDHash, UIDHash.hash(file.series))
        XCTAssertEqual(xa.instanceUIDHashes, [UIDHash.hash(file.instance)])
        let lines = try records.map { try $0.jsonLine() }.joined(separator: "\n")
        for secret in [file.study, file.series, file.instance, "Synthetic^Angio", "SYNTHETIC"] {
            XCTAssertFalse(lines.contains(secret), "records carry \(secret)")
        }
        // Records survive a JSON round trip.
        for r in records {
            XCTAssertEqual(try JSONDecoder().decode(TriageRecord.self, from: Data(try r.jsonLine().utf8)), r)
        }
    }

    /// The pipeline's P(blocked) for a picture equals transformers' for the same prompt and answers,
    /// with and without the adapter.
    func testPipelineProbabilityMatchesTransformers() throws {
        let fixture = try TestPaths.json("triage/label_scoring.json")
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        for name in ["gray64-word", "gray64-word-system-adapter", "rgb120x90-sentence-adapter"] {
            let c = try XCTUnwrap(cases.first { $0["name"] as? String == name })
            var profile = TaskProfile.standard
            profile.prompt = c["prompt"] as! String
            profile.system = c["system"] as? String
            let answers = c["answers"] as! [[String: Any]]
            for i in profile.labels.indices {
                profile.labels[i].answer = try XCTUnwrap(answers.first { $0["label"] as? String == profile.labels[i].name }?["text"] as? String)
            }
            let adapter = (c["adapter"] as? String).map { TestPaths.fixture("triage").appendingPathComponent($0) }
            let pipeline = try TriagePipeline(loaded: try Self.model(), profile: profile, mode: .score, adapter: adapter, imageBackend: .pil, fingerprintCache: nil)
            XCTAssertEqual(pipeline.promptIDs, ints(c["prompt_ids"]), name)
            let image = TestPaths.fixture("triage").appendingPathComponent(c["image"] as! String)
            let r = pipeline.run(.image(path: image.path))
            let want = try XCTUnwrap((c["p_labels"] as? [String: NSNumber])?["blocked"]).doubleValue
            XCTAssertEqual(try XCTUnwrap(r.pBlocked, name), want, accuracy: 1e-4, name)
            XCTAssertEqual(r.adapterFingerprint != nil, adapter != nil, name)
        }
    }

    func testPartlyUnreadableSeriesGoesToReview() throws {
        let pipeline = try TriagePipeline(loaded: try Self.model(), profile: .standard, mode: .score, fingerprintCache: nil)
        let dir = try tempDir()
        let junk = dir.appendingPathComponent("junk.dcm")
        try Data("junk".utf8).write(to: junk)
        let good = TestPaths.fixture("angiography/xa_log.dcm").path
        let r = pipeline.run(.dicomSeries(input: dir.path, study: "1.2.3", series: "1.2.3.4", modality: "XA", files: [good, junk.path]))
        XCTAssertEqual(r.status, .processed)
        XCTAssertNotEqual(r.decision, .patent)
        XCTAssertTrue(r.reasons.contains { $0.hasPrefix("partly unreadable: \(junk.path)") }, "\(r.reasons)")
        XCTAssertEqual(r.studyUIDHash, UIDHash.hash("1.2.3"))
        // Every instance unreadable: an error record.
        let e = pipeline.run(.dicomSeries(input: dir.path, study: nil, series: nil, modality: nil, files: [junk.path]))
        XCTAssertEqual(e.status, .error)
        XCTAssertNil(e.decision)
    }

    func testEveryFrameStrategyKeepsTheWorstFrame() throws {
        var profile = TaskProfile.standard
        profile.frameStrategy = "every"
        let pipeline = try TriagePipeline(loaded: try Self.model(), profile: profile, mode: .score, fingerprintCache: nil)
        let r = pipeline.run(.dicomSeries(input: "x", study: nil, series: nil, modality: nil,
                                          files: [TestPaths.fixture("angiography/xa_log.dcm").path]))
        XCTAssertEqual(r.status, .processed)
        XCTAssertGreaterThan(r.images.count, 1)
        XCTAssertEqual(r.framesUsed, r.images.map(\.frames))
        XCTAssertEqual(r.pBlocked, r.images.compactMap(\.pBlocked).max())
        let worst = r.images.map(\.decision.severity).max()
        XCTAssertEqual(r.decision?.severity, worst)
        XCTAssertTrue(r.reasons.first?.hasPrefix("worst of \(r.images.count) images") == true, "\(r.reasons)")
    }

    func testBothModesRunAndDisagreementOrUnclearGoesToReview() throws {
        var profile = TaskProfile.standard
        profile.generation.maxNewTokens = 6
        let pipeline = try TriagePipeline(loaded: try Self.model(), profile: profile, mode: .both, fingerprintCache: nil)
        let image = TriageInput.image(path: TestPaths.fixture("triage/images/dsa-120x90.png").path)
        XCTAssertNil(pipeline.run(image).images.first?.generatedText, "generated text is dropped unless asked for")
        pipeline.keepGeneratedText = true
        let r = pipeline.run(image)
        XCTAssertEqual(r.status, .processed)
        let img = try XCTUnwrap(r.images.first)
        XCTAssertNotNil(img.pBlocked)
        XCTAssertNotNil(img.generatedText)
        let parsed = try XCTUnwrap(img.parsedAnswer)
        // The random model's text names no label: the policy must not let scoring alone decide.
        XCTAssertEqual(parsed.verdict, .unclear, img.generatedText ?? "")
        XCTAssertEqual(r.decision, .manualReview)
        XCTAssertTrue(r.reasons.contains { $0.hasPrefix("generated answer is unclear") }, "\(r.reasons)")
        XCTAssertGreaterThan(r.timings.generation, 0)
    }

    func testDarkPictureFailsQualityAndGoesToReview() throws {
        let dir = try tempDir()
        let png = dir.appendingPathComponent("black.png")
        try PNGTestImage.gray(width: 32, height: 32, value: 2).write(to: png)
        let pipeline = try TriagePipeline(loaded: try Self.model(), profile: .standard, mode: .score, fingerprintCache: nil)
        let r = pipeline.run(.image(path: png.path))
        XCTAssertEqual(r.decision, .manualReview)
        XCTAssertTrue(r.reasons.contains { $0.hasPrefix("quality: too dark") }, "\(r.reasons)")
        XCTAssertTrue(r.reasons.contains { $0.hasPrefix("quality: no contrast") }, "\(r.reasons)")
    }

    func testPipelineRejectsTextOnlyModelsAndBadAdapters() throws {
        let m = try Self.model()
        XCTAssertThrowsError(try TriagePipeline(loaded: m, profile: .standard, mode: .score, adapter: URL(fileURLWithPath: "/nonexistent/adapter"), fingerprintCache: nil))
        var bad = TaskProfile.standard
        bad.threshold = 2
        XCTAssertThrowsError(try TriagePipeline(loaded: m, profile: bad, mode: .score, fingerprintCache: nil)) { e in
            XCTAssertTrue("\(e)".contains("threshold"), "\(e)")
        }
    }
}
