import Support

/// A piece of normalized text on its way to the BPE model. `atInputStart` says whether it begins at
/// offset 0 of the caller's text (Metaspace's "first" prepend scheme needs it).
struct PreTokenizedWord {
    var bytes: [UInt8]
    var atInputStart: Bool
}

/// The `pre_tokenizer` of a tokenizer.json: how normalized text is cut into words for BPE.
indirect enum PreTokenizer: Sendable {
    /// Split at a literal string (Gemma: " ", merged with the previous piece — a no-op once spaces are "▁").
    case split(pattern: [UInt8], behavior: SplitBehavior, invert: Bool)
    /// SentencePiece-style: spaces become `replacement`, optionally prepended, optionally split before it.
    case metaspace(replacement: [UInt8], prependScheme: PrependScheme, split: Bool)
    case sequence([PreTokenizer])

    enum SplitBehavior: String, Sendable {
        case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
        case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
    }

    enum PrependScheme: String, Sendable { case first, never, always }

    /// The words of `words`, in order; empty words are dropped as `tokenizers` drops them.
    func apply(_ words: [PreTokenizedWord]) -> [PreTokenizedWord] {
        switch self {
        case let .sequence(steps):
            return steps.reduce(words) { $1.apply($0) }
        case let .split(pattern, behavior, invert):
            return words.flatMap { Self.split($0, at: pattern, behavior: behavior, invert: invert) }
        case let .metaspace(replacement, scheme, split):
            return words.flatMap { word -> [PreTokenizedWord] in
                var text = ByteSearch.replacingAll([0x20], with: replacement, in: word.bytes)
                let startsWithReplacement = text.starts(with: replacement)
                switch scheme {
                case .always where !startsWithReplacement,
                     .first where !startsWithReplacement && word.atInputStart:
                    text = replacement + text
                default:
                    break
                }
                let rewritten = PreTokenizedWord(bytes: text, atInputStart: word.atInputStart)
                return split ? Self.split(rewritten, at: replacement, behavior: .mergedWithNext, invert: false) : [rewritten]
            }
        }
    }

    /// `NormalizedString::split` with a literal pattern.
    static func split(_ word: PreTokenizedWord, at pattern: [UInt8], behavior: SplitBehavior, invert: Bool) -> [PreTokenizedWord] {
        let text = word.bytes
        guard !text.isEmpty else { return [] }
        // (range, isMatch) covering the whole text.
        var pieces: [(range: Range<Int>, isMatch: Bool)] = []
        text.withUnsafeBufferPointer { buffer in
            var previous = 0
            for start in ByteSearch.occurrences(of: pattern, in: buffer) {
                if previous != start { pieces.append((previous..<start, false)) }
                pieces.append((start..<(start + pattern.count), true))
                previous = start + pattern.count
            }
            if previous != buffer.count { pieces.append((previous..<buffer.count, false)) }
        }
        if invert { pieces = pieces.map { ($0.range, !$0.isMatch) } }

        var kept: [(range: Range<Int>, remove: Bool)] = []
        switch behavior {
        case .isolated:
            kept = pieces.map { ($0.range, false) }
        case .removed:
            kept = pieces.map { ($0.range, $0.isMatch) }
        case .contiguous:
            var previousMatch = false
            for p in pieces {
                if p.isMatch == previousMatch, let last = kept.last {
                    kept[kept.count - 1] = (last.range.lowerBound..<p.range.upperBound, false)
                } else {
                    kept.append((p.range, false))
                }
                previousMatch = p.isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for p in pieces {
                if p.isMatch && !previousMatch, let last = kept.last {
                    kept[kept.count - 1] = (last.range.lowerBound..<p.range.upperBound, false)
                } else {
                    kept.append((p.range, false))
                }
                previousMatch = p.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for p in pieces.reversed() {
                if p.isMatch && !previousMatch, let last = kept.last {
                    kept[kept.count - 1] = (p.range.lowerBound..<last.range.upperBound, false)
                } else {
                    kept.append((p.range, false))
                }
                previousMatch = p.isMatch
            }
            kept.reverse()
        }
        return kept.compactMap { entry in
            guard !entry.remove, !entry.range.isEmpty else { return nil }
            return PreTokenizedWord(bytes: Array(text[entry.range]), atInputStart: word.atInputStart && entry.range.lowerBound == 0)
        }
    }

    /// The pre-tokenizer described by `json` (nil for JSON null).
    static func parse(_ json: JSONValue, source: String, field: String = "pre_tokenizer") throws -> PreTokenizer? {
        if json.isNull { return nil }
        let type = try TokenizerJSONFields.type(of: json, source: source, field: field)
        switch type {
        case "Split":
            let pattern = try TokenizerJSONFields.literalPattern(json, source: source, field: field)
            guard let name = json["behavior"]?.string else { throw TokenizerError.missingField(source: source, field: field + ".behavior") }
            guard let behavior = SplitBehavior(rawValue: name) else {
                throw TokenizerError.invalidField(source: source, field: field + ".behavior", reason: "unknown behavior '\(name)'")
            }
            return .split(pattern: pattern, behavior: behavior, invert: json["invert"]?.bool ?? false)
        case "Metaspace":
            return .metaspace(replacement: try metaspaceReplacement(json, source: source, field: field),
                              prependScheme: try TokenizerJSONFields.prependScheme(json, source: source, field: field),
                              split: json["split"]?.bool ?? true)
        case "Sequence":
            guard let list = json["pretokenizers"]?.array else { throw TokenizerError.missingField(source: source, field: field + ".pretokenizers") }
            return .sequence(try list.enumerated().compactMap { try parse($1, source: source, field: "\(field).pretokenizers[\($0)]") })
        default:
            throw TokenizerError.unsupported(source: source, component: field, type: type)
        }
    }

    static func metaspaceReplacement(_ json: JSONValue, source: String, field: String) throws -> [UInt8] {
        guard let replacement = json["replacement"]?.string else { throw TokenizerError.missingField(source: source, field: field + ".replacement") }
        guard replacement.unicodeScalars.count == 1 else {
            throw TokenizerError.invalidField(source: source, field: field + ".replacement", reason: "expected one character")
        }
        return Array(replacement.utf8)
    }
}
