import Foundation
import ModelFiles
import TestSupport
import XCTest
@testable import Tokenizer

/// The tokenizer built from the real Gemma 3 270M GGUF's metadata (read with our own GGUF reader) gives
/// the same ids as the reference tokenizer.json on the whole corpus.
final class GGUFModelTokenizerTests: XCTestCase {
    static func ggufURL() throws -> URL { try TestPaths.gemma270mGGUF() }

    func testGGUFTokenizerMatchesReferenceOnCorpus() throws {
        let file = try GGUFFile(url: try Self.ggufURL())
        let md = file.metadata
        let tok = try GemmaTokenizer(
            pieces: try XCTUnwrap(md["tokenizer.ggml.tokens"]?.stringArray),
            scores: try XCTUnwrap(md["tokenizer.ggml.scores"]?.floatArray),
            tokenTypes: try XCTUnwrap(md["tokenizer.ggml.token_type"]?.int32Array),
            bosID: try XCTUnwrap(md["tokenizer.ggml.bos_token_id"]?.int),
            eosID: try XCTUnwrap(md["tokenizer.ggml.eos_token_id"]?.int),
            unknownID: try XCTUnwrap(md["tokenizer.ggml.unknown_token_id"]?.int),
            paddingID: md["tokenizer.ggml.padding_token_id"]?.int,
            addSpacePrefix: md["tokenizer.ggml.add_space_prefix"]?.bool ?? false)
        let ref = try ReferenceData.get()
        var compared = 0
        for c in ref.corpus.encode where !c.text.contains("<image_soft_token>") {
            XCTAssertEqual(tok.encode(c.text, addBOS: true), c.ids, c.name)
            XCTAssertTrue(tok.decode(c.ids).utf8.elementsEqual(c.decoded.utf8), c.name)
            compared += 1
        }
        XCTAssertGreaterThan(compared, 50)
        for c in ref.corpus.chat where c.image_count == 0 {
            let prompt = GemmaChatFormat.userTurn(text: c.text, system: c.system)
            XCTAssertEqual(tok.encode(prompt, addBOS: true), c.ids, c.name)
        }
    }
}
