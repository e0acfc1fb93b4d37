import Angiography
import DICOM
import Foundation
import Imaging
import MedGemma
import TestSupport
import Triage
import XCTest

/// The pipeline's stages used one at a time (as a queued worker would) give the records `run` gives.
final class PipelineStageTests: XCTestCase {
    nonisolated(unsafe) static var modelDir: URL?

    static func pipeline() throws -> TriagePipeline {
        if modelDir == nil { modelDir = try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model")) }
        let loaded = try ModelLoader.load(path: try XCTUnwrap(modelDir).path, computeMode: .f32)
        return try TriagePipeline(loaded: loaded, profile: .standard, mode: .score, fingerprintCache: nil)
    }

    func withoutTimings(_ r: TriageRecord) -> TriageRecord {
        var r = r
        r.timings = TriageRecord.Timings()
        return r
    }

    func testSeriesThroughTheStagesEqualsRun() throws {
        let pipeline = try Self.pipeline()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stages-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let junk = dir.appendingPathComponent("junk.dcm")
        try Data("junk".utf8).write(to: junk)
        let files = [TestPaths.fixture("angiography/xa_log.dcm").path, TestPaths.fixture("angiography/ct.dcm").path, junk.path]
        let unit = InputUnit.dicomSeries(input: dir.path, study: "1.2.3", series: "1.2.3.4", modality: "XA", files: files)

        var assembly = SeriesRecordAssembly(context: pipeline.recordContext, input: dir.path, study: "1.2.3", series: "1.2.3.4",
                                            modality: "XA", files: files)
        var outcomes: [String] = []
        for file in files {
            let instance = pipeline.prepareInstance(file)
            assembly.add(instance)
            switch instance.outcome {
            case .images(let images):
                outcomes.append("images")
                for image in images {
                    var timings = TriageRecord.Timings()
                    assembly.add(try pipeline.classify(image, timings: &timings), timings: timings)
                }
            case .skipped: outcomes.append("skipped")
            case .failed(let message):
                outcomes.append("failed")
                XCTAssertTrue(message.contains(junk.path), message)
            }
        }
        XCTAssertEqual(outcomes, ["images", "skipped", "failed"])
        let staged = assembly.finish()
        XCTAssertEqual(withoutTimings(staged), withoutTimings(pipeline.run(unit)))
        XCTAssertEqual(staged.instanceUIDHashes.count, 2)
        XCTAssertEqual(staged.status, .processed)
    }

    func testModelInputsCarryWhatTheRecordNeeds() throws {
        let path = TestPaths.fixture("angiography/xa_log.dcm").path
        let file = try DICOMFile(url: URL(fileURLWithPath: path))
        let inputs = try ModelInputBuilder().modelInputs(file) { "h:" + $0 }
        XCTAssertTrue(inputs.isTriaged)
        XCTAssertFalse(inputs.images.isEmpty)
        XCTAssertEqual(inputs.numberOfFrames, try AngiogramAttributes(file: file).numberOfFrames)
        XCTAssertNotNil(inputs.processing)
        XCTAssertEqual(inputs.identity.instanceHash, file.dataset.string(.sopInstanceUID).map { "h:" + $0 })
        XCTAssertEqual(inputs.identity.modality, "XA")

        let ct = try DICOMFile(url: TestPaths.fixture("angiography/ct.dcm"))
        let skipped = try ModelInputBuilder().modelInputs(ct) { $0 }
        XCTAssertFalse(skipped.isTriaged)
        XCTAssertTrue(skipped.images.isEmpty)
        XCTAssertNil(skipped.numberOfFrames)
    }

    func testPlannerSniffsByContent() throws {
        XCTAssertTrue(InputPlanner.isPicture(TestPaths.fixture("triage/images/dsa-64.png").path))
        XCTAssertFalse(InputPlanner.isPicture(TestPaths.fixture("angiography/xa_log.dcm").path))
        XCTAssertTrue(InputPlanner.isPart10DICOM(TestPaths.fixture("angiography/xa_log.dcm").path))
        XCTAssertEqual(ImageDecoder.format(ofHead: [0xFF, 0xD8, 0xFF]), .jpeg)
        XCTAssertNil(ImageDecoder.format(ofHead: [0xFF, 0xD8]))
        XCTAssertEqual(InputPlanner.plan(["/nonexistent/x.dcm"]), [.unreadable(path: "/nonexistent/x.dcm", reason: "no such file or folder")])
    }

    /// Training validation and triage score an image through the same path: equal probabilities.
    func testStaticClassifyIsTheInstancePath() throws {
        let pipeline = try Self.pipeline()
        let image = try pipeline.preparePicture(TestPaths.fixture("triage/images/dsa-64.png").path)
        var t1 = TriageRecord.Timings(), t2 = TriageRecord.Timings()
        let result = try pipeline.classify(image, timings: &t1)
        let scores = try XCTUnwrap(try TriagePipeline.classify(pixelValues: try pipeline.preprocessor.pixelValues(image.rgb),
                                                               with: pipeline.classification, timings: &t2).scores)
        XCTAssertEqual(result.labelProbabilities, scores.probabilities)
    }
}
