import Foundation
import XCTest
import TestSupport

/// `generate --image` end to end on the tiny VLM fixture, and its refusals.
final class GenerateImageTests: XCTestCase {
    static func modelDirectory() throws -> URL {
        try TestPaths.modelWithTokenizer(CLI.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3-vlm/model"))
    }

    func testImageGenerationMatchesTransformers() throws {
        let exp = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: CLI.packageRoot
            .appendingPathComponent("Tests/Fixtures/gemma3-vlm/at-size/expected.json"))) as? [String: Any])
        let image = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3-vlm/at-size/image.png")
        let r = try CLI.run(["generate", "--model", try Self.modelDirectory().path, "--image", image.path,
                             "--prompt", "Is the artery in this angiogram blocked? Answer yes or no.", "--max-new-tokens", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual((out["prompt_token_ids"] as? [NSNumber])?.map(\.intValue), (exp["input_ids"] as? [NSNumber])?.map(\.intValue))
        XCTAssertEqual((out["token_ids"] as? [NSNumber])?.map(\.intValue), (exp["greedy_ids"] as? [NSNumber])?.map(\.intValue))
    }

    func testAdapterOnTheCommandLine() throws {
        let exp = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: CLI.packageRoot
            .appendingPathComponent("Tests/Fixtures/lora/all-linear/expected.json"))) as? [String: Any])
        let greedy = (((exp["cases"] as? [String: Any])?["at-size"] as? [String: Any])?["greedy_ids"] as? [NSNumber])?.map(\.intValue)
        let image = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3-vlm/at-size/image.png")
        let r = try CLI.run(["generate", "--model", try Self.modelDirectory().path, "--image", image.path,
                             "--adapter", CLI.packageRoot.appendingPathComponent("Tests/Fixtures/lora/all-linear").path,
                             "--prompt", "Is the artery in this angiogram blocked? Answer yes or no.", "--max-new-tokens", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual((out["token_ids"] as? [NSNumber])?.map(\.intValue), greedy)
        let bad = try CLI.run(["generate", "--model", try Self.modelDirectory().path, "--prompt", "x",
                               "--adapter", CLI.packageRoot.appendingPathComponent("Tests/Fixtures/lora/bad/shape-mismatch").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("lora_A.weight"), bad.stderr)
    }

    func testImageRefusals() throws {
        let model = try Self.modelDirectory().path
        let dir = try CLI.tempDir()
        // Truncated PNG.
        let png = try Data(contentsOf: CLI.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3-vlm/at-size/image.png"))
        let truncated = dir.appendingPathComponent("truncated.png")
        try png.prefix(png.count / 3).write(to: truncated)
        var r = try CLI.run(["generate", "--model", model, "--image", truncated.path, "--prompt", "x"])
        XCTAssertNotEqual(r.status, 0); XCTAssertLessThan(r.status, 128)
        XCTAssertTrue(r.stderr.contains("truncated.png"), r.stderr)
        // Not an image.
        let text = dir.appendingPathComponent("notes.png")
        try Data("not an image".utf8).write(to: text)
        r = try CLI.run(["generate", "--model", model, "--image", text.path, "--prompt", "x"])
        XCTAssertNotEqual(r.status, 0); XCTAssertTrue(r.stderr.contains("notes.png"), r.stderr)
        // A header claiming an absurd size is refused before allocating.
        var huge = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52])
        huge.append(contentsOf: [0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0, 8, 2, 0, 0, 0, 0, 0, 0, 0])
        let hugeURL = dir.appendingPathComponent("huge.png")
        try huge.write(to: hugeURL)
        r = try CLI.run(["generate", "--model", model, "--image", hugeURL.path, "--prompt", "x"])
        XCTAssertNotEqual(r.status, 0); XCTAssertTrue(r.stderr.contains("huge.png"), r.stderr)
        // A text-only model given --image.
        let textModel = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3-text/sliding-gqa").path
        let textDir = try CLI.tempDir()
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.createSymbolicLink(at: textDir.appendingPathComponent(f), withDestinationURL: URL(fileURLWithPath: textModel + "/" + f))
        }
        try FileManager.default.createSymbolicLink(at: textDir.appendingPathComponent("tokenizer.json"),
                                                   withDestinationURL: try TestPaths.referenceTokenizer())
        r = try CLI.run(["generate", "--model", textDir.path, "--image", truncated.path, "--prompt", "x"])
        XCTAssertNotEqual(r.status, 0); XCTAssertTrue(r.stderr.contains("no vision tower"), r.stderr)
        // --image with --raw.
        r = try CLI.run(["generate", "--model", model, "--image", truncated.path, "--prompt", "x", "--raw"])
        XCTAssertNotEqual(r.status, 0); XCTAssertTrue(r.stderr.contains("--raw"), r.stderr)
    }
}
