import Foundation

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

/// The Gemma 3 text decoder's hyper-parameters, with transformers' defaults for absent fields.
public struct Gemma3TextConfig: Sendable {
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
    public var layerTypes: [AttentionKind] = []
    public var rope: [AttentionKind: RopeParameters] = [:]
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

    public init() {}

    /// The cap applied to output logits (scoring, generation, training), nil when the model class applies none.
    public var outputLogitSoftcap: Float? { appliesFinalLogitSoftcapping ? finalLogitSoftcapping : nil }

    /// Parses a `gemma3_text` dictionary (or the `text_config` of a `gemma3` one). `source` names the file in errors.
    public init(dictionary d: [String: Any], source: String) throws {
        func int(_ k: String) throws -> Int? {
            guard let v = d[k], !(v is NSNull) else { return nil }
            if let n = v as? NSNumber, !(v is Bool) || true {
                let dv = n.doubleValue
                guard dv == dv.rounded(), abs(dv) < 1e15 else { throw ModelError.invalidConfig(file: source, reason: "'\(k)' must be an integer, found \(v)") }
                return Int(dv)
            }
            throw ModelError.invalidConfig(file: source, reason: "'\(k)' must be an integer, found \(v)")
        }
        func double(_ k: String) throws -> Double? {
            guard let v = d[k], !(v is NSNull) else { return nil }
            if let n = v as? NSNumber { return n.doubleValue }
            throw ModelError.invalidConfig(file: source, reason: "'\(k)' must be a number, found \(v)")
        }
        func positive(_ k: String, _ current: Int) throws -> Int {
            guard let v = try int(k) else { return current }
            guard v > 0 else { throw ModelError.invalidConfig(file: source, reason: "'\(k)' must be positive, found \(v)") }
            return v
        }
        vocabSize = try positive("vocab_size", vocabSize)
        hiddenSize = try positive("hidden_size", hiddenSize)
        intermediateSize = try positive("intermediate_size", intermediateSize)
        numLayers = try positive("num_hidden_layers", numLayers)
        numHeads = try positive("num_attention_heads", numHeads)
        numKVHeads = try positive("num_key_value_heads", numKVHeads)
        headDim = try positive("head_dim", headDim)
        maxPositions = try positive("max_position_embeddings", maxPositions)
        if let e = try double("rms_norm_eps") { rmsNormEps = Float(e) }
        if let q = try double("query_pre_attn_scalar") { queryPreAttnScalar = q }
        if d.keys.contains("sliding_window") { slidingWindow = try int("sliding_window") }
        finalLogitSoftcapping = try double("final_logit_softcapping").map(Float.init)
        attnLogitSoftcapping = try double("attn_logit_softcapping").map(Float.init)
        if let act = d["hidden_activation"] as? String ?? d["hidden_act"] as? String { hiddenActivation = act }
        if let t = d["tie_word_embeddings"] as? Bool { tieWordEmbeddings = t }
        if let b = d["use_bidirectional_attention"] as? Bool { useBidirectionalAttention = b }
        if d.keys.contains("bos_token_id") { bosTokenID = try int("bos_token_id") }
        if d.keys.contains("pad_token_id") { padTokenID = try int("pad_token_id") }
        if let e = d["eos_token_id"] {
            if let list = e as? [NSNumber] { eosTokenIDs = list.map(\.intValue) }
            else if let one = e as? NSNumber { eosTokenIDs = [one.intValue] }
            else if e is NSNull { eosTokenIDs = [] }
        }

        guard numHeads % numKVHeads == 0 else {
            throw ModelError.invalidConfig(file: source, reason: "num_attention_heads \(numHeads) is not a multiple of num_key_value_heads \(numKVHeads)")
        }
        guard headDim % 2 == 0 else { throw ModelError.invalidConfig(file: source, reason: "head_dim \(headDim) must be even for rotary embeddings") }
        guard hiddenActivation == "gelu_pytorch_tanh" || hiddenActivation == "gelu_tanh" else {
            throw ModelError.invalidConfig(file: source, reason: "hidden_activation '\(hiddenActivation)' is not supported (expected gelu_pytorch_tanh)")
        }
        if useBidirectionalAttention {
            throw ModelError.invalidConfig(file: source, reason: "use_bidirectional_attention (embedding variants) is not supported")
        }

        // Layer kinds: read `layer_types` when present, else the legacy `sliding_window_pattern` (default 6).
        if let types = d["layer_types"] as? [String] {
            layerTypes = try types.map { t in
                guard let k = AttentionKind(rawValue: t) else {
                    throw ModelError.invalidConfig(file: source, reason: "unknown layer type '\(t)' in layer_types")
                }
                return k
            }
            guard layerTypes.count == numLayers else {
                throw ModelError.invalidConfig(file: source, reason: "layer_types has \(layerTypes.count) entries for \(numLayers) layers")
            }
        } else {
            let pattern = try int("sliding_window_pattern") ?? int("_sliding_window_pattern") ?? 6
            guard pattern > 0 else { throw ModelError.invalidConfig(file: source, reason: "sliding_window_pattern must be positive") }
            layerTypes = (0..<numLayers).map { ($0 + 1) % pattern != 0 ? .sliding : .full }
        }
        if layerTypes.contains(.sliding) && (slidingWindow ?? 0) <= 0 {
            throw ModelError.invalidConfig(file: source, reason: "sliding layers need a positive sliding_window")
        }

        rope = try Self.parseRope(d, source: source)
    }

