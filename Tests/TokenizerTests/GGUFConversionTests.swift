import Foundation
import XCTest
@testable import Tokenizer

/// The GGUF constructor against the tokenizer.json transformers wrote from the same GGUF. The GGUF's
/// arrays are rebuilt from the tokenizer.json and Tests/Fixtures/tokenizer/gguf_vocabulary.json, which
/// tools/make_tokenizer_fixtures.py checked against the real gemma-3-270m GGUF.
final class GGUFConversionTests: XCTestCase {
    struct Layout: Decodable {
        let token_count: Int
        let bos_id: Int
        let eos_id: Int
        let unknown_id: Int
        let padding_id: Int
        let add_space_prefix: Bool
        let space_spelled_ids: [Int]
        let token_type_runs: [[Int]]
        let score_runs: [ScoreRun]
        let merge_count: Int
    }

    /// [first, last, "constant" | "offset_minus_id", value]
    struct ScoreRun: Decodable {
        let first: Int, last: Int, kind: String, value: Float
        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            first = try c.decode(Int.self)
            last = try c.decode(Int.self)
            kind = try c.decode(String.self)
            value = try c.decode(Float.self)
        }
    }

    struct GGUFArrays {
        let layout: Layout
        let pieces: [String]
        let scores: [Float]
        let types: [Int32]
    }

    static func ggufArrays(from reference: ReferenceData) throws -> GGUFArrays {
        let url = ReferenceData.fixtures.appendingPathComponent("gguf_vocabulary.json")
        let layout = try JSONDecoder().decode(Layout.self, from: try Data(contentsOf: url))
        var pieces = try (0..<layout.token_count).map { id -> String in
            guard let piece = reference.tokenizer.piece(id) else { throw ReferenceDataError(message: "no piece \(id)") }
            return piece
        }
        for id in layout.space_spelled_ids {
            pieces[id] = String(repeating: " ", count: pieces[id].unicodeScalars.count)
        }
        var types = [Int32](repeating: 0, count: layout.token_count)
        for run in layout.token_type_runs { for id in run[0]...run[1] { types[id] = Int32(run[2]) } }
        var scores = [Float](repeating: .nan, count: layout.token_count)
        for run in layout.score_runs {
            for id in run.first...run.last { scores[id] = run.kind == "constant" ? run.value : run.value - Float(id) }
        }
        XCTAssertFalse(types.contains(0))
        XCTAssertFalse(scores.contains(where: \.isNaN))
        return GGUFArrays(layout: layout, pieces: pieces, scores: scores, types: types)
    }

    func testGGUFConstructorMatchesTokenizerJSON() throws {
        let reference = try ReferenceData.get()
        let gguf = try Self.ggufArrays(from: reference)
        let layout = gguf.layout
        let fromGGUF = try GemmaTokenizer(
            pieces: gguf.pieces, scores: gguf.scores, tokenTypes: gguf.types, bosID: layout.bos_id, eosID: layout.eos_id,
            unknownID: layout.unknown_id, paddingID: layout.padding_id, addSpacePrefix: layout.add_space_prefix,
            extraSpecialTokens: ["<image_soft_token>"])
        let fromJSON = reference.tokenizer

        // Same merges in the same order.
        XCTAssertEqual(fromGGUF.mergeCount, layout.merge_count)
        let a = fromGGUF.model.merges.orderedEntries(), b = fromJSON.model.merges.orderedEntries()
        XCTAssertEqual(a.count, b.count)
        if let k = (0..<min(a.count, b.count)).first(where: { a[$0] != b[$0] }) {
            XCTFail("merge #\(k) differs: GGUF \(a[k]), tokenizer.json \(b[k])")
        }

        // Same vocabulary, added tokens and special ids.
        XCTAssertEqual(fromGGUF.vocabularySize, fromJSON.vocabularySize)
        XCTAssertEqual(fromGGUF.bosID, fromJSON.bosID)
        XCTAssertEqual(fromGGUF.eosID, fromJSON.eosID)
        XCTAssertEqual(fromGGUF.padID, fromJSON.padID)
        XCTAssertEqual(fromGGUF.unknownID, fromJSON.unknownID)
        func summary(_ t: GemmaTokenizer) -> [String] {
            t.addedVocabulary.tokens.map { "\($0.id) \($0.special) \($0.normalized) \(String(decoding: $0.content, as: UTF8.self).debugDescription)" }.sorted()
        }
        XCTAssertEqual(summary(fromGGUF), summary(fromJSON))
        for id in 0..<fromJSON.vocabularySize where fromGGUF.isSpecialToken(id) != fromJSON.isSpecialToken(id) {
            XCTFail("special flag of \(id) differs")
            break
        }

        // Same ids and text on the corpus and the chat prompts.
        for entry in reference.corpus.encode {
            XCTAssertEqual(fromGGUF.encode(entry.text, addBOS: true), entry.ids, "GGUF encode(\(entry.name))")
            XCTAssertSameBytes(fromGGUF.decode(entry.ids), entry.decoded, "GGUF decode(\(entry.name))")
        }
        for entry in reference.corpus.chat {
            XCTAssertEqual(fromGGUF.encode(entry.prompt_without_bos, addBOS: true), entry.ids, "GGUF chat \(entry.name)")
        }
    }

    func testGGUFConstructorWithoutExtraTokens() throws {
        let reference = try ReferenceData.get()
        let gguf = try Self.ggufArrays(from: reference)
        let tokenizer = try GemmaTokenizer(
            pieces: gguf.pieces, scores: gguf.scores, tokenTypes: gguf.types, bosID: 2, eosID: 1, unknownID: 3,
            paddingID: 0, addSpacePrefix: false)
        XCTAssertEqual(tokenizer.vocabularySize, 262_144)
        XCTAssertNil(tokenizer.tokenID("<image_soft_token>"))
        XCTAssertEqual(tokenizer.tokenID("▁▁"), 138, "runs of spaces are respelled with ▁")
        XCTAssertNil(tokenizer.tokenID("  "))
        XCTAssertEqual(tokenizer.encode("a  b", addBOS: false), reference.tokenizer.encode("a  b", addBOS: false))
    }

    func testRespelling() {
        func respell(_ s: String) -> String { String(decoding: GGUFVocabularyConversion.respelled(Array(s.utf8)), as: UTF8.self) }
        XCTAssertEqual(respell("  "), "▁▁")
        XCTAssertEqual(respell(" \t\u{3000}"), "▁▁▁", "any whitespace counts once a space is present")
        XCTAssertEqual(respell("\t\t"), "\t\t", "no space, no respelling")
        XCTAssertEqual(respell(" a"), " a")
        XCTAssertEqual(respell("\u{200B} "), "\u{200B} ", "U+200B is not whitespace to Python")
    }
}
