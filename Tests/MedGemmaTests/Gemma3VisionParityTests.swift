import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor

/// Tiny random Gemma3ForConditionalGeneration against transformers (tools/make_gemma3_vlm_fixtures.py):
/// vision tower, projector, image prompt ids, the image-aware attention mask, logits and greedy tokens.
final class Gemma3VisionParityTests: XCTestCase {
    static let fixtures = Fixtures.url("gemma3-vlm")

    /// The fixture model plus the reference tokenizer (kept out of the fixture for size) in a temp dir.
    static func modelDirectory() throws -> URL { try TestPaths.modelWithTokenizer(fixtures.appendingPathComponent("model")) }

    static let loaded: Result<LoadedModel, Error> = Result { try ModelLoader.load(path: try modelDirectory().path, computeMode: .f32) }

    func npy(_ c: String, _ f: String) throws -> [Float] {
        try NPYFile.read(Self.fixtures.appendingPathComponent(c).appendingPathComponent(f)).floats()
    }

    func checkCase(_ name: String) throws {
        let m = try Self.loaded.get()
        let vision = try XCTUnwrap(m.vision, "fixture model must have a vision tower")
        let exp = try Fixtures.json("gemma3-vlm/\(name)/expected.json")
        let messages = try XCTUnwrap(exp["messages"] as? [[String: Any]])
        var system: String?
        var text = ""
        var images = 0
        for msg in messages {
            for part in msg["content"] as? [[String: Any]] ?? [] {
                if part["type"] as? String == "image" { images += 1 }
                if part["type"] as? String == "text" {
                    if msg["role"] as? String == "system" { system = part["text"] as? String } else { text = part["text"] as? String ?? "" }
                }
            }
        }
        let ids = try m.chatPromptIDs(text: text, system: system, imageCount: images)
        XCTAssertEqual(ids, ints(exp["input_ids"]), "\(name): prompt ids")

        // Vision tower + projector on the reference pixel values (one file per image).
        let files = exp["pixel_values_files"] as? [String] ?? ["pixel_values.npy"]
        XCTAssertEqual(files.count, images)
        let feats = try files.map { try vision.imageTokens(pixelValues: try npy(name, $0)) }
        let refFeats = try npy(name, "image_features.npy")
        let (df, sf) = maxAbsDiff(feats.flatMap { $0.floats() }, refFeats)
        XCTAssertLessThanOrEqual(df, 1e-4 * max(sf, 1), "\(name): image features")

        let prompt = try m.model.promptInput(ids: ids, imageTokens: feats, imageTokenID: vision.settings.imageTokenID)
        let cache = try m.model.makeCache(tokens: ids.count + 8)
        let hidden = try m.model.forward(embeddings: prompt.embeddings, cache: cache, extraVisible: prompt.extraVisible)
        let last = try m.model.logits(try hidden.rows((ids.count - 1)..<ids.count)).floats()
        let refLast = try npy(name, "logits_last.npy")
        let (d, s) = maxAbsDiff(last, refLast)
        XCTAssertLessThanOrEqual(d, 1e-3 * s, "\(name): last-position logits (max |Δ| \(d))")
        // Every position, on the probe ids (the image block and the text after it).
        let probe = ints(exp["probe_ids"])
        let probeLogits = try m.model.logits(hidden, forTokens: probe).floats()
        let refProbe = try npy(name, "logits_probe.npy")
        let (dp, sp) = maxAbsDiff(probeLogits, refProbe)
        XCTAssertLessThanOrEqual(dp, 1e-3 * sp, "\(name): probe logits at all positions (max |Δ| \(dp))")

        let g = try m.model.generateGreedy(prompt: prompt, maxNewTokens: ints(exp["greedy_ids"]).count, stopIDs: [])
        XCTAssertEqual(g.tokenIDs, ints(exp["greedy_ids"]), "\(name): greedy tokens")
    }

    func testImageAtModelSize() throws { try checkCase("at-size") }
    func testImageWithSystemText() throws { try checkCase("at-size-system") }
    func testTwoImagesInOneTurn() throws { try checkCase("two-images") }
    func testResizedLargeImage() throws { try checkCase("resize-large-rgb") }
    func testResizedSmallGrayImage() throws { try checkCase("resize-small-gray") }

