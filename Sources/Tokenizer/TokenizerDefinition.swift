import Foundation
import Support

/// Everything a tokenizer runs, however it was described (tokenizer.json or GGUF metadata).
struct TokenizerDefinition: Sendable {
    var model: BytePairModel
    var addedTokens: [AddedToken]
    var normalizer: TextNormalizer?
    var preTokenizer: PreTokenizer?
    var decoder: TokenDecoder?
    var postProcessor: PostProcessor?
}

/// Reads a Hugging Face tokenizer.json. The `model.vocab` and `model.merges` sections are streamed
/// straight into their tables; everything else goes through `JSONValue`.
enum TokenizerJSONLoader {
    static func load(_ data: Data, source: String) throws -> TokenizerDefinition {
        try data.withUnsafeBytes { raw -> TokenizerDefinition in
            let bytes = raw.bindMemory(to: UInt8.self)
            if let bad = JSONReader.firstInvalidUTF8Offset(bytes) {
                throw TokenizerError.malformedJSON(source: source, offset: bad, reason: "invalid UTF-8")
            }
            var reader = JSONReader(bytes: bytes, source: source)
            guard try reader.peekByte() == UInt8(ascii: "{") else {
                throw reader.failure("the top-level value is not an object")
            }
            var model: ModelSection?
            var added: JSONValue?
            var normalizer: JSONValue = .null
            var preTokenizer: JSONValue = .null
            var decoder: JSONValue = .null
            var postProcessor: JSONValue = .null
            try reader.forEachMember { r in
                switch r.memberName {
                case "model": model = try ModelSection(reading: &r)
                case "added_tokens": added = try r.readValue()
                case "normalizer": normalizer = try r.readValue()
                case "pre_tokenizer": preTokenizer = try r.readValue()
                case "decoder": decoder = try r.readValue()
                case "post_processor": postProcessor = try r.readValue()
                default: try r.skipValue()
                }
            }
            try reader.expectEnd()

            guard let model else { throw TokenizerError.missingField(source: source, field: "model") }
            let bpe = try model.build(source: source)
            return TokenizerDefinition(
                model: bpe,
                addedTokens: try parseAddedTokens(added, pieces: bpe.pieces, source: source),
                normalizer: try TextNormalizer.parse(normalizer, source: source),
                preTokenizer: try PreTokenizer.parse(preTokenizer, source: source),
                decoder: try TokenDecoder.parse(decoder, source: source),
                postProcessor: try PostProcessor.parse(postProcessor, source: source))
        }
    }

    /// The `added_tokens` list. As in `tokenizers`, the ids written in the file are not trusted: a
    /// token that is already a piece (or was added before) takes that id, any other the next free id
    /// after the vocabulary, in file order.
    static func parseAddedTokens(_ json: JSONValue?, pieces: PieceTable, source: String) throws -> [AddedToken] {
        guard let json, !json.isNull else { return [] }
        guard let list = json.array else {
            throw TokenizerError.invalidField(source: source, field: "added_tokens", reason: "expected an array, found \(json.kindName)")
        }
        var assigned: [[UInt8]: Int32] = [:]
        var nextID = Int32(pieces.count)
        var tokens: [AddedToken] = []
        for (index, item) in list.enumerated() {
            let field = "added_tokens[\(index)]"
            guard let fileID = item["id"]?.int, (0...Int(Int32.max)).contains(fileID) else {
                throw TokenizerError.invalidField(source: source, field: field + ".id", reason: "expected a non-negative integer")
            }
            guard let content = item["content"]?.string else { throw TokenizerError.missingField(source: source, field: field + ".content") }
            let bytes = Array(content.utf8)
            guard !bytes.isEmpty else { continue }
            let id: Int32
            if let existing = assigned[bytes] {
                id = existing
            } else if case let piece = pieces.id(of: bytes), piece >= 0 {
                id = piece
            } else {
                id = nextID
                nextID += 1
            }
            assigned[bytes] = id
            let special = item["special"]?.bool ?? false
            tokens.append(AddedToken(id: id, content: bytes,
                                     singleWord: item["single_word"]?.bool ?? false,
                                     leftStrip: item["lstrip"]?.bool ?? false,
                                     rightStrip: item["rstrip"]?.bool ?? false,
                                     normalized: item["normalized"]?.bool ?? !special,
                                     special: special))
        }
        return tokens
    }

