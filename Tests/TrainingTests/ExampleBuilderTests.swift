import Foundation
import Imaging
import MedGemma
import ModelFiles
import TestSupport
import Triage
import XCTest
@testable import Training

/// Training examples on the tiny VLM: token ids equal the reference processor's prompt ids (transformers,
/// Tests/Fixtures/triage/label_scoring.json) followed by the answer ids, targets sit at the positions that
/// predict the answer tokens, and pixels come from triage's own input path (reference pixel values from
/// the gemma3-vlm fixtures, reference DSA model images from the angiography fixtures).
final class ExampleBuilderTests: XCTestCase {
    nonisolated(unsafe) static var modelDir: URL?

    static func model() throws -> LoadedModel {
        if modelDir == nil { modelDir = try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model")) }
        return try ModelLoader.load(path: try XCTUnwrap(modelDir).path, computeMode: .f32)
    }

    func referenceCase(_ name: String) throws -> [String: Any] {
        let cases = try XCTUnwrap(try TestPaths.json("triage/label_scoring.json")["cases"] as? [[String: Any]])
        return try XCTUnwrap(cases.first { $0["name"] as? String == name }, name)
    }

    /// The standard profile with a reference case's prompt, system text and answer texts.
    func profile(for c: [String: Any]) throws -> TaskProfile {
        var p = TaskProfile.standard
        p.prompt = try XCTUnwrap(c["prompt"] as? String)
        p.system = c["system"] as? String
        let answers = try XCTUnwrap(c["answers"] as? [[String: Any]])
        for i in p.labels.indices {
            let a = try XCTUnwrap(answers.first { $0["label"] as? String == p.labels[i].name })
            p.labels[i].answer = try XCTUnwrap(a["text"] as? String)
        }
        return p
    }

    func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("examples-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    func row(_ url: URL, _ label: String, line: Int = 2) -> TrainingRow {
        TrainingRow(path: url.lastPathComponent, resolvedPath: url.path, label: label, line: line)
    }

    func testIdsAreTheReferencePromptThenTheAnswerAndTargetsCoverTheAnswerOnly() throws {
        let loaded = try Self.model()
        for name in ["gray64-word-system", "gray64-sentence-system-adapter", "gray64-word"] {
            let c = try referenceCase(name)
            let promptIDs = ints(c["prompt_ids"])
            let builder = try ExampleBuilder(loaded: loaded, profile: try profile(for: c))
            XCTAssertEqual(builder.promptIDs, promptIDs, name)
            XCTAssertEqual(builder.pixelCount, 3 * 112 * 112)
            for a in try XCTUnwrap(c["answers"] as? [[String: Any]]) {
                let label = try XCTUnwrap(a["label"] as? String)
                let answer = ints(a["ids"])
                XCTAssertEqual(answer.last, 106, "answers end with <end_of_turn>")
                let ex = try builder.example(label: label, pixelValues: [Float](repeating: 0.25, count: builder.pixelCount), weight: 1.75)
                XCTAssertEqual(ex.ids, promptIDs + answer, "\(name) \(label)")
                XCTAssertEqual(ex.promptLength, promptIDs.count)
                XCTAssertEqual(ex.targets.map(\.position), Array((promptIDs.count - 1)..<(promptIDs.count - 1 + answer.count)))
                XCTAssertEqual(ex.targets.map(\.token), answer)
                for t in ex.targets where t.position + 1 < ex.ids.count {
                    XCTAssertEqual(ex.ids[t.position + 1], t.token, "teacher forcing: the next input is the target")
                }
                XCTAssertEqual(ex.ids.filter { $0 == 262_144 }.count, 16, "one image block of 16 soft tokens")
                XCTAssertEqual(ex.pixelValues.count, 1)
                XCTAssertEqual(ex.label, label)
                XCTAssertEqual(ex.weight, 1.75)
            }
        }
    }

    /// The builder's prompt is the one triage scores with.
    func testPromptEqualsTheTriagePipelinePrompt() throws {
        let loaded = try Self.model()
        let pipeline = try TriagePipeline(loaded: loaded, profile: .standard, mode: .score, fingerprintCache: nil)
        let builder = try ExampleBuilder(loaded: loaded, profile: .standard)
        XCTAssertEqual(builder.promptIDs, pipeline.promptIDs)
        XCTAssertEqual(builder.answers, pipeline.scorer.answers)
    }

    func testPictureRowGivesTheReferenceProcessorsPixels() throws {
        let loaded = try Self.model()
        let builder = try ExampleBuilder(loaded: loaded, profile: .standard, imageBackend: .pil)
        let image = TestPaths.fixture("gemma3-vlm/resize-small-gray/image.png")
        let ref = try NPYFile.read(TestPaths.fixture("gemma3-vlm/resize-small-gray/pixel_values.npy")).floats()
        let examples = try builder.examples(row: row(image, "blocked", line: 7), weight: 0.5)
        XCTAssertEqual(examples.count, 1)
        let ex = try XCTUnwrap(examples.first)
        XCTAssertEqual(ex.pixelValues.count, 1)
        XCTAssertEqual(maxAbsDiff(ex.pixelValues[0], ref).diff, 0, "the PIL backend reproduces transformers' processor exactly")
        XCTAssertEqual(ex.line, 7)
        XCTAssertEqual(ex.source, image.path)
        XCTAssertEqual(ex.weight, 0.5)
        XCTAssertEqual(ex.ids, builder.promptIDs + (try builder.answer(for: "blocked")).ids)
    }

    /// A DICOM run becomes the same model image triage makes (routing, subtraction, minIP), checked against
    /// the angiography fixtures' reference model image.
    func testDICOMRowGivesTriagesModelImage() throws {
        let loaded = try Self.model()
        let builder = try ExampleBuilder(loaded: loaded, profile: .standard)
        let file = TestPaths.fixture("angiography/xa_log.dcm")
        let images = try TriagePipeline.modelImages(path: file.path, profile: .standard)
        XCTAssertEqual(images.count, 1)
        let img = try XCTUnwrap(images.first)
        let ref = try NPYFile.read(TestPaths.fixture("angiography/xa_log.model_minip.npy"))
        XCTAssertEqual(ref.shape, [32, 32])
        XCTAssertEqual(img.gray.map(Float.init), ref.floats())
        XCTAssertEqual(img.frames, 6)
        XCTAssertEqual(img.rgb, try RGBImage(gray: img.gray, width: 32, height: 32))
        let examples = try builder.examples(row: row(file, "patent"))
        XCTAssertEqual(examples.count, 1)
        XCTAssertEqual(examples[0].pixelValues[0], try loaded.pixelValues(image: img.rgb, backend: .torchvision))
        XCTAssertEqual(examples[0].label, "patent")

        // Triage scores the very same frames.
        let pipeline = try TriagePipeline(loaded: loaded, profile: .standard, mode: .score, fingerprintCache: nil)
        let record = pipeline.run(paths: [file.path])
        XCTAssertEqual(record.first?.framesUsed, [img.frameNumbers])
    }

    func testFolderLeavesOutInstancesTriageSkips() throws {
        let dir = try tempDir()
        try FileManager.default.copyItem(at: TestPaths.fixture("angiography/xa_log.dcm"), to: dir.appendingPathComponent("xa.dcm"))
        try FileManager.default.copyItem(at: TestPaths.fixture("angiography/ct.dcm"), to: dir.appendingPathComponent("ct.dcm"))
        let images = try TriagePipeline.modelImages(path: dir.path, profile: .standard)
        XCTAssertEqual(images.map { URL(fileURLWithPath: $0.file).lastPathComponent }, ["xa.dcm"])

        // A CT alone gives no model image: an error, not an empty example list.
        let ct = TestPaths.fixture("angiography/ct.dcm").path
        XCTAssertThrowsError(try TriagePipeline.modelImages(path: ct, profile: .standard)) { e in
            XCTAssertTrue("\(e)".hasPrefix("\(ct): no model image: \(ct): "), "\(e)")
        }
    }

    func testUnreadableInputsNameTheFile() throws {
        let dir = try tempDir()
        let broken = dir.appendingPathComponent("broken.dcm")
        try Data("not dicom at all".utf8).write(to: broken)
        XCTAssertThrowsError(try TriagePipeline.modelImages(path: broken.path, profile: .standard)) { e in
            XCTAssertTrue("\(e)".hasPrefix("\(broken.path): cannot be read: "), "\(e)")
        }
        let badPNG = dir.appendingPathComponent("bad.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0]).write(to: badPNG)
        XCTAssertThrowsError(try TriagePipeline.modelImages(path: badPNG.path, profile: .standard)) { e in
            XCTAssertTrue("\(e)".hasPrefix("\(badPNG.path): cannot be read: "), "\(e)")
        }
        let missing = dir.appendingPathComponent("absent.png").path
        XCTAssertThrowsError(try TriagePipeline.modelImages(path: missing, profile: .standard)) { e in
            XCTAssertEqual("\(e)", "\(missing): cannot be read: no such file or folder")
        }
    }

    func testBadExampleArguments() throws {
        let builder = try ExampleBuilder(loaded: try Self.model(), profile: .standard)
        let pixels = [Float](repeating: 0, count: builder.pixelCount)
        XCTAssertThrowsError(try builder.example(label: "occluded", pixelValues: pixels))
        XCTAssertThrowsError(try builder.example(label: "blocked", pixelValues: Array(pixels.dropLast())))
        XCTAssertThrowsError(try builder.example(label: "blocked", pixelValues: pixels, weight: -1))
        XCTAssertThrowsError(try builder.example(label: "blocked", pixelValues: pixels, weight: .nan))
        XCTAssertEqual(try builder.example(label: "blocked", pixelValues: pixels).weight, 1)
    }
}