    func testImageBlockLongerThanSlidingWindow() throws {
        let m = try Self.loaded.get()
        let window = try XCTUnwrap(m.model.config.slidingWindow)
        XCTAssertLessThan(window, try XCTUnwrap(m.vision).settings.mmTokensPerImage)
        XCTAssertTrue(m.model.config.layerTypes.contains(.sliding) && m.model.config.layerTypes.contains(.full))
    }

    func testImagesWithoutVisionTowerAreRefused() throws {
        let text = try ModelLoader.load(path: try Fixtures.gemma270mGGUF().path)
        XCTAssertThrowsError(try text.chatPromptIDs(text: "x", system: nil, imageCount: 1)) { e in
            XCTAssertTrue("\(e)".contains("no vision tower"), "\(e)")
        }
    }
}

/// From image files: decoding and preprocessing feed the same pixel values as the reference processor.
final class ImageFileInputTests: XCTestCase {
    func testPixelValuesFromFilesMatchTheReferenceProcessor() throws {
        let m = try Gemma3VisionParityTests.loaded.get()
        for name in ["at-size", "resize-large-rgb", "resize-small-gray"] {
            let ref = try NPYFile.read(Fixtures.url("gemma3-vlm/\(name)/pixel_values.npy")).floats()
            let file = Fixtures.url("gemma3-vlm/\(name)/image.png")
            // The fixtures were made with transformers' PIL processor: that backend must be exact.
            let pil = try m.pixelValues(imageFile: file, backend: .pil)
            XCTAssertEqual(maxAbsDiff(pil, ref).diff, 0, "\(name): PIL backend")
            // torchvision's integer kernel may differ by one 8-bit level (2/255 in normalised units).
            let tv = try m.pixelValues(imageFile: file, backend: .torchvision)
            let d = maxAbsDiff(tv, ref).diff
            XCTAssertLessThanOrEqual(d, 2.0 / 255 + 1e-6, "\(name): torchvision backend")
            print("pixel values \(name): torchvision backend vs reference max |Δ| = \(d) (\(d * 127.5) levels)")
        }
    }

    func testImagePromptFromFileGivesReferenceLogits() throws {
        let m = try Gemma3VisionParityTests.loaded.get()
        let exp = try Fixtures.json("gemma3-vlm/resize-large-rgb/expected.json")
        let pixels = try m.pixelValues(imageFile: Fixtures.url("gemma3-vlm/resize-large-rgb/image.png"), backend: .pil)
        let prompt = try m.imagePrompt(text: "Is the artery in this angiogram blocked? Answer yes or no.", system: nil, images: [pixels])
        XCTAssertEqual(prompt.ids, ints(exp["input_ids"]))
        let g = try m.model.generateGreedy(prompt: prompt, maxNewTokens: 8, stopIDs: [])
        XCTAssertEqual(g.tokenIDs, ints(exp["greedy_ids"]))
        let (d, s) = maxAbsDiff(g.firstLogits, try NPYFile.read(Fixtures.url("gemma3-vlm/resize-large-rgb/logits_last.npy")).floats())
        XCTAssertLessThanOrEqual(d, 1e-3 * s)
    }

    func testPreprocessorSizeMustMatchTheVisionTower() throws {
        let dir = try Gemma3VisionParityTests.modelDirectory()
        let cfg = dir.appendingPathComponent("preprocessor_config.json")
        var d = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cfg)) as? [String: Any])
        try FileManager.default.removeItem(at: cfg)
        d["size"] = ["height": 224, "width": 224]
        try JSONSerialization.data(withJSONObject: d).write(to: cfg)
        let m = try ModelLoader.load(path: dir.path, computeMode: .f32)
        XCTAssertThrowsError(try m.pixelValues(imageFile: Fixtures.url("gemma3-vlm/at-size/image.png"))) { e in
            XCTAssertTrue("\(e)".contains("does not match the vision tower"), "\(e)")
        }
    }
}
