import Foundation
import XCTest
@testable import Tokenizer

/// The real Gemma 3 vocabulary against ids and text that Hugging Face `tokenizers` produced
/// (Tests/Fixtures/tokenizer/corpus.json).
final class GemmaTokenizerReferenceTests: XCTestCase {
    func testCorpusIsLargeEnough() throws {
        let reference = try ReferenceData.get()
        XCTAssertGreaterThanOrEqual(reference.corpus.encode.count, 60)
        XCTAssertGreaterThan(reference.corpus.encode.map(\.text.count).max() ?? 0, 4500)
    }

    func testEncodeMatchesTokenizers() throws {
        let reference = try ReferenceData.get()
        for entry in reference.corpus.encode {
            let ids = reference.tokenizer.encode(entry.text, addBOS: true)
            XCTAssertEqual(ids, entry.ids, "encode(\(entry.name))")
            XCTAssertEqual(reference.tokenizer.encode(entry.text, addBOS: false), Array(entry.ids.dropFirst()),
                           "encode(\(entry.name), addBOS: false)")
        }
    }

    func testDecodeMatchesTokenizers() throws {
        let reference = try ReferenceData.get()
        for entry in reference.corpus.encode {
            XCTAssertSameBytes(reference.tokenizer.decode(entry.ids), entry.decoded, "decode(\(entry.name))")
            XCTAssertSameBytes(reference.tokenizer.decode(entry.ids, skipSpecialTokens: true), entry.decoded_skipping_special,
                               "decode(\(entry.name), skipSpecialTokens: true)")
        }
        for entry in reference.corpus.decode {
            XCTAssertSameBytes(reference.tokenizer.decode(entry.ids), entry.decoded, "decode(\(entry.name))")
            XCTAssertSameBytes(reference.tokenizer.decode(entry.ids, skipSpecialTokens: true), entry.decoded_skipping_special,
                               "decode(\(entry.name), skipSpecialTokens: true)")
        }
    }

    func testSpecialTokensAndVocabulary() throws {
        let reference = try ReferenceData.get()
        let tokenizer = reference.tokenizer
        XCTAssertEqual(tokenizer.vocabularySize, reference.corpus.vocabulary_size)
        XCTAssertEqual(tokenizer.vocabularySize, 262_145)
        XCTAssertEqual(tokenizer.mergeCount, 514_906)
        for (token, id) in reference.corpus.token_ids {
            XCTAssertEqual(tokenizer.tokenID(token), id, "tokenID(\(token.debugDescription))")
            XCTAssertSameBytes(tokenizer.piece(id) ?? "(nil)", token, "piece(\(id))")
        }
        XCTAssertEqual(tokenizer.bosID, 2)
        XCTAssertEqual(tokenizer.eosID, 1)
        XCTAssertEqual(tokenizer.padID, 0)
        XCTAssertEqual(tokenizer.unknownID, 3)
        XCTAssertEqual(tokenizer.tokenID("<start_of_turn>"), 105)
        XCTAssertEqual(tokenizer.tokenID("<end_of_turn>"), 106)
        XCTAssertEqual(tokenizer.tokenID("<start_of_image>"), 255_999)
        XCTAssertEqual(tokenizer.tokenID("<end_of_image>"), 256_000)
        XCTAssertEqual(tokenizer.tokenID("<image_soft_token>"), 262_144)
        XCTAssertNil(tokenizer.tokenID("no such piece at all"))
        XCTAssertNil(tokenizer.piece(262_145))
        XCTAssertNil(tokenizer.piece(-1))
        XCTAssertTrue(tokenizer.isSpecialToken(105))
        XCTAssertTrue(tokenizer.isSpecialToken(262_144))
        XCTAssertFalse(tokenizer.isSpecialToken(107), "\\n is an added token but not a special one")
        XCTAssertFalse(tokenizer.isSpecialToken(255_999), "<start_of_image> is user-defined in the GGUF, not special")
        // Canonically equivalent but distinct pieces keep their own ids.
        let nfd = "\u{09AF}\u{09BC}", nfc = "\u{09DF}"
        XCTAssertNotNil(tokenizer.tokenID(nfd))
        XCTAssertNotNil(tokenizer.tokenID(nfc))
        XCTAssertNotEqual(tokenizer.tokenID(nfd), tokenizer.tokenID(nfc))
    }

