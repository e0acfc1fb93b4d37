import Foundation
import TestSupport
import XCTest
@testable import Tokenizer

/// The demo model's own small tokenizer (models/demo-base/tokenizer.json) against the ids and text that
/// Hugging Face `tokenizers` gives for the same file (Tests/Fixtures/demo-tokenizer/expected.json, both
/// written by tools/make_demo_base.py).
final class DemoTokenizerTests: XCTestCase {
    struct Case: Decodable {
        var name: String
        var text: String
        var ids: [Int]
        var decoded: String
        var decoded_skipping_special: String
    }

    struct Expected: Decodable {
        var vocabulary_size: Int
        var special_token_ids: [String: Int]
        var cases: [Case]
    }

    static let tokenizerURL = TestPaths.packageRoot.appendingPathComponent("models/demo-base/tokenizer.json")

    func load() throws -> (GemmaTokenizer, Expected) {
        let tokenizer = try GemmaTokenizer(tokenizerJSON: Self.tokenizerURL)
        let data = try Data(contentsOf: TestPaths.fixture("demo-tokenizer/expected.json"))
        return (tokenizer, try JSONDecoder().decode(Expected.self, from: data))
    }

    func testEncodeMatchesTokenizers() throws {
        let (tokenizer, expected) = try load()
        XCTAssertGreaterThanOrEqual(expected.cases.count, 15)
        for c in expected.cases {
            XCTAssertEqual(tokenizer.encode(c.text, addBOS: true), c.ids, "encode(\(c.name))")
            // The <bos> template is the only thing addBOS adds.
            XCTAssertEqual(tokenizer.encode(c.text, addBOS: false), Array(c.ids.dropFirst()), "encode(\(c.name), addBOS: false)")
        }
    }

    func testDecodeMatchesTokenizers() throws {
        let (tokenizer, expected) = try load()
        for c in expected.cases {
            XCTAssertSameBytes(tokenizer.decode(c.ids), c.decoded, "decode(\(c.name))")
            XCTAssertSameBytes(tokenizer.decode(c.ids, skipSpecialTokens: true), c.decoded_skipping_special,
                               "decode(\(c.name), skipSpecialTokens: true)")
        }
    }

    func testGemmaSpecialTokensAtSmallIDs() throws {
        let (tokenizer, expected) = try load()
        let names = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>",
                     "<start_of_image>", "<end_of_image>", "<image_soft_token>"]
        for (id, name) in names.enumerated() {
            XCTAssertEqual(tokenizer.tokenID(name), id, name)
            XCTAssertEqual(expected.special_token_ids[name], id, name)
            XCTAssertTrue(tokenizer.isSpecialToken(id), name)
        }
        XCTAssertEqual(tokenizer.padID, 0)
        XCTAssertEqual(tokenizer.eosID, 1)
        XCTAssertEqual(tokenizer.bosID, 2)
        XCTAssertEqual(tokenizer.unknownID, 3)
        XCTAssertEqual(tokenizer.vocabularySize, expected.vocabulary_size)
        XCTAssertLessThanOrEqual(tokenizer.vocabularySize, 2048)
        // Byte fallback: every byte has its piece right after the special tokens.
        XCTAssertEqual(tokenizer.tokenID("<0x00>"), 10)
        XCTAssertEqual(tokenizer.tokenID("<0xFF>"), 265)
    }

    /// The triage turn as our chat format writes it, with the image marker expanded as the processor does
    /// for 64 soft tokens, is the string the fixture tokenized; the answers are one word each.
    func testTriageTurnWithImageBlock() throws {
        let (tokenizer, expected) = try load()
        let byName = Dictionary(uniqueKeysWithValues: expected.cases.map { ($0.name, $0) })
        let system = try XCTUnwrap(byName["system"]).text
        let prompt = try XCTUnwrap(byName["prompt"]).text
        let turn = try XCTUnwrap(byName["triage-turn-with-image"])
        let block = "\n\n<start_of_image>" + String(repeating: "<image_soft_token>", count: 64) + "<end_of_image>\n\n"
        let built = GemmaChatFormat.userTurn(text: prompt, system: system, imageCount: 1)
            .replacingOccurrences(of: "<start_of_image>", with: block)
        XCTAssertEqual(built, turn.text)
        let ids = tokenizer.encode(built, addBOS: true)
        XCTAssertEqual(ids, turn.ids)
        XCTAssertEqual(ids.filter { $0 == 9 }.count, 64, "64 <image_soft_token>")
        XCTAssertEqual(ids.filter { $0 == 7 }.count, 1, "one <start_of_image>")
        XCTAssertEqual(ids.filter { $0 == 8 }.count, 1, "one <end_of_image>")
        // Added tokens cut the text into segments, so the tail is "\n" and "model\n" tokenized on their own.
        let tail = [6] + tokenizer.encode("\n", addBOS: false) + [5] + tokenizer.encode("model\n", addBOS: false)
        XCTAssertEqual(Array(ids.suffix(tail.count)), tail)
        for answer in ["patent", "blocked"] {
            XCTAssertEqual(tokenizer.encode(answer, addBOS: false).count, 1, answer)
        }
    }
}