    /// The `model` object, with its vocabulary and merges held as raw bytes until the end.
    struct ModelSection {
        var type: String?
        var pieces = PieceTable.Builder()
        var sawVocab = false
        /// Merge sides, back to back; `mergeSides` holds (start, length) of left then right, per merge.
        var mergeBytes: [UInt8] = []
        var mergeSides: [Int32] = []
        var sawMerges = false
        var unknownToken: String?
        var fuseUnknown = false
        var byteFallback = false
        var ignoreMerges = false
        var dropout: Double?
        var continuingSubwordPrefix: String?
        var endOfWordSuffix: String?

        init(reading r: inout JSONReader) throws {
            guard try r.peekByte() == UInt8(ascii: "{") else { throw r.failure("'model' is not an object") }
            var section = ModelSection()
            try r.forEachMember { m in
                switch m.memberName {
                case "type": section.type = try m.readString()
                case "vocab": try section.readVocabulary(&m)
                case "merges": try section.readMerges(&m)
                case "unk_token": section.unknownToken = try m.readValue().string
                case "fuse_unk": section.fuseUnknown = try m.readValue().bool ?? false
                case "byte_fallback": section.byteFallback = try m.readValue().bool ?? false
                case "ignore_merges": section.ignoreMerges = try m.readValue().bool ?? false
                case "dropout":
                    let v = try m.readValue()
                    if let d = v.number { section.dropout = d }
                case "continuing_subword_prefix": section.continuingSubwordPrefix = try m.readValue().string
                case "end_of_word_suffix": section.endOfWordSuffix = try m.readValue().string
                default: try m.skipValue()
                }
            }
            self = section
        }

        private init() {}

        mutating func readVocabulary(_ r: inout JSONReader) throws {
            guard try r.peekByte() == UInt8(ascii: "{") else {
                // A Unigram or WordPiece vocabulary has another shape; the type check reports it.
                try r.skipValue()
                return
            }
            sawVocab = true
            var builder = pieces
            pieces = PieceTable.Builder()
            builder.storage.reserveCapacity(1 << 21)
            try r.forEachMember { v in
                let start = builder.storage.count
                builder.storage.append(contentsOf: v.memberKey)
                let id = try v.readNonNegativeInteger()
                guard id <= Int(Int32.max) else { throw v.failure("vocabulary id out of range") }
                builder.register(start: start, length: v.memberKey.count, id: Int32(id))
            }
            pieces = builder
        }

        mutating func readMerges(_ r: inout JSONReader) throws {
            sawMerges = true
            var bytes = mergeBytes
            var sides = mergeSides
            mergeBytes = []
            mergeSides = []
            bytes.reserveCapacity(1 << 23)
            sides.reserveCapacity(1 << 21)
            var index = 0
            let source = r.source
            try r.forEachElement { e in
                let first = try e.peekByte()
                if first == UInt8(ascii: "\"") {
                    // Legacy form "left right": exactly one space.
                    let start = bytes.count
                    try e.readStringBytes(into: &bytes)
                    let end = bytes.count
                    var spaces: [Int] = []
                    for k in start..<end where bytes[k] == 0x20 { spaces.append(k) }
                    guard spaces.count == 1 else {
                        throw TokenizerError.malformedMerge(source: source, index: index, reason: "expected \"left right\" with exactly one space")
                    }
                    sides.append(contentsOf: [Int32(start), Int32(spaces[0] - start), Int32(spaces[0] + 1), Int32(end - spaces[0] - 1)])
                } else if first == UInt8(ascii: "[") {
                    var parts = 0
                    try e.forEachElement { p in
                        guard try p.peekByte() == UInt8(ascii: "\""), parts < 2 else {
                            throw TokenizerError.malformedMerge(source: source, index: index, reason: "expected a pair of strings")
                        }
                        let start = bytes.count
                        try p.readStringBytes(into: &bytes)
                        sides.append(contentsOf: [Int32(start), Int32(bytes.count - start)])
                        parts += 1
                    }
                    guard parts == 2 else {
                        throw TokenizerError.malformedMerge(source: source, index: index, reason: "expected a pair of strings, found \(parts)")
                    }
                } else {
                    throw TokenizerError.malformedMerge(source: source, index: index, reason: "expected \"left right\" or [left, right]")
                }
                index += 1
            }
            mergeBytes = bytes
            mergeSides = sides
        }

