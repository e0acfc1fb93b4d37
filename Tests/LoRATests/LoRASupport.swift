import Foundation
import XCTest
import MedGemma
import ModelFiles
import TestSupport

enum LoRAFixtures {
    static func url(_ rel: String) -> URL { TestPaths.fixture(rel) }
    static func json(_ rel: String) throws -> [String: Any] { try TestPaths.json(rel) }

    /// The tiny VLM fixture with the tokenizer beside it, in a temp directory.
    static func baseModelDirectory() throws -> URL { try TestPaths.modelWithTokenizer(url("gemma3-vlm/model")) }

    static func npy(_ rel: String) throws -> [Float] { try NPYFile.read(url(rel)).floats() }
}

/// Runs one base-fixture case (prompt ids + pixel values) through `model` with `adapter` selected.
struct CaseRun {
    var imageFeatures: [Float]
    var lastLogits: [Float]
    var probeLogits: [Float]
    var greedy: [Int]

    init(_ model: LoadedModel, case name: String, adapter: String?) throws {
        let exp = try LoRAFixtures.json("gemma3-vlm/\(name)/expected.json")
        let ids = ints(exp["input_ids"])
        let vision = try XCTUnwrap(model.vision)
        let pixels = try LoRAFixtures.npy("gemma3-vlm/\(name)/pixel_values.npy")
        let feats = try vision.imageTokens(pixelValues: pixels, adapter: adapter)
        imageFeatures = feats.floats()
        let prompt = try model.model.promptInput(ids: ids, imageTokens: [feats], imageTokenID: vision.settings.imageTokenID)
        let cache = try model.model.makeCache(tokens: ids.count)
        let h = try model.model.forward(embeddings: prompt.embeddings, cache: cache, extraVisible: prompt.extraVisible, adapter: adapter)
        lastLogits = try model.model.logits(try h.rows((ids.count - 1)..<ids.count)).floats()
        probeLogits = try model.model.logits(h, forTokens: ints(exp["probe_ids"])).floats()
        greedy = try model.model.generateGreedy(prompt: prompt, maxNewTokens: 8, stopIDs: [], adapter: adapter).tokenIDs
    }
}
