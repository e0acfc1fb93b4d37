import Foundation
import Support

/// Attention kind of one decoder layer, as `layer_types` names it.
public enum AttentionKind: String, Sendable {
    case sliding = "sliding_attention"
    case full = "full_attention"
}

/// Rotary embedding parameters of one attention kind.
public struct RopeParameters: Sendable, Equatable {
    public var theta: Double
    /// Positions are divided by this factor ("linear" scaling); 1 for the default rope.
    public var linearFactor: Double
}

/// The Gemma 3 text decoder's hyper-parameters: a `gemma3_text` config.json, or the `text_config` of a
/// `gemma3` one. The defaults are transformers' `Gemma3TextConfig` defaults (the 4B model's shape), used
/// for every key a file leaves out; a `null` keeps the default too, except where transformers gives `None`
/// a meaning of its own (`sliding_window`, the token ids, the soft-caps).
public struct Gemma3TextConfig: Sendable, Decodable {
    public var vocabSize = 262_208
    public var hiddenSize = 2304
    public var intermediateSize = 9216
    public var numLayers = 26
    public var numHeads = 8
    public var numKVHeads = 4
    public var headDim = 256
    public var hiddenActivation = "gelu_pytorch_tanh"
    public var maxPositions = 131_072
    public var rmsNormEps: Float = 1e-6
    public var queryPreAttnScalar: Double = 256
    public var slidingWindow: Int? = 4096
    /// Attention kind per layer; by default every sixth layer is global (`sliding_window_pattern` 6).
    public var layerTypes: [AttentionKind]
    /// Rotary parameters per attention kind; by default θ = 1,000,000 for global layers and 10,000
    /// (`rope_local_base_freq`) for sliding ones, unscaled.
    public var rope: [AttentionKind: RopeParameters]
    /// `final_logit_softcapping` as the config states it; `outputLogitSoftcap` is what is applied.
    public var finalLogitSoftcapping: Float?
    public var attnLogitSoftcapping: Float?
    /// Whether the model class applies `final_logit_softcapping`: transformers' Gemma3ForCausalLM (a
    /// `gemma3_text` config) does, Gemma3ForConditionalGeneration (a `gemma3` config) never does, whatever
    /// its text_config says. Parity follows the class the reference would load.
    public var appliesFinalLogitSoftcapping = true
    public var tieWordEmbeddings = true
    public var useBidirectionalAttention = false
    public var bosTokenID: Int? = 2
    public var eosTokenIDs: [Int] = [1]
    public var padTokenID: Int? = 0

    static let defaultSlidingWindowPattern = 6
    static let defaultGlobalRopeTheta = 1_000_000.0
    static let defaultLocalRopeTheta = 10_000.0