    func testChatFormatMatchesChatTemplate() throws {
        let reference = try ReferenceData.get()
        for entry in reference.corpus.chat {
            let prompt = GemmaChatFormat.userTurn(text: entry.text, system: entry.system, imageCount: entry.image_count)
            XCTAssertSameBytes(prompt, entry.prompt_without_bos, "userTurn(\(entry.name))")
            if entry.image_count == 0 {
                XCTAssertSameBytes(GemmaChatFormat.userTurn(text: entry.text, system: entry.system), entry.prompt_without_bos,
                                   "userTurn(\(entry.name))")
            }
            XCTAssertEqual([reference.tokenizer.bosID] + reference.tokenizer.encode(prompt, addBOS: false), entry.ids,
                           "ids of \(entry.name)")
            XCTAssertEqual(reference.tokenizer.encode(prompt, addBOS: true), entry.ids, "ids of \(entry.name)")
        }
        XCTAssertEqual(GemmaChatFormat.userTurn(text: "Hi", system: nil),
                       "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n")
        XCTAssertEqual(GemmaChatFormat.userTurn(text: "Hi", system: ""),
                       "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n")
        XCTAssertEqual(GemmaChatFormat.userTurn(text: "Hi", system: "Be brief."),
                       "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n")
    }

    /// Other tokenizer.json spellings of the same vocabulary (Google's Replace-only form, Llama's
    /// Prepend form, Metaspace, added-token options): each is the reference file with a few exact text
    /// substitutions, and `tokenizers` ran on the same bytes.
    func testTokenizerJSONVariants() throws {
        let reference = try ReferenceData.get()
        XCTAssertGreaterThanOrEqual(reference.corpus.variants.count, 5)
        for variant in reference.corpus.variants {
            var data = reference.tokenizerData
            for pair in variant.substitutions {
                let old = Data(pair[0].utf8), new = Data(pair[1].utf8)
                guard let range = data.range(of: old) else {
                    XCTFail("\(variant.name): substitution target not found: \(pair[0].prefix(60).debugDescription)")
                    continue
                }
                XCTAssertNil(data.range(of: old, in: range.upperBound..<data.count), "\(variant.name): target is not unique")
                data.replaceSubrange(range, with: new)
            }
            let tokenizer = try GemmaTokenizer(tokenizerJSONData: data, source: "variant '\(variant.name)'")
            let texts = Dictionary(reference.corpus.encode.map { ($0.name, $0.text) }, uniquingKeysWith: { a, _ in a })
            for entry in variant.encode {
                guard let text = texts[entry.name] else {
                    XCTFail("\(variant.name): no corpus text named \(entry.name)")
                    continue
                }
                XCTAssertEqual(tokenizer.encode(text, addBOS: true), entry.ids, "\(variant.name): encode(\(entry.name))")
                XCTAssertSameBytes(tokenizer.decode(entry.ids), entry.decoded, "\(variant.name): decode(\(entry.name))")
            }
        }
    }

    func testTruncatedReferenceIsAnError() throws {
        let reference = try ReferenceData.get()
        let cut = reference.tokenizerData.prefix(reference.tokenizerData.count / 2)
        XCTAssertThrowsError(try GemmaTokenizer(tokenizerJSONData: Data(cut), source: "/cut/tokenizer.json")) { error in
            guard let error = error as? TokenizerError, case .malformedJSON = error else {
                return XCTFail("expected TokenizerError.malformedJSON, got \(error)")
            }
            XCTAssertTrue(error.description.contains("/cut/tokenizer.json"), error.description)
            XCTAssertTrue(error.description.contains("truncated"), error.description)
        }
    }

    /// Load and encode speed; the figures go to docs/PERFORMANCE.md. Bounds are only checked in
    /// optimised builds (debug Swift is 10–100× slower on these loops).
    func testLoadAndEncodeSpeed() throws {
        let reference = try ReferenceData.get()
        var start = Date()
        let tokenizer = try GemmaTokenizer(tokenizerJSONData: reference.tokenizerData, source: reference.tokenizerURL.path)
        let load = Date().timeIntervalSince(start)
        let paragraph = reference.corpus.encode.max(by: { $0.text.utf8.count < $1.text.utf8.count })!
        start = Date()
        var total = 0
        let rounds = 20
        for _ in 0..<rounds { total += tokenizer.encode(paragraph.text, addBOS: true).count }
        let encode = Date().timeIntervalSince(start) / Double(rounds)
        XCTAssertEqual(total, paragraph.ids.count * rounds)
        let characters = paragraph.text.count
        print(String(format: "tokenizer.json load %.3f s (first load %.3f s); encode of %d characters (%d ids) %.2f ms, %.1f M chars/s",
                     load, reference.loadSeconds, characters, paragraph.ids.count, encode * 1000,
                     Double(characters) / encode / 1e6))
        #if !DEBUG
        XCTAssertLessThan(load, 3.0, "loading tokenizer.json should take well under 1.5 s in release builds")
        XCTAssertLessThan(encode, 0.05, "encoding ~5k characters should take a few milliseconds")
        #endif
    }
}
