import Foundation
import XCTest
@testable import Tokenizer

/// Small hand-made tokenizers: file-format corners, BPE details and error reporting. No reference data needed.
final class TokenizerBehaviourTests: XCTestCase {
    /// A tokenizer.json with a tiny vocabulary; `merges` is written as given (pairs or legacy strings).
    static func tinyJSON(vocab: [String: Int], merges: Any, modelType: String = "BPE", byteFallback: Bool = false,
                         extraModel: [String: Any] = [:], top: [String: Any] = [:]) -> Data {
        var model: [String: Any] = ["type": modelType, "vocab": vocab, "merges": merges, "unk_token": "<unk>",
                                    "fuse_unk": true, "byte_fallback": byteFallback, "dropout": NSNull()]
        model.merge(extraModel) { $1 }
        var document: [String: Any] = [
            "version": "1.0",
            "added_tokens": [["id": 0, "content": "<unk>", "special": true, "normalized": false, "lstrip": false,
                              "rstrip": false, "single_word": false],
                             ["id": 1, "content": "<s>", "special": true, "normalized": false, "lstrip": false,
                              "rstrip": false, "single_word": false],
                             ["id": 2, "content": "</s>", "special": true, "normalized": false, "lstrip": false,
                              "rstrip": false, "single_word": false]],
            "normalizer": ["type": "Replace", "pattern": ["String": " "], "content": "▁"],
            "pre_tokenizer": NSNull(),
            "post_processor": NSNull(),
            "decoder": ["type": "Sequence", "decoders": [["type": "Replace", "pattern": ["String": "▁"], "content": " "],
                                                         ["type": "ByteFallback"], ["type": "Fuse"]]],
            "model": model,
        ]
        document.merge(top) { $1 }
        return try! JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
    }

    static let vocab: [String: Int] = ["<unk>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4, "▁": 5, "aa": 6, "ab": 7,
                                       "aab": 8, "▁a": 9, "<0x41>": 10, "<0xC3>": 11, "<0xA9>": 12]
    static let pairs = [["a", "a"], ["a", "b"], ["aa", "b"], ["▁", "a"]]

    func testLegacyAndPairMergesAgree() throws {
        let modern = try GemmaTokenizer(tokenizerJSONData: Self.tinyJSON(vocab: Self.vocab, merges: Self.pairs), source: "modern")
        let legacy = try GemmaTokenizer(tokenizerJSONData: Self.tinyJSON(vocab: Self.vocab, merges: Self.pairs.map { $0.joined(separator: " ") }),
                                        source: "legacy")
        XCTAssertEqual(modern.mergeCount, 4)
        for text in ["aab", "aaaa", "a ab", "ba", "aaab aab"] {
            XCTAssertEqual(modern.encode(text, addBOS: false), legacy.encode(text, addBOS: false), text)
        }
        XCTAssertEqual(modern.encode("aab", addBOS: false), [8])
        // Equal ranks resolve left to right: "aaaa" → aa aa, "aaa" → aa a.
        XCTAssertEqual(modern.encode("aaaa", addBOS: false), [6, 6])
        XCTAssertEqual(modern.encode("aaa", addBOS: false), [6, 3])
        // No post-processor: addBOS prepends the BOS found by name.
        XCTAssertEqual(modern.bosID, 1)
        XCTAssertEqual(modern.eosID, 2)
        XCTAssertEqual(modern.encode("a", addBOS: true), [1, 3])
        XCTAssertEqual(modern.decode([9, 6, 5]), " aaa ")
    }

    func testUnknownCharactersFuseWithoutByteFallback() throws {
        let tokenizer = try GemmaTokenizer(tokenizerJSONData: Self.tinyJSON(vocab: Self.vocab, merges: Self.pairs), source: "tiny")
        XCTAssertEqual(tokenizer.encode("xyzab", addBOS: false), [0, 7])
        XCTAssertEqual(tokenizer.encode("axyb", addBOS: false), [3, 0, 4])
    }

