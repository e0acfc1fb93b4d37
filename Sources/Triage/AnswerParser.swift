import Foundation

/// What a generated answer says, read strictly.
public struct ParsedAnswer: Sendable, Codable, Equatable {
    public enum Verdict: String, Sendable, Codable {
        case patent, blocked
        /// Hedged, both, neither or empty: a person reads the study.
        case unclear
    }

    public var verdict: Verdict
    /// Why (the phrases found, or what made it unclear).
    public var reason: String

    public init(verdict: Verdict, reason: String) {
        self.verdict = verdict
        self.reason = reason
    }
}

/// Strict reading of a free-text answer. A label counts when one of its accepted phrases occurs and is not
/// negated; a negated positive phrase ("no occlusion", "not blocked", "no evidence of stenosis") counts as
/// the other label, a negated negative phrase ("not patent") as the positive one. An affirmed finding
/// outweighs a negated one of the other kind ("no stenosis; occlusion of the ICA" → blocked). Any hedge,
/// affirmed phrases of both labels, or no label at all, gives `unclear`.
public struct AnswerParser: Sendable {
    public let positive: [String]
    public let negative: [String]
    public let positiveLabel: ParsedAnswer.Verdict
    public let negativeLabel: ParsedAnswer.Verdict

    /// Words that negate a following phrase (within `negationReach` words, inside one clause).
    static let preNegators: [[String]] = [
        ["no"], ["not"], ["without"], ["absent"], ["absence", "of"], ["negative", "for"], ["free", "of"], ["never"],
        ["isn't"], ["isnt"], ["aren't"], ["arent"], ["wasn't"], ["nor"], ["neither"], ["rules", "out"], ["ruled", "out"],
    ]
    /// Phrases that negate a preceding phrase ("occlusion is not seen", "stenosis absent").
    static let postNegators: [[String]] = [
        ["not", "seen"], ["not", "present"], ["not", "identified"], ["not", "detected"], ["not", "visualized"],
        ["not", "visualised"], ["absent"], ["ruled", "out"], ["excluded"], ["is", "not"], ["are", "not"], ["was", "not"],
    ]
    /// Any of these makes the answer unclear.
    static let hedges: [[String]] = [
        ["maybe"], ["possibly"], ["possible"], ["probably"], ["probable"], ["likely"], ["unlikely"], ["may"], ["might"],
        ["could"], ["perhaps"], ["suspected"], ["suspicious"], ["suggestive"], ["questionable"], ["equivocal"],
        ["indeterminate"], ["uncertain"], ["unclear"], ["cannot"], ["can't"], ["cant"], ["unable"], ["either"],
        ["difficult"], ["limited"], ["nondiagnostic"], ["non-diagnostic"], ["i", "think"], ["seems"],
        ["query"], ["?"],
    ]
    static let negationReach = 4

    public init(profile: TaskProfile) {
        let pos = profile.labels.first { $0.name == profile.positiveLabel }
        let neg = profile.labels.first { $0.name != profile.positiveLabel }
        self.init(positive: pos?.accepted ?? [], negative: neg?.accepted ?? [])
    }

    /// Positive (blocked) and negative (patent) accepted phrases.
    public init(positive: [String], negative: [String]) {
        self.positive = positive
        self.negative = negative
        positiveLabel = .blocked
        negativeLabel = .patent
    }

    /// Lower-cased words; punctuation that ends a clause becomes "|", "?" is kept as its own word,
    /// hyphens and apostrophes stay inside words.
    static func words(_ text: String) -> [String] {
        var out: [String] = []
        var cur = ""
        func flush() { if !cur.isEmpty { out.append(cur); cur = "" } }
        for ch in text.lowercased() {
            if ch.isLetter || ch.isNumber || ch == "-" || ch == "'" || ch == "’" {
                cur.append(ch == "’" ? "'" : ch)
            } else if ch == "?" {
                flush(); out.append("?")
            } else if ".,;:!\n()[]".contains(ch) {
                flush(); out.append("|")
            } else {
                flush()
            }
        }
        flush()
        // Hyphens at a word's edge are dashes, not part of it.
        return out.map { $0 == "|" ? $0 : $0.trimmingCharacters(in: CharacterSet(charactersIn: "-'")) }.filter { !$0.isEmpty }
    }

    static func phrase(_ p: String) -> [String] { words(p).filter { $0 != "|" } }

    static func matches(_ w: [String], _ p: [String], at i: Int) -> Bool {
        guard !p.isEmpty, i + p.count <= w.count else { return false }
        for k in 0..<p.count where w[i + k] != p[k] { return false }
        return true
    }