        func build(source: String) throws -> BytePairModel {
            let type = type ?? (sawVocab && sawMerges ? "BPE" : "(none)")
            guard type == "BPE" else { throw TokenizerError.unsupported(source: source, component: "model", type: type) }
            guard sawVocab else { throw TokenizerError.missingField(source: source, field: "model.vocab") }
            guard sawMerges else { throw TokenizerError.missingField(source: source, field: "model.merges") }
            if let dropout, dropout > 0 { throw TokenizerError.unsupported(source: source, component: "model.dropout", type: "\(dropout)") }
            if let p = continuingSubwordPrefix, !p.isEmpty {
                throw TokenizerError.unsupported(source: source, component: "model.continuing_subword_prefix", type: p)
            }
            if let s = endOfWordSuffix, !s.isEmpty {
                throw TokenizerError.unsupported(source: source, component: "model.end_of_word_suffix", type: s)
            }
            let table = pieces.build()
            let count = mergeSides.count / 4
            var left = [Int32](repeating: 0, count: count)
            var right = [Int32](repeating: 0, count: count)
            var merged = [Int32](repeating: 0, count: count)
            var joined: [UInt8] = []
            try mergeBytes.withUnsafeBufferPointer { bytes in
                func side(_ k: Int) -> UnsafeBufferPointer<UInt8> {
                    UnsafeBufferPointer(rebasing: bytes[Int(mergeSides[k])..<Int(mergeSides[k] + mergeSides[k + 1])])
                }
                func missing(_ piece: UnsafeBufferPointer<UInt8>, _ index: Int, _ role: String) -> TokenizerError {
                    .malformedMerge(source: source, index: index,
                                    reason: "\(role) '\(String(decoding: piece, as: UTF8.self))' is not in the vocabulary")
                }
                for i in 0..<count {
                    let a = side(4 * i), b = side(4 * i + 2)
                    let aID = table.id(of: a), bID = table.id(of: b)
                    guard aID >= 0 else { throw missing(a, i, "left part") }
                    guard bID >= 0 else { throw missing(b, i, "right part") }
                    joined.removeAll(keepingCapacity: true)
                    joined.append(contentsOf: a)
                    joined.append(contentsOf: b)
                    let newID = joined.withUnsafeBufferPointer { table.id(of: $0) }
                    guard newID >= 0 else {
                        throw joined.withUnsafeBufferPointer { missing($0, i, "merged piece") }
                    }
                    left[i] = aID
                    right[i] = bID
                    merged[i] = newID
                }
            }
            var unknownID: Int32?
            if let unknownToken {
                let id = table.id(of: Array(unknownToken.utf8))
                if id >= 0 { unknownID = id }
            }
            return BytePairModel(pieces: table, merges: MergeTable(left: left, right: right, merged: merged),
                                 unknownID: unknownID, fuseUnknown: fuseUnknown, byteFallback: byteFallback,
                                 ignoreMerges: ignoreMerges)
        }
    }
}

