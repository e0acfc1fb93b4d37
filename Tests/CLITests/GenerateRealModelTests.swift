import Foundation
import ModelFiles
import XCTest
import TestSupport

/// `dsa-triage generate` end to end on the real Gemma 3 270M against transformers' greedy output.
final class GenerateRealModelTests: XCTestCase {
    static func gguf() throws -> String { try TestPaths.gemma270mGGUF().path }

    func expectedCases() throws -> [[String: Any]] {
        let url = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3-270m/expected.json")
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        return try XCTUnwrap(obj["cases"] as? [[String: Any]])
    }

    func testRawAndChatGenerationMatchTransformers() throws {
        let model = try Self.gguf()
        let cases = try expectedCases()
        let picks = [cases.first { $0["mode"] as? String == "raw" }, cases.first { $0["mode"] as? String == "chat" }].compactMap { $0 }
        XCTAssertEqual(picks.count, 2)
        for c in picks {
            let text = try XCTUnwrap(c["text"] as? String)
            let greedy = (c["greedy_ids"] as? [NSNumber] ?? []).map(\.intValue)
            let dump = try CLI.tempDir().appendingPathComponent("logits.npy")
            var args = ["generate", "--model", model, "--prompt", text, "--max-new-tokens", String(greedy.count),
                        "--dump-logits", dump.path, "--compute", "f32"]
            if c["mode"] as? String == "raw" { args.append("--raw") }
            let r = try CLI.run(args)
            XCTAssertEqual(r.status, 0, r.stderr)
            let out = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
            XCTAssertEqual(Set(out.keys), ["prompt_token_ids", "token_ids", "text"])
            XCTAssertEqual((out["prompt_token_ids"] as? [NSNumber])?.map(\.intValue), (c["prompt_ids"] as? [NSNumber])?.map(\.intValue))
            XCTAssertEqual((out["token_ids"] as? [NSNumber])?.map(\.intValue), greedy, "\(c["name"] ?? "")")
            XCTAssertEqual(r.stdout.split(separator: "\n").count, 1, "one JSON line")
            // The dumped logits: float32 [vocab], equal to the reference at its top-5 entries.
            let arr = try NPYFile.read(dump)
            XCTAssertEqual(arr.shape, [262_144])
            XCTAssertEqual(arr.dtype, "<f4")
            let logits = arr.floats()
            let top = try XCTUnwrap(c["last_position_top5"] as? [String: Any])
            let ids = (top["ids"] as? [NSNumber] ?? []).map(\.intValue)
            let vals = (top["logits"] as? [NSNumber] ?? []).map(\.floatValue)
            for (i, v) in zip(ids, vals) { XCTAssertEqual(logits[i], v, accuracy: 1e-3 * abs(vals[0])) }
            XCTAssertEqual(logits.indices.max { logits[$0] < logits[$1] }, ids.first)
        }
    }

    func testPromptPastTheContextLimit() throws {
        let model = try Self.gguf()
        let file = try CLI.tempDir().appendingPathComponent("long.txt")
        try String(repeating: "angiography ", count: 40_000).write(to: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["generate", "--model", model, "--prompt-file", file.path, "--raw"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(r.status, 128)
        XCTAssertTrue(r.stderr.contains("context limit of 32768"), r.stderr)
    }

    func testSystemTextGoesIntoTheUserTurn() throws {
        let model = try Self.gguf()
        let r = try CLI.run(["generate", "--model", model, "--prompt", "Hi", "--system", "Be brief.", "--max-new-tokens", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        // <bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n
        let ids = (out["prompt_token_ids"] as? [NSNumber])?.map(\.intValue) ?? []
        XCTAssertEqual(ids.first, 2)
        XCTAssertEqual(Array(ids.prefix(3)), [2, 105, 2364])
        XCTAssertEqual(Array(ids.suffix(5)), [106, 107, 105, 4368, 107])
    }
}
