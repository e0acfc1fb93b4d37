/// Token kinds of a llama.cpp / GGUF vocabulary (`tokenizer.ggml.token_type`).
public enum GGUFTokenType: Int32, Sendable {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// Rebuilds, from a GGUF's SentencePiece-style vocabulary, the tokenizer that transformers
/// (`integrations/gguf/gguf_tokenizer_mapping.py`, `gemma_tokenizer` + `add_gguf_special_tokens`)
/// writes out as tokenizer.json for a Gemma GGUF:
///
/// 1. Pieces made only of whitespace that contain a space are stored with real spaces in the GGUF
///    ("  ") but looked up as "▁▁": they are respelled with one "▁" per character.
/// 2. The file has no merges. Every split of every piece into two pieces becomes a merge; merges are
///    ranked by the position of the merged piece in the file (not by its score — Gemma's scores do not
///    follow merge order), and within one piece the longer left part comes first.
/// 3. Control tokens (type 3) become special added tokens and user-defined tokens (type 4) plain added
///    tokens — the latter only when their original spelling is a piece, so the respelled runs of
///    spaces stay ordinary BPE pieces. BOS/EOS/UNK/PAD and "<mask>" are special as well.
/// 4. Normalizer Replace(" " → "▁"), pre-tokenizer Split(" ", merged with previous), decoder
///    Replace("▁" → " ") + ByteFallback + Fuse, post-processor "<bos> $A".
enum GGUFVocabularyConversion {
    static let metaspace: [UInt8] = Array("\u{2581}".utf8)

    static func definition(pieces: [String], scores: [Float], tokenTypes: [Int32], bosID: Int, eosID: Int,
                           unknownID: Int, paddingID: Int?, addSpacePrefix: Bool, extraSpecialTokens: [String],
                           source: String) throws -> TokenizerDefinition {
        let n = pieces.count
        guard n > 0 else { throw TokenizerError.invalidVocabulary(source: source, reason: "no pieces") }
        guard tokenTypes.count == n else {
            throw TokenizerError.invalidVocabulary(source: source, reason: "\(n) pieces but \(tokenTypes.count) token types")
        }
        guard scores.isEmpty || scores.count == n else {
            throw TokenizerError.invalidVocabulary(source: source, reason: "\(n) pieces but \(scores.count) scores")
        }
        for (name, id) in [("bos", bosID), ("eos", eosID), ("unknown", unknownID), ("padding", paddingID ?? 0)] where !(0..<n).contains(id) {
            throw TokenizerError.invalidVocabulary(source: source, reason: "\(name) id \(id) is outside 0..<\(n)")
        }

        let original = pieces.map { Array($0.utf8) }
        var builder = PieceTable.Builder(expectedPieces: n, expectedBytes: original.reduce(0) { $0 + $1.count + 4 })
        for (id, bytes) in original.enumerated() { builder.append(respelled(bytes), id: Int32(id)) }
        var duplicate: (Int32, Int32)?
        let table = builder.build { earlier, later in if duplicate == nil { duplicate = (earlier, later) } }
        if let (a, b) = duplicate {
            throw TokenizerError.invalidVocabulary(source: source, reason: "pieces \(a) and \(b) are spelled the same ('\(pieces[Int(b)])')")
        }

        let (left, right, merged) = rankedMerges(table: table, count: n)

        var added: [AddedToken] = []
        var addedIDs: [[UInt8]: Int32] = [:]
        var nextNewID = Int32(n)
        func add(_ content: [UInt8], special: Bool) {
            guard !content.isEmpty, addedIDs[content] == nil else { return }
            var id = table.id(of: content)
            if id < 0 {
                id = nextNewID
                nextNewID += 1
            }
            addedIDs[content] = id
            added.append(AddedToken(id: id, content: content, singleWord: false, leftStrip: false, rightStrip: false,
                                    normalized: false, special: special))
        }
        for id in 0..<n where tokenTypes[id] == GGUFTokenType.control.rawValue { add(original[id], special: true) }
        for id in 0..<n where tokenTypes[id] == GGUFTokenType.userDefined.rawValue {
            if table.id(of: original[id]) >= 0 || addedIDs[original[id]] != nil { add(original[id], special: false) }
        }
        for id in [bosID, eosID, unknownID] + (paddingID.map { [$0] } ?? []) { add(original[id], special: true) }
        add(Array("<mask>".utf8), special: true)
        for token in extraSpecialTokens { add(Array(token.utf8), special: true) }

        let unknown = table.id(of: original[unknownID])
        let model = BytePairModel(pieces: table, merges: MergeTable(left: left, right: right, merged: merged),
                                  unknownID: unknown >= 0 ? unknown : nil, fuseUnknown: true, byteFallback: true,
                                  ignoreMerges: false)
        let replaceSpaces = TextNormalizer.replace(pattern: [0x20], content: metaspace)
        return TokenizerDefinition(
            model: model,
            addedTokens: added,
            normalizer: addSpacePrefix ? .sequence([.prepend(metaspace), replaceSpaces]) : replaceSpaces,
            preTokenizer: .split(pattern: [0x20], behavior: .mergedWithPrevious, invert: false),
            decoder: .sequence([.replace(pattern: metaspace, content: [0x20]), .byteFallback, .fuse]),
            postProcessor: PostProcessor(prefix: [Int32(bosID)], suffix: []))
    }

    /// A piece of whitespace that contains a space, spelled with "▁" per character (Python's
    /// `" " in t and not t.strip()`); any other piece unchanged.
    static func respelled(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(0x20) else { return bytes }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.unicodeScalars.allSatisfy({ UnicodeClasses.isPythonWhitespace($0.value) }) else { return bytes }
        return Array(repeating: metaspace, count: text.unicodeScalars.count).flatMap { $0 }
    }

    /// transformers' `generate_merges(vocab, {piece: -position})`: pieces in file order; within a
    /// piece, splits with the longer left part first; a split counts when both parts are pieces.
    static func rankedMerges(table: PieceTable, count n: Int) -> (left: [Int32], right: [Int32], merged: [Int32]) {
        var left: [Int32] = [], right: [Int32] = [], merged: [Int32] = []
        left.reserveCapacity(n * 2)
        right.reserveCapacity(n * 2)
        merged.reserveCapacity(n * 2)
        var boundaries: [Int] = []
        for id in 0..<n {
            guard let slice = table.bytes(of: id), slice.count > 1 else { continue }
            slice.withUnsafeBufferPointer { piece in
                boundaries.removeAll(keepingCapacity: true)
                for k in 1..<piece.count where piece[k] & 0xC0 != 0x80 { boundaries.append(k) }
                for k in boundaries.reversed() {
                    let a = table.id(of: UnsafeBufferPointer(rebasing: piece[0..<k]))
                    guard a >= 0 else { continue }
                    let b = table.id(of: UnsafeBufferPointer(rebasing: piece[k..<piece.count]))
                    guard b >= 0 else { continue }
                    left.append(a)
                    right.append(b)
                    merged.append(Int32(id))
                }
            }
        }
        return (left, right, merged)
    }
}