    /// Clause-bounded negation before position `i`, or after the phrase ending at `end`.
    static func negated(_ w: [String], start i: Int, end: Int) -> Bool {
        var j = i - 1
        var seen = 0
        while j >= 0 && seen < negationReach && w[j] != "|" {
            for n in preNegators where n.count <= i - j && matches(w, n, at: j) && j + n.count <= i { return true }
            if w[j] == "but" || w[j] == "however" { break }
            j -= 1
            seen += 1
        }
        var k = end
        var after = 0
        while k < w.count && after < 3 && w[k] != "|" {
            for n in postNegators where matches(w, n, at: k) { return true }
            k += 1
            after += 1
        }
        return false
    }

    /// Occurrences of any phrase of `list` in `w` that are not part of a longer matched phrase: (start, end, negated).
    static func find(_ list: [String], in w: [String]) -> [(Int, Int, Bool)] {
        let phrases = list.map(phrase).filter { !$0.isEmpty }.sorted { $0.count > $1.count }
        var taken = [Bool](repeating: false, count: w.count)
        var hits: [(Int, Int, Bool)] = []
        for p in phrases {
            var i = 0
            while i + p.count <= w.count {
                if matches(w, p, at: i) && !(i..<(i + p.count)).contains(where: { taken[$0] }) {
                    for k in i..<(i + p.count) { taken[k] = true }
                    hits.append((i, i + p.count, negated(w, start: i, end: i + p.count)))
                    i += p.count
                } else {
                    i += 1
                }
            }
        }
        return hits
    }

    public func parse(_ text: String) -> ParsedAnswer {
        let raw = Self.words(text)
        guard raw.contains(where: { $0 != "|" }) else { return ParsedAnswer(verdict: .unclear, reason: "empty answer") }
        for h in Self.hedges {
            for i in raw.indices where Self.matches(raw, h, at: i) {
                return ParsedAnswer(verdict: .unclear, reason: "hedged answer (\"\(h.joined(separator: " "))\")")
            }
        }
        // "non-occlusive" reads as "not occlusive".
        let w = raw.flatMap { word -> [String] in
            if word.hasPrefix("non-") && word.count > 4 { return ["not", String(word.dropFirst(4))] }
            return [word]
        }
        // Each list is matched on its own; a phrase of one list inside a longer phrase of the other ("occlusion"
        // inside the patent phrase "no occlusion") counts once, for the longer.
        let posHits = Self.find(positive, in: w)
        let negHits = Self.find(negative, in: w)
        func covered(_ h: (Int, Int, Bool), by others: [(Int, Int, Bool)]) -> Bool {
            others.contains { o in o.0 <= h.0 && h.1 <= o.1 && (o.1 - o.0) > (h.1 - h.0) }
        }
        // Four kinds of evidence: affirmed and negated phrases of each label.
        var affirmedBlocked: [String] = [], negatedBlocked: [String] = [], affirmedPatent: [String] = [], negatedPatent: [String] = []
        for h in posHits where !covered(h, by: negHits) {
            let s = w[h.0..<h.1].joined(separator: " ")
            if h.2 { negatedBlocked.append("negated \"\(s)\"") } else { affirmedBlocked.append("\"\(s)\"") }
        }
        for h in negHits where !covered(h, by: posHits) {
            let s = w[h.0..<h.1].joined(separator: " ")
            // A patent phrase that carries its own negation ("no occlusion") is the absence of a finding,
            // like a negated blocked phrase; its "no" does not negate it again.
            if Self.startsNegated(Self.phrase(s)) { negatedBlocked.append("\"\(s)\"") }
            else if h.2 { negatedPatent.append("negated \"\(s)\"") } else { affirmedPatent.append("\"\(s)\"") }
        }
        let blocked = affirmedBlocked + negatedPatent, patent = affirmedPatent + negatedBlocked
        // An affirmed finding next to a negated one is ordinary report language ("no stenosis; occlusion of the
        // ICA"): the affirmed finding wins. Affirmed phrases of both labels contradict each other.
        if !affirmedBlocked.isEmpty && !affirmedPatent.isEmpty || !negatedPatent.isEmpty && !affirmedPatent.isEmpty {
            return ParsedAnswer(verdict: .unclear, reason: "answer supports both labels (" + (blocked + patent).joined(separator: ", ") + ")")
        }
        if !blocked.isEmpty {
            return ParsedAnswer(verdict: positiveLabel, reason: "says " + blocked.joined(separator: ", ")
                                + (negatedBlocked.isEmpty ? "" : " (also " + negatedBlocked.joined(separator: ", ") + ")"))
        }
        if !patent.isEmpty { return ParsedAnswer(verdict: negativeLabel, reason: "says " + patent.joined(separator: ", ")) }
        return ParsedAnswer(verdict: .unclear, reason: "answer names neither label")
    }

    static func startsNegated(_ p: [String]) -> Bool {
        preNegators.contains { matches(p, $0, at: 0) }
    }
}