    /// The keys of config.json.
    public enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numLayers = "num_hidden_layers"
        case numHeads = "num_attention_heads"
        case numKVHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case hiddenActivation = "hidden_activation"
        case hiddenAct = "hidden_act"
        case maxPositions = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps"
        case queryPreAttnScalar = "query_pre_attn_scalar"
        case slidingWindow = "sliding_window"
        case layerTypes = "layer_types"
        case slidingWindowPattern = "sliding_window_pattern"
        case legacySlidingWindowPattern = "_sliding_window_pattern"
        case ropeParameters = "rope_parameters"
        case ropeTheta = "rope_theta"
        case ropeLocalBaseFreq = "rope_local_base_freq"
        case ropeScaling = "rope_scaling"
        case finalLogitSoftcapping = "final_logit_softcapping"
        case attnLogitSoftcapping = "attn_logit_softcapping"
        case tieWordEmbeddings = "tie_word_embeddings"
        case useBidirectionalAttention = "use_bidirectional_attention"
        case bosTokenID = "bos_token_id"
        case eosTokenID = "eos_token_id"
        case padTokenID = "pad_token_id"
    }

    /// transformers' defaults throughout.
    public init() {
        layerTypes = Self.layerKinds(layers: numLayers, pattern: Self.defaultSlidingWindowPattern)
        rope = [.full: RopeParameters(theta: Self.defaultGlobalRopeTheta, linearFactor: 1),
                .sliding: RopeParameters(theta: Self.defaultLocalRopeTheta, linearFactor: 1)]
    }

    /// The cap applied to output logits (scoring, generation, training), nil when the model class applies none.
    public var outputLogitSoftcap: Float? { appliesFinalLogitSoftcapping ? finalLogitSoftcapping : nil }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func positive(_ k: CodingKeys, _ current: Int) throws -> Int {
            guard let v = try c.integer(k) else { return current }
            guard v > 0 else { throw c.issue("'\(k.stringValue)' must be positive, found \(v)") }
            return v
        }
        vocabSize = try positive(.vocabSize, vocabSize)
        hiddenSize = try positive(.hiddenSize, hiddenSize)
        intermediateSize = try positive(.intermediateSize, intermediateSize)
        numLayers = try positive(.numLayers, numLayers)
        numHeads = try positive(.numHeads, numHeads)
        numKVHeads = try positive(.numKVHeads, numKVHeads)
        headDim = try positive(.headDim, headDim)
        maxPositions = try positive(.maxPositions, maxPositions)
        if let e = try c.number(.rmsNormEps) { rmsNormEps = Float(e) }
        if let q = try c.number(.queryPreAttnScalar) { queryPreAttnScalar = q }
        // `sliding_window: null` means no window (transformers keeps None); a missing key keeps the default.
        if c.contains(.slidingWindow) { slidingWindow = try c.integer(.slidingWindow) }
        finalLogitSoftcapping = try c.number(.finalLogitSoftcapping).map(Float.init)
        attnLogitSoftcapping = try c.number(.attnLogitSoftcapping).map(Float.init)
        if let act = c.lenient(String.self, .hiddenActivation) ?? c.lenient(String.self, .hiddenAct) { hiddenActivation = act }
        if let t = c.lenient(Bool.self, .tieWordEmbeddings) { tieWordEmbeddings = t }
        if let b = c.lenient(Bool.self, .useBidirectionalAttention) { useBidirectionalAttention = b }
        if c.contains(.bosTokenID) { bosTokenID = try c.integer(.bosTokenID) }
        if c.contains(.padTokenID) { padTokenID = try c.integer(.padTokenID) }
        if let e = try Self.tokenIDs(c, .eosTokenID) { eosTokenIDs = e }

        guard numHeads % numKVHeads == 0 else {
            throw c.issue("num_attention_heads \(numHeads) is not a multiple of num_key_value_heads \(numKVHeads)")
        }
        guard headDim % 2 == 0 else { throw c.issue("head_dim \(headDim) must be even for rotary embeddings") }
        guard hiddenActivation == "gelu_pytorch_tanh" || hiddenActivation == "gelu_tanh" else {
            throw c.issue("hidden_activation '\(hiddenActivation)' is not supported (expected gelu_pytorch_tanh)")
        }
        if useBidirectionalAttention {
            throw c.issue("use_bidirectional_attention (embedding variants) is not supported")
        }

        // Layer kinds: read `layer_types` when present, else the legacy `sliding_window_pattern`.
        if let types = c.lenient([String].self, .layerTypes) {
            layerTypes = try types.map { t in
                guard let k = AttentionKind(rawValue: t) else { throw c.issue("unknown layer type '\(t)' in layer_types") }
                return k
            }
            guard layerTypes.count == numLayers else {
                throw c.issue("layer_types has \(layerTypes.count) entries for \(numLayers) layers")
            }
        } else {
            let pattern = try c.integer(.slidingWindowPattern) ?? c.integer(.legacySlidingWindowPattern) ?? Self.defaultSlidingWindowPattern
            guard pattern > 0 else { throw c.issue("sliding_window_pattern must be positive") }
            layerTypes = Self.layerKinds(layers: numLayers, pattern: pattern)
        }
        if layerTypes.contains(.sliding) && (slidingWindow ?? 0) <= 0 {
            throw c.issue("sliding layers need a positive sliding_window")
        }

        rope = try Self.parseRope(c)
    }

    /// Every `pattern`-th layer global, the others sliding.
    static func layerKinds(layers: Int, pattern: Int) -> [AttentionKind] {
        (0..<layers).map { ($0 + 1) % pattern != 0 ? .sliding : .full }
    }

    /// A token id or a list of them (`eos_token_id`); nil when missing or of another type, [] for null.
    static func tokenIDs<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> [Int]? {
        switch try c.json(key) {
        case .null?: return []
        case .number(let n)?: return [Int(n.rounded(.towardZero))]
        case .array(let list)?:
            let ids = list.compactMap(\.number)
            return ids.count == list.count ? ids.map { Int($0.rounded(.towardZero)) } : nil
        default: return nil
        }
    }

    /// Rotary parameters per layer kind from `rope_parameters` (transformers 5) or `rope_theta` /
    /// `rope_local_base_freq` / `rope_scaling` (older files). These sections are free-form dictionaries
    /// (a `null` member counts as present), so they are read as JSON values.
    static func parseRope(_ c: KeyedDecodingContainer<CodingKeys>) throws -> [AttentionKind: RopeParameters] {
        func params(_ raw: JSONValue?, defaultTheta: Double, kind: String) throws -> RopeParameters {
            guard let dict = raw?.object else { return RopeParameters(theta: defaultTheta, linearFactor: 1) }
            let type = dict["rope_type"]?.string ?? dict["type"]?.string ?? "default"
            let theta = dict["rope_theta"]?.number ?? defaultTheta
            switch type {
            case "default": return RopeParameters(theta: theta, linearFactor: 1)
            case "linear":
                guard let f = dict["factor"]?.number, f > 0 else {
                    throw c.issue("linear rope scaling for \(kind) needs a positive 'factor'")
                }
                return RopeParameters(theta: theta, linearFactor: f)
            default:
                throw c.issue("rope type '\(type)' for \(kind) is not supported (default and linear are)")
            }
        }
        let globalTheta = c.lenient(Double.self, .ropeTheta) ?? defaultGlobalRopeTheta
        let localTheta = c.lenient(Double.self, .ropeLocalBaseFreq) ?? defaultLocalRopeTheta
        if let rp = c.lenient(JSONValue.self, .ropeParameters)?.object {
            if rp["full_attention"] != nil || rp["sliding_attention"] != nil {
                return [
                    .full: try params(rp["full_attention"], defaultTheta: globalTheta, kind: "full_attention"),
                    .sliding: try params(rp["sliding_attention"], defaultTheta: localTheta, kind: "sliding_attention"),
                ]
            }
            // A single dictionary applies to the global layers (as `rope_scaling` did).
            return [.full: try params(.object(rp), defaultTheta: globalTheta, kind: "full_attention"),
                    .sliding: RopeParameters(theta: localTheta, linearFactor: 1)]
        }
        var full = RopeParameters(theta: globalTheta, linearFactor: 1)
        if let scaling = c.lenient(JSONValue.self, .ropeScaling), scaling.object != nil {
            full = try params(scaling, defaultTheta: globalTheta, kind: "full_attention")
        }
        return [.full: full, .sliding: RopeParameters(theta: localTheta, linearFactor: 1)]
    }

    /// Reads `config.json` of a `gemma3` (uses `text_config`) or `gemma3_text` model.
    public static func load(configURL url: URL) throws -> (text: Gemma3TextConfig, root: Gemma3Config) {
        let root = try Gemma3Config.load(configURL: url)
        return (root.text, root)
    }

    /// A text configuration from a config.json-shaped object (what transformers derives from GGUF metadata).
    static func decode(_ object: [String: JSONValue], source: String) throws -> Gemma3TextConfig {
        let data = try JSONEncoder().encode(JSONValue.object(object))
        return try Gemma3Config.decoding(Gemma3TextConfig.self, from: data, source: source)
    }
}
