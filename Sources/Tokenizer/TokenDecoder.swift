import Support

/// The `decoder` of a tokenizer.json: how token strings become text again. Works on UTF-8 bytes,
/// one entry per token, like `tokenizers`' `decode_chain`.
indirect enum TokenDecoder: Sendable {
    /// Every occurrence of a literal string in each token replaced (Gemma: "▁" → " ").
    case replace(pattern: [UInt8], content: [UInt8])
    /// Runs of `<0xXX>` tokens become the text their bytes spell, or one U+FFFD per byte if not UTF-8.
    case byteFallback
    /// All tokens joined into one.
    case fuse
    /// Up to `start` leading and `stop` trailing `content` characters removed from each token.
    case strip(content: UInt32, start: Int, stop: Int)
    /// The Metaspace decoder: `replacement` becomes a space, except in the first token when a prefix was prepended.
    case metaspace(replacement: [UInt8], prependScheme: PreTokenizer.PrependScheme)
    case sequence([TokenDecoder])

    private static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]] {
        switch self {
        case let .sequence(steps):
            return steps.reduce(tokens) { $1.decodeChain($0) }
        case let .replace(pattern, content):
            return tokens.map { ByteSearch.replacingAll(pattern, with: content, in: $0) }
        case .fuse:
            return [Array(tokens.joined())]
        case .byteFallback:
            var out: [[UInt8]] = []
            out.reserveCapacity(tokens.count)
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if String(validating: pending, as: UTF8.self) != nil {
                    out.append(pending)
                } else {
                    for _ in pending { out.append(Self.replacementCharacter) }
                }
                pending.removeAll(keepingCapacity: true)
            }
            for token in tokens {
                if let byte = Self.fallbackByte(token) {
                    pending.append(byte)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        case let .strip(content, start, stop):
            return tokens.map { token in
                let scalars = Array(String(decoding: token, as: UTF8.self).unicodeScalars)
                var startCut = 0
                for i in 0..<min(start, scalars.count) {
                    guard scalars[i].value == content else { break }
                    startCut = i + 1
                }
                var stopCut = scalars.count
                for i in 0..<min(stop, scalars.count) {
                    let index = scalars.count - i - 1
                    guard scalars[index].value == content else { break }
                    stopCut = index
                }
                guard startCut < stopCut else { return [] }
                var s = String.UnicodeScalarView()
                s.append(contentsOf: scalars[startCut..<stopCut])
                return Array(String(s).utf8)
            }
        case let .metaspace(replacement, scheme):
            return tokens.enumerated().map { index, token in
                let space: [UInt8] = (index == 0 && scheme != .never) ? [] : [0x20]
                return ByteSearch.replacingAll(replacement, with: space, in: token)
            }
        }
    }

    /// The byte a `<0xXX>` token stands for (`u8::from_str_radix` rules: hex digits, an optional '+').
    static func fallbackByte(_ token: [UInt8]) -> UInt8? {
        guard token.count == 6, token[0] == UInt8(ascii: "<"), token[1] == UInt8(ascii: "0"),
              token[2] == UInt8(ascii: "x"), token[5] == UInt8(ascii: ">") else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        if token[3] == UInt8(ascii: "+") { return hex(token[4]) }
        guard let high = hex(token[3]), let low = hex(token[4]) else { return nil }
        return high << 4 | low
    }

    /// The decoder described by `json` (nil for JSON null).
    static func parse(_ json: JSONValue, source: String, field: String = "decoder") throws -> TokenDecoder? {
        if json.isNull { return nil }
        let type = try TokenizerJSONFields.type(of: json, source: source, field: field)
        switch type {
        case "Replace":
            let (pattern, content) = try TokenizerJSONFields.replacement(json, source: source, field: field)
            return .replace(pattern: pattern, content: content)
        case "ByteFallback":
            return .byteFallback
        case "Fuse":
            return .fuse
        case "Strip":
            guard let content = json["content"]?.string, content.unicodeScalars.count == 1, let scalar = content.unicodeScalars.first,
                  let start = json["start"]?.int, let stop = json["stop"]?.int, start >= 0, stop >= 0 else {
                throw TokenizerError.invalidField(source: source, field: field, reason: "Strip needs one-character content and non-negative start/stop")
            }
            return .strip(content: scalar.value, start: start, stop: stop)
        case "Metaspace":
            return .metaspace(replacement: try PreTokenizer.metaspaceReplacement(json, source: source, field: field),
                              prependScheme: try TokenizerJSONFields.prependScheme(json, source: source, field: field))
        case "Sequence":
            guard let list = json["decoders"]?.array else { throw TokenizerError.missingField(source: source, field: field + ".decoders") }
            return .sequence(try list.enumerated().compactMap { try parse($1, source: source, field: "\(field).decoders[\($0)]") })
        default:
            throw TokenizerError.unsupported(source: source, component: field, type: type)
        }
    }
}

/// The `post_processor` of a tokenizer.json, reduced to what a single sequence needs: the special
/// ids around it when special tokens are requested.
struct PostProcessor: Sendable {
    var prefix: [Int32]
    var suffix: [Int32]

    static func parse(_ json: JSONValue, source: String, field: String = "post_processor") throws -> PostProcessor? {
        if json.isNull { return nil }
        let type = try TokenizerJSONFields.type(of: json, source: source, field: field)
        switch type {
        case "TemplateProcessing":
            guard let single = json["single"]?.array else { throw TokenizerError.missingField(source: source, field: field + ".single") }
            let specials = json["special_tokens"]
            var result = PostProcessor(prefix: [], suffix: [])
            var seenSequence = false
            for (index, item) in single.enumerated() {
                if let sequence = item["Sequence"] {
                    guard sequence["id"]?.string == "A", !seenSequence else {
                        throw TokenizerError.invalidField(source: source, field: "\(field).single[\(index)]",
                                                          reason: "a single-sequence template must contain sequence A exactly once")
                    }
                    seenSequence = true
                } else if let special = item["SpecialToken"] {
                    guard let name = special["id"]?.string else {
                        throw TokenizerError.missingField(source: source, field: "\(field).single[\(index)].SpecialToken.id")
                    }
                    guard let ids = specials?[name]?["ids"]?.array?.compactMap({ $0.int }) else {
                        throw TokenizerError.invalidField(source: source, field: field + ".special_tokens",
                                                          reason: "no ids for special token '\(name)'")
                    }
                    if seenSequence { result.suffix += ids.map(Int32.init) } else { result.prefix += ids.map(Int32.init) }
                } else {
                    throw TokenizerError.invalidField(source: source, field: "\(field).single[\(index)]", reason: "expected Sequence or SpecialToken")
                }
            }
            guard seenSequence else {
                throw TokenizerError.invalidField(source: source, field: field + ".single", reason: "the template has no sequence A")
            }
            return result
        case "ByteLevel":
            return PostProcessor(prefix: [], suffix: [])
        case "Sequence":
            guard let list = json["processors"]?.array else { throw TokenizerError.missingField(source: source, field: field + ".processors") }
            var result = PostProcessor(prefix: [], suffix: [])
            for (index, item) in list.enumerated() {
                guard let step = try parse(item, source: source, field: "\(field).processors[\(index)]") else { continue }
                result = PostProcessor(prefix: step.prefix + result.prefix, suffix: result.suffix + step.suffix)
            }
            return result
        default:
            throw TokenizerError.unsupported(source: source, component: field, type: type)
        }
    }
}