    /// Rotary parameters per layer kind from `rope_parameters` (transformers 5) or `rope_theta` /
    /// `rope_local_base_freq` / `rope_scaling` (older files).
    static func parseRope(_ d: [String: Any], source: String) throws -> [AttentionKind: RopeParameters] {
        func params(_ raw: Any?, defaultTheta: Double, kind: String) throws -> RopeParameters {
            guard let dict = raw as? [String: Any] else { return RopeParameters(theta: defaultTheta, linearFactor: 1) }
            let type = (dict["rope_type"] as? String) ?? (dict["type"] as? String) ?? "default"
            let theta = (dict["rope_theta"] as? NSNumber)?.doubleValue ?? defaultTheta
            switch type {
            case "default": return RopeParameters(theta: theta, linearFactor: 1)
            case "linear":
                guard let f = (dict["factor"] as? NSNumber)?.doubleValue, f > 0 else {
                    throw ModelError.invalidConfig(file: source, reason: "linear rope scaling for \(kind) needs a positive 'factor'")
                }
                return RopeParameters(theta: theta, linearFactor: f)
            default:
                throw ModelError.invalidConfig(file: source, reason: "rope type '\(type)' for \(kind) is not supported (default and linear are)")
            }
        }
        let globalTheta = (d["rope_theta"] as? NSNumber)?.doubleValue ?? 1_000_000
        let localTheta = (d["rope_local_base_freq"] as? NSNumber)?.doubleValue ?? 10_000
        if let rp = d["rope_parameters"] as? [String: Any] {
            if rp["full_attention"] != nil || rp["sliding_attention"] != nil {
                return [
                    .full: try params(rp["full_attention"], defaultTheta: globalTheta, kind: "full_attention"),
                    .sliding: try params(rp["sliding_attention"], defaultTheta: localTheta, kind: "sliding_attention"),
                ]
            }
            // A single dictionary applies to the global layers (as `rope_scaling` did).
            return [.full: try params(rp, defaultTheta: globalTheta, kind: "full_attention"),
                    .sliding: RopeParameters(theta: localTheta, linearFactor: 1)]
        }
        var full = RopeParameters(theta: globalTheta, linearFactor: 1)
        if let scaling = d["rope_scaling"] as? [String: Any] {
            var merged = scaling
            if merged["rope_theta"] == nil { merged["rope_theta"] = globalTheta }
            full = try params(merged, defaultTheta: globalTheta, kind: "full_attention")
        }
        return [.full: full, .sliding: RopeParameters(theta: localTheta, linearFactor: 1)]
    }

    /// Reads `config.json` of a `gemma3` (uses `text_config`) or `gemma3_text` model.
    public static func load(configURL url: URL) throws -> (text: Gemma3TextConfig, root: [String: Any]) {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ModelError.missingFile(url.path) }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.invalidConfig(file: url.path, reason: "not a JSON object")
        }
        let type = root["model_type"] as? String ?? ""
        switch type {
        case "gemma3_text":
            return (try Gemma3TextConfig(dictionary: root, source: url.path), root)
        case "gemma3":
            var text = root["text_config"] as? [String: Any] ?? [:]
            // Ids the outer config carries apply to generation as well.
            for key in ["eos_token_id", "bos_token_id", "pad_token_id"] where text[key] == nil {
                if let v = root[key] { text[key] = v }
            }
            var config = try Gemma3TextConfig(dictionary: text, source: url.path + " (text_config)")
            // A `gemma3` config loads as Gemma3ForConditionalGeneration (also through AutoModelForCausalLM),
            // whose forward computes lm_head(hidden) and never reads final_logit_softcapping.
            config.appliesFinalLogitSoftcapping = false
            return (config, root)
        default:
            throw ModelError.unsupportedArchitecture(file: url.path, found: type.isEmpty ? "(no model_type)" : type)
        }
    }
}
