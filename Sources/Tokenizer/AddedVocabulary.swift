/// A token matched whole in the input before normalization and BPE (`added_tokens` in tokenizer.json;
/// control and user-defined tokens of a GGUF vocabulary).
struct AddedToken: Sendable {
    let id: Int32
    let content: [UInt8]
    /// Only matches when not touching word characters on either side.
    let singleWord: Bool
    /// The match swallows whitespace on its left.
    let leftStrip: Bool
    /// The match swallows whitespace on its right.
    let rightStrip: Bool
    /// Matched in the normalized text (against its normalized content) rather than in the raw text.
    let normalized: Bool
    /// Special tokens are dropped by `decode(skipSpecialTokens: true)`.
    let special: Bool
}

/// Finds added tokens in text: leftmost match first, longest at that position, non-overlapping —
/// what `tokenizers` gets from its leftmost-longest Aho-Corasick automaton.
struct AddedTokenMatcher: Sendable {
    /// Trie transitions keyed by `node << 8 | byte`.
    private let transitions: [UInt64: Int32]
    /// Per trie node: the index of the token that ends there, or -1.
    private let terminal: [Int32]
    /// Bytes that can start a pattern.
    private let startBytes: [Bool]

    init(patterns: [(bytes: [UInt8], token: Int32)]) {
        var transitions: [UInt64: Int32] = [:]
        var terminal: [Int32] = [-1]
        var startBytes = [Bool](repeating: false, count: 256)
        for (bytes, token) in patterns where !bytes.isEmpty {
            startBytes[Int(bytes[0])] = true
            var node: Int32 = 0
            for b in bytes {
                let key = UInt64(node) << 8 | UInt64(b)
                if let child = transitions[key] {
                    node = child
                } else {
                    let child = Int32(terminal.count)
                    terminal.append(-1)
                    transitions[key] = child
                    node = child
                }
            }
            terminal[Int(node)] = token
        }
        self.transitions = transitions
        self.terminal = terminal
        self.startBytes = startBytes
    }

    /// Non-overlapping matches as (start, end, token index), left to right.
    func matches(in text: UnsafeBufferPointer<UInt8>) -> [(start: Int, end: Int, token: Int32)] {
        var found: [(start: Int, end: Int, token: Int32)] = []
        let n = text.count
        var i = 0
        while i < n {
            guard startBytes[Int(text[i])] else {
                i += 1
                continue
            }
            var node: Int32 = 0
            var bestEnd = -1
            var bestToken: Int32 = -1
            var j = i
            while j < n, let child = transitions[UInt64(node) << 8 | UInt64(text[j])] {
                node = child
                j += 1
                let t = terminal[Int(node)]
                if t >= 0 {
                    bestEnd = j
                    bestToken = t
                }
            }
            if bestEnd >= 0 {
                found.append((i, bestEnd, bestToken))
                i = bestEnd
            } else {
                i += 1
            }
        }
        return found
    }
}

/// All added tokens with the two matchers `tokenizers` uses: raw-text tokens, then normalized ones.
struct AddedVocabulary: Sendable {
    let tokens: [AddedToken]
    /// How `decode` spells each added id: a normalized token's normalized content, else its content.
    let decodeForms: [Int32: [UInt8]]
    let idsByContent: [[UInt8]: Int32]
    /// Contents of special tokens; `decode` skips any token spelled like one of these.
    let specialContents: Set<[UInt8]>
    private let rawMatcher: AddedTokenMatcher?
    private let normalizedMatcher: AddedTokenMatcher?

    init(tokens: [AddedToken], normalizer: TextNormalizer?) {
        var byContent: [[UInt8]: Int32] = [:]
        var decodeForms: [Int32: [UInt8]] = [:]
        var special: Set<[UInt8]> = []
        var raw: [(bytes: [UInt8], token: Int32)] = []
        var normalized: [(bytes: [UInt8], token: Int32)] = []
        var kept: [AddedToken] = []
        for token in tokens where !token.content.isEmpty {
            let index = Int32(kept.count)
            kept.append(token)
            byContent[token.content] = token.id
            if token.special { special.insert(token.content) }
            if token.normalized {
                let form = normalizer?.normalize(token.content) ?? token.content
                decodeForms[token.id] = form
                normalized.append((form, index))
            } else {
                decodeForms[token.id] = token.content
                raw.append((token.content, index))
            }
        }
        self.tokens = kept
        self.decodeForms = decodeForms
        self.idsByContent = byContent
        self.specialContents = special
        rawMatcher = raw.isEmpty ? nil : AddedTokenMatcher(patterns: raw)
        normalizedMatcher = normalized.isEmpty ? nil : AddedTokenMatcher(patterns: normalized)
    }

    /// Splits raw text at the tokens that match before normalization.
    func splitRaw(_ text: UnsafeBufferPointer<UInt8>) -> [(range: Range<Int>, id: Int32?)] {
        split(text, rawMatcher)
    }

    /// Splits normalized text at the tokens that match after normalization.
    func splitNormalized(_ text: UnsafeBufferPointer<UInt8>) -> [(range: Range<Int>, id: Int32?)] {
        split(text, normalizedMatcher)
    }

    /// `tokenizers`' `AddedVocabulary::find_matches`, including its single-word and strip rules.
    private func split(_ text: UnsafeBufferPointer<UInt8>, _ matcher: AddedTokenMatcher?) -> [(range: Range<Int>, id: Int32?)] {
        let n = text.count
        guard let matcher, n > 0 else { return [(0..<n, nil)] }
        var splits: [(range: Range<Int>, id: Int32?)] = []
        var startOffset = 0
        for m in matcher.matches(in: text) {
            var start = m.start
            var stop = m.end
            let token = tokens[Int(m.token)]
            if token.singleWord {
                let startOK = start == 0 || !Self.endsWithWordCharacter(text, before: start)
                let stopOK = stop == n || !UnicodeClasses.isWordCharacter(UnicodeClasses.scalar(at: stop, in: text).value)
                if !startOK || !stopOK { continue }
            }
            if token.leftStrip {
                var s = start
                while s > 0 {
                    let p = UnicodeClasses.previousScalarStart(before: s, in: text)
                    guard UnicodeClasses.isWhitespace(UnicodeClasses.scalar(at: p, in: text).value) else { break }
                    s = p
                }
                start = max(s, startOffset)
            }
            if token.rightStrip {
                while stop < n {
                    let (v, length) = UnicodeClasses.scalar(at: stop, in: text)
                    guard UnicodeClasses.isWhitespace(v) else { break }
                    stop += length
                }
            }
            if startOffset < start { splits.append((startOffset..<start, nil)) }
            splits.append((start..<stop, token.id))
            startOffset = stop
        }
        if startOffset != n { splits.append((startOffset..<n, nil)) }
        return splits
    }

    private static func endsWithWordCharacter(_ text: UnsafeBufferPointer<UInt8>, before end: Int) -> Bool {
        let p = UnicodeClasses.previousScalarStart(before: end, in: text)
        return UnicodeClasses.isWordCharacter(UnicodeClasses.scalar(at: p, in: text).value)
    }
}
