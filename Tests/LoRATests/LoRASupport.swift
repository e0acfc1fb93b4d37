import Foundation
import XCTest
import MedGemma
import ModelFiles

enum LoRAFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let root = packageRoot.appendingPathComponent("Tests/Fixtures")
    static func url(_ rel: String) -> URL { root.appendingPathComponent(rel) }

    static func json(_ rel: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url(rel))) as? [String: Any])
    }

    /// The reference tokenizer, decompressed into .cache by the tokenizer tests or here.
    static func tokenizer() throws -> URL {
        let cached = packageRoot.appendingPathComponent(".cache/gemma3-tokenizer.json")
        if FileManager.default.fileExists(atPath: cached.path) { return cached }
        let xzFile = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/gemma3-tokenizer.json.xz")
        try FileManager.default.createDirectory(at: cached.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = cached.appendingPathExtension("lora.tmp")
        FileManager.default.createFile(atPath: tmp.path, contents: nil)
        let xz = Process()
        xz.executableURL = URL(fileURLWithPath: "/usr/bin/xz")
        xz.arguments = ["-dc", xzFile.path]
        xz.standardOutput = try FileHandle(forWritingTo: tmp)
        try xz.run()
        xz.waitUntilExit()
        guard xz.terminationStatus == 0 else { XCTFail("cannot decompress \(xzFile.path)"); throw XCTSkip("no tokenizer") }
        _ = try? FileManager.default.removeItem(at: cached)
        try FileManager.default.moveItem(at: tmp, to: cached)
        return cached
    }

    /// The tiny VLM fixture with the tokenizer beside it, in a temp directory.
    static func baseModelDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lora-base-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = url("gemma3-vlm/model")
        for f in try FileManager.default.contentsOfDirectory(atPath: src.path) {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(f), withDestinationURL: src.appendingPathComponent(f))
        }
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("tokenizer.json"), withDestinationURL: try tokenizer())
        return dir
    }

    static func npy(_ rel: String) throws -> [Float] { try NPYFile.read(url(rel)).floats() }
}

func ints(_ any: Any?) -> [Int] { (any as? [NSNumber])?.map(\.intValue) ?? [] }

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> (diff: Float, scale: Float) {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    var d: Float = 0, s: Float = 0
    for i in 0..<a.count { d = max(d, abs(a[i] - b[i])); s = max(s, abs(b[i])) }
    return (d, s)
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