    func testByteFallbackNeedsEveryByte() throws {
        let tokenizer = try GemmaTokenizer(tokenizerJSONData: Self.tinyJSON(vocab: Self.vocab, merges: Self.pairs, byteFallback: true),
                                           source: "tiny")
        XCTAssertEqual(tokenizer.encode("é", addBOS: false), [11, 12], "é is C3 A9")
        XCTAssertEqual(tokenizer.encode("ü", addBOS: false), [0], "C3 BC: <0xBC> is missing, so <unk>")
        XCTAssertEqual(tokenizer.decode([11, 12, 3]), "éa")
        XCTAssertEqual(tokenizer.decode([11, 3]), "\u{FFFD}a")
    }

    func testIgnoreMerges() throws {
        let data = Self.tinyJSON(vocab: Self.vocab, merges: [["a", "b"]], extraModel: ["ignore_merges": true])
        let tokenizer = try GemmaTokenizer(tokenizerJSONData: data, source: "tiny")
        XCTAssertEqual(tokenizer.encode("aab", addBOS: false), [8], "the whole word is a piece")
        XCTAssertEqual(tokenizer.encode("aabb", addBOS: false), [3, 7, 4])
    }

    // MARK: Errors name the file and the problem

    func assertError(_ data: Data, source: String = "/models/x/tokenizer.json", file: StaticString = #filePath, line: UInt = #line,
                     _ check: (TokenizerError) -> Bool) {
        XCTAssertThrowsError(try GemmaTokenizer(tokenizerJSONData: data, source: source), file: file, line: line) { error in
            guard let error = error as? TokenizerError else { return XCTFail("not a TokenizerError: \(error)", file: file, line: line) }
            XCTAssertTrue(check(error), "unexpected error: \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(source), "error does not name the file: \(error)", file: file, line: line)
        }
    }

    func testMissingFile() {
        let url = URL(fileURLWithPath: "/nonexistent/dir/tokenizer.json")
        XCTAssertThrowsError(try GemmaTokenizer(tokenizerJSON: url)) { error in
            guard let error = error as? TokenizerError, case .unreadableFile(let path, _) = error else {
                return XCTFail("expected unreadableFile, got \(error)")
            }
            XCTAssertEqual(path, url.path)
            XCTAssertTrue(error.description.contains("/nonexistent/dir/tokenizer.json"))
        }
    }

    func testTruncatedJSON() {
        let data = Self.tinyJSON(vocab: Self.vocab, merges: Self.pairs)
        for length in [0, 1, data.count / 3, data.count - 1] {
            assertError(Data(data.prefix(length))) { if case .malformedJSON = $0 { return true }; return false }
        }
    }

    func testMalformedJSON() {
        for text in ["{\"model\": }", "{\"model\": {\"type\": \"BPE\"} garbage", "[1, 2]", "{\"a\": \"\\ud800\"}", "{\"a\": tru}",
                     "{\"a\": \"x\ny\"}"] {
            assertError(Data(text.utf8)) { if case .malformedJSON = $0 { return true }; return false }
        }
        assertError(Data([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])) {
            if case .malformedJSON(_, _, let reason) = $0 { return reason.contains("UTF-8") }
            return false
        }
    }

    func testUnsupportedModelType() {
        assertError(Self.tinyJSON(vocab: Self.vocab, merges: Self.pairs, modelType: "WordPiece")) {
            if case .unsupported(_, "model", "WordPiece") = $0 { return true }
            return false
        }
        assertError(Self.tinyJSON(vocab: Self.vocab, merges: Self.pairs, top: ["normalizer": ["type": "Lowercase"]])) {
            if case .unsupported(_, "normalizer", "Lowercase") = $0 { return true }
            return false
        }
        assertError(Self.tinyJSON(vocab: Self.vocab, merges: Self.pairs,
                                  top: ["pre_tokenizer": ["type": "Split", "pattern": ["Regex": "\\s+"], "behavior": "Isolated", "invert": false]])) {
            if case .unsupported(_, _, "Regex") = $0 { return true }
            return false
        }
        assertError(Data("{\"version\": \"1.0\"}".utf8)) {
            if case .missingField(_, "model") = $0 { return true }
            return false
        }
    }

    func testMalformedMerges() {
        let cases: [(Any, Int)] = [
            ([["a", "a"], ["a", "zz"]], 1),          // right part not in the vocabulary
            ([["a", "b"], ["b", "a"]], 1),           // "ba" is not a piece
            ([["a", "a"], ["a", "a", "b"]], 1),      // three parts
            (["a a", "a b c"], 1),                   // legacy form with two spaces
            ([["a", "a"], 7], 1),                    // not a pair at all
        ]
        for (merges, index) in cases {
            assertError(Self.tinyJSON(vocab: Self.vocab, merges: merges)) {
                if case .malformedMerge(_, let i, _) = $0 { return i == index }
                return false
            }
        }
    }

    func testGGUFArgumentErrors() {
        XCTAssertThrowsError(try GemmaTokenizer(pieces: ["<pad>", "<eos>"], scores: [0, 0], tokenTypes: [3], bosID: 0, eosID: 1,
                                                unknownID: 0, paddingID: nil, addSpacePrefix: false)) { error in
            XCTAssertTrue("\(error)".contains("GGUF metadata"), "\(error)")
        }
        XCTAssertThrowsError(try GemmaTokenizer(pieces: ["<pad>", "<eos>"], scores: [0, 0], tokenTypes: [3, 3], bosID: 5, eosID: 1,
                                                unknownID: 0, paddingID: nil, addSpacePrefix: false))
        XCTAssertThrowsError(try GemmaTokenizer(pieces: ["a", "a"], scores: [0, 0], tokenTypes: [1, 1], bosID: 0, eosID: 1,
                                                unknownID: 0, paddingID: nil, addSpacePrefix: false))
    }

    func testSmallGGUFVocabulary() throws {
        // Merges come from splits of each piece into two pieces, ranked by the merged piece's position.
        let pieces = ["<pad>", "<eos>", "<bos>", "<unk>", "<0x41>", "\n", "\n\n", "a", "b", "▁", "ab", "▁a", "▁ab", "ba", "aba"]
        var types = [Int32](repeating: 1, count: pieces.count)
        types[0...3] = [3, 3, 3, 3]
        types[4] = 6
        types[5...6] = [4, 4]
        let tokenizer = try GemmaTokenizer(pieces: pieces, scores: [Float](repeating: 0, count: pieces.count), tokenTypes: types,
                                           bosID: 2, eosID: 1, unknownID: 3, paddingID: 0, addSpacePrefix: false)
        XCTAssertEqual(tokenizer.model.merges.orderedEntries().map { [$0.left, $0.right, $0.merged] },
                       [[5, 5, 6], [7, 8, 10], [9, 7, 11], [11, 8, 12], [9, 10, 12], [8, 7, 13], [10, 7, 14], [7, 13, 14]])
        XCTAssertEqual(tokenizer.vocabularySize, pieces.count + 1, "<mask> is added after the vocabulary, as transformers does")
        XCTAssertEqual(tokenizer.tokenID("<mask>"), pieces.count)
        XCTAssertEqual(tokenizer.encode(" ab\n\nA", addBOS: true), [2, 12, 6, 4])
        XCTAssertEqual(tokenizer.decode([2, 12, 6, 4]), "<bos> ab\n\nA")
        XCTAssertEqual(tokenizer.decode([2, 12, 6, 4], skipSpecialTokens: true), " ab\n\nA")
        let prefixed = try GemmaTokenizer(pieces: pieces, scores: [], tokenTypes: types, bosID: 2, eosID: 1, unknownID: 3,
                                          paddingID: nil, addSpacePrefix: true)
        XCTAssertEqual(prefixed.encode("ab", addBOS: false), [12])
        XCTAssertNil(prefixed.padID)
    }

    func testPythonStyleTrim() {
        XCTAssertEqual(GemmaChatFormat.trimmed(" \t\n\u{0B}\u{0C}\r\u{1C}\u{85}\u{A0}\u{3000}x y\u{2029} "), "x y")
        XCTAssertEqual(GemmaChatFormat.trimmed("\u{200B}x\u{FEFF}"), "\u{200B}x\u{FEFF}")
        XCTAssertEqual(GemmaChatFormat.trimmed("   "), "")
    }
}
