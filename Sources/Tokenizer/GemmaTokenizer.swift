import Foundation

/// The Gemma 3 tokenizer: a byte-fallback BPE that gives exactly the ids and text of Hugging Face
/// `tokenizers` for the same tokenizer.json (or for the tokenizer.json transformers builds from a GGUF).
///
/// Encoding follows `tokenizers`' pipeline: added tokens are cut out of the raw text first (leftmost,
/// longest), each remaining segment is normalized, cut again at normalized added tokens,
/// pre-tokenized, and run through BPE; `addBOS` applies the post-processor's template. Truncation and
/// padding settings of a tokenizer.json are ignored.
public final class GemmaTokenizer: Sendable {
    let model: BytePairModel
    let addedVocabulary: AddedVocabulary
    let normalizer: TextNormalizer?
    let preTokenizer: PreTokenizer?
    let decoder: TokenDecoder?
    let postProcessor: PostProcessor?
    /// Per id: whether `decode(skipSpecialTokens: true)` drops it.
    private let skippedWhenDecoding: [Bool]

    public let bosID: Int
    public let eosID: Int
    public let padID: Int?
    public let unknownID: Int
    /// Highest id + 1, added tokens included.
    public let vocabularySize: Int

    /// Loads a Hugging Face tokenizer.json (BPE model).
    public convenience init(tokenizerJSON url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: (error as NSError).localizedDescription)
        }
        try self.init(tokenizerJSONData: data, source: url.path)
    }

    /// Parses tokenizer.json bytes; `source` names them in errors.
    public convenience init(tokenizerJSONData: Data, source: String) throws {
        let definition = try TokenizerJSONLoader.load(tokenizerJSONData, source: source)
        try self.init(definition: definition, source: source, bos: nil, eos: nil, unknown: nil, pad: nil)
    }

    /// From GGUF metadata (SentencePiece-style vocabulary: `tokenizer.ggml.tokens` / `scores` /
    /// `token_type`, model "llama"), built the way transformers converts a Gemma GGUF, so that it gives
    /// the same ids as the tokenizer.json transformers writes for that file. `scores` are checked for
    /// length only: transformers ranks Gemma merges by piece position, not score. `extraSpecialTokens`
    /// are appended as special tokens after the vocabulary (MedGemma's tokenizer.json adds
    /// "<image_soft_token>" as id 262144, which the GGUF does not list).
    public convenience init(pieces: [String], scores: [Float], tokenTypes: [Int32], bosID: Int, eosID: Int,
                            unknownID: Int, paddingID: Int?, addSpacePrefix: Bool,
                            extraSpecialTokens: [String] = []) throws {
        let source = "GGUF metadata"
        let definition = try GGUFVocabularyConversion.definition(
            pieces: pieces, scores: scores, tokenTypes: tokenTypes, bosID: bosID, eosID: eosID, unknownID: unknownID,
            paddingID: paddingID, addSpacePrefix: addSpacePrefix, extraSpecialTokens: extraSpecialTokens, source: source)
        try self.init(definition: definition, source: source, bos: bosID, eos: eosID, unknown: unknownID, pad: paddingID)
    }

    init(definition: TokenizerDefinition, source: String, bos: Int?, eos: Int?, unknown: Int?, pad: Int?) throws {
        let model = definition.model
        self.model = model
        normalizer = definition.normalizer
        preTokenizer = definition.preTokenizer
        decoder = definition.decoder
        postProcessor = definition.postProcessor
        let added = AddedVocabulary(tokens: definition.addedTokens, normalizer: definition.normalizer)
        addedVocabulary = added

        var size = model.pieces.idLimit
        for token in added.tokens { size = max(size, Int(token.id) + 1) }
        vocabularySize = size

        func lookup(_ names: [String]) -> Int? {
            for name in names {
                let bytes = Array(name.utf8)
                if let id = added.idsByContent[bytes] { return Int(id) }
                let id = model.pieces.id(of: bytes)
                if id >= 0 { return Int(id) }
            }
            return nil
        }
        guard let bosID = bos ?? lookup(["<bos>"]) ?? definition.postProcessor?.prefix.first.map(Int.init) ?? lookup(["<s>"]) else {
            throw TokenizerError.missingField(source: source, field: "BOS token (post_processor template, \"<bos>\" or \"<s>\")")
        }
        guard let eosID = eos ?? lookup(["<eos>", "</s>", "<|endoftext|>"]) else {
            throw TokenizerError.missingField(source: source, field: "EOS token (\"<eos>\", \"</s>\" or \"<|endoftext|>\")")
        }
        guard let unknownID = unknown ?? model.unknownID.map(Int.init) ?? lookup(["<unk>"]) else {
            throw TokenizerError.missingField(source: source, field: "model.unk_token")
        }
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        padID = pad ?? (bos == nil ? lookup(["<pad>"]) : nil)

        var skipped = [Bool](repeating: false, count: size)
        if !added.specialContents.isEmpty {
            for id in 0..<size {
                if let form = added.decodeForms[Int32(id)] {
                    skipped[id] = added.specialContents.contains(form)
                } else if let piece = model.pieces.bytes(of: id) {
                    skipped[id] = added.specialContents.contains(Array(piece))
                }
            }
        }
        skippedWhenDecoding = skipped
    }

    // MARK: Encoding

    /// Token ids of `text`; added and special tokens written in the text (e.g. "<start_of_turn>") are
    /// matched first, like `tokenizers`. `addBOS` applies the post-processor (Gemma: prepends `<bos>`;
    /// without a post-processor, `bosID` is prepended).
    public func encode(_ text: String, addBOS: Bool) -> [Int] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        if addBOS { ids.append(contentsOf: postProcessor?.prefix ?? [Int32(bosID)]) }
        var utf8 = text.utf8.withContiguousStorageIfAvailable { Array($0) } ?? Array(text.utf8)
        utf8.withUnsafeMutableBufferPointer { buffer in
            encodeBody(UnsafeBufferPointer(buffer), into: &ids)
        }
        if addBOS, let suffix = postProcessor?.suffix { ids.append(contentsOf: suffix) }
        return ids.map(Int.init)
    }

    private func encodeBody(_ text: UnsafeBufferPointer<UInt8>, into ids: inout [Int32]) {
        for segment in addedVocabulary.splitRaw(text) {
            if let id = segment.id {
                ids.append(id)
                continue
            }
            guard !segment.range.isEmpty else { continue }
            var normalized = Array(UnsafeBufferPointer(rebasing: text[segment.range]))
            if let normalizer { normalized = normalizer.normalize(normalized) }
            normalized.withUnsafeBufferPointer { normalizedText in
                for part in addedVocabulary.splitNormalized(normalizedText) {
                    if let id = part.id {
                        ids.append(id)
                        continue
                    }
                    guard !part.range.isEmpty else { continue }
                    let atStart = segment.range.lowerBound == 0 && part.range.lowerBound == 0
                    if let preTokenizer {
                        let word = PreTokenizedWord(bytes: Array(UnsafeBufferPointer(rebasing: normalizedText[part.range])),
                                                    atInputStart: atStart)
                        for w in preTokenizer.apply([word]) {
                            w.bytes.withUnsafeBufferPointer { model.tokenize($0, into: &ids) }
                        }
                    } else {
                        model.tokenize(UnsafeBufferPointer(rebasing: normalizedText[part.range]), into: &ids)
                    }
                }
            }
        }
    }

    // MARK: Decoding

    /// The text of `ids` through the tokenizer's decoder. Unknown ids are ignored, as in `tokenizers`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var tokens: [[UInt8]] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard id >= 0, id < vocabularySize else { continue }
            if skipSpecialTokens && skippedWhenDecoding[id] { continue }
            guard let bytes = tokenBytes(id) else { continue }
            tokens.append(bytes)
        }
        guard let decoder else {
            return String(decoding: Array(tokens.joined(separator: [0x20])), as: UTF8.self)
        }
        return String(decoding: Array(decoder.decodeChain(tokens).joined()), as: UTF8.self)
    }

    private func tokenBytes(_ id: Int) -> [UInt8]? {
        if let form = addedVocabulary.decodeForms[Int32(id)] { return form }
        return model.pieces.bytes(of: id).map(Array.init)
    }

    // MARK: Vocabulary

    /// The id of an exact piece or added token.
    public func tokenID(_ token: String) -> Int? {
        let bytes = Array(token.utf8)
        if let id = addedVocabulary.idsByContent[bytes] { return Int(id) }
        let id = model.pieces.id(of: bytes)
        return id >= 0 ? Int(id) : nil
    }

    /// The piece (or added token) of `id`, as `tokenizers`' `id_to_token` spells it.
    public func piece(_ id: Int) -> String? {
        guard id >= 0, id < vocabularySize, let bytes = tokenBytes(id) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `id` is a special token (dropped by `decode(skipSpecialTokens: true)`).
    public func isSpecialToken(_ id: Int) -> Bool {
        id >= 0 && id < vocabularySize && skippedWhenDecoding[id]
    }

    /// Number of BPE merges.
    public var mergeCount: Int { model.merges.count }
}
