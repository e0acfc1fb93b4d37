import Foundation
import ModelFiles
import Tensor
import Tokenizer

/// A loaded model: the Gemma 3 decoder, the vision encoder when the checkpoint has one, the tokenizer
/// and the stop ids.
public struct LoadedModel: @unchecked Sendable {
    public let model: Gemma3TextModel
    /// SigLIP tower + projector; nil for text-only checkpoints.
    public let vision: Gemma3VisionEncoder?
    /// Directory holding `preprocessor_config.json` etc. (nil for a GGUF file).
    public let directory: URL?
    public let tokenizer: GemmaTokenizer
    /// Generation stops after any of these ids.
    public let stopIDs: Set<Int>
    /// Where the weights came from (a directory or GGUF path).
    public let path: String

    /// Every linear layer (text decoder and vision tower) by canonical module path: where LoRA adapters attach.
    public var linearLayers: [String: LinearLayer] { ModelWeights(model: model, vision: vision).linearLayers }

    /// Stop ids for a chat turn: the configured ones plus `<end_of_turn>`, which ends the model's turn.
    public var chatStopIDs: Set<Int> {
        var s = stopIDs
        if let eot = tokenizer.tokenID("<end_of_turn>") { s.insert(eot) }
        return s
    }

    /// `<bos>` + the Gemma 3 chat turn for one user message (images first, then the text), with each
    /// image expanded to its block of soft tokens as the reference processor does.
    public func chatPromptIDs(text: String, system: String?, imageCount: Int = 0) throws -> [Int] {
        var prompt = GemmaChatFormat.userTurn(text: text, system: system, imageCount: imageCount)
        if imageCount > 0 {
            guard let vision else { throw ModelError.unsupportedFeature("\(path) has no vision tower, so it cannot take images") }
            prompt = vision.expandImageMarkers(prompt)
        }
        return tokenizer.encode(prompt, addBOS: true)
    }
}

/// The decoder and vision tower of a model directory without its tokenizer: what merging weights needs.
public struct ModelWeights: @unchecked Sendable {
    public let model: Gemma3TextModel
    /// SigLIP tower + projector; nil for text-only checkpoints.
    public let vision: Gemma3VisionEncoder?

    /// Every linear layer (text decoder and vision tower) by canonical module path: where LoRA adapters attach.
    public var linearLayers: [String: LinearLayer] {
        var all = model.linearLayers
        if let vision { all += vision.tower.linearLayers }
        return Dictionary(uniqueKeysWithValues: all.map { ($0.module, $0) })
    }
}

/// Safetensors checkpoints seen through the `WeightSource` protocol.
final class SafeTensorsWeights: WeightSource {
    let checkpoint: SafeTensorsCheckpoint
    let sourceName: String
    init(_ checkpoint: SafeTensorsCheckpoint, name: String) {
        self.checkpoint = checkpoint
        sourceName = name
    }
    var tensorNames: [String] { checkpoint.names }
    func contains(_ name: String) -> Bool { checkpoint.contains(name) }
    func tensor(_ name: String) throws -> Tensor { try checkpoint.tensor(name) }
}

/// A GGUF Gemma 3 file seen under Hugging Face names. Quantized tensors are dequantized to float32 on
/// load; norm weights are stored by llama.cpp's converter as (1 + w) and are shifted back here.
final class GGUFGemma3Weights: WeightSource {
    let file: GGUFFile
    let sourceName: String
    private var map: [String: String] = [:]

    init(_ file: GGUFFile, path: String) {
        self.file = file
        sourceName = path
        let blockNames: [(String, String)] = [
            ("input_layernorm.weight", "attn_norm.weight"),
            ("self_attn.q_proj.weight", "attn_q.weight"),
            ("self_attn.k_proj.weight", "attn_k.weight"),
            ("self_attn.v_proj.weight", "attn_v.weight"),
            ("self_attn.o_proj.weight", "attn_output.weight"),
            ("self_attn.q_norm.weight", "attn_q_norm.weight"),
            ("self_attn.k_norm.weight", "attn_k_norm.weight"),
            ("post_attention_layernorm.weight", "post_attention_norm.weight"),
            ("pre_feedforward_layernorm.weight", "ffn_norm.weight"),
            ("mlp.gate_proj.weight", "ffn_gate.weight"),
            ("mlp.up_proj.weight", "ffn_up.weight"),
            ("mlp.down_proj.weight", "ffn_down.weight"),
            ("post_feedforward_layernorm.weight", "post_ffw_norm.weight"),
        ]
        let present = Set(file.tensorNames)
        for g in present {
            if g == "token_embd.weight" { map["model.embed_tokens.weight"] = g }
            else if g == "output_norm.weight" { map["model.norm.weight"] = g }
            else if g == "output.weight" { map["lm_head.weight"] = g }
            else if g.hasPrefix("blk.") {
                let parts = g.split(separator: ".", maxSplits: 2)
                guard parts.count == 3, let i = Int(parts[1]) else { continue }
                if let hf = blockNames.first(where: { $0.1 == parts[2] }) { map["model.layers.\(i).\(hf.0)"] = g }
            }
        }
    }

    var tensorNames: [String] { Array(map.keys) }
    func contains(_ name: String) -> Bool { map[name] != nil }
    func tensor(_ name: String) throws -> Tensor {
        guard let g = map[name] else { throw ModelError.missingTensor(name: name, source: sourceName) }
        let t = try file.tensor(g)
        if name.hasSuffix("norm.weight") {
            let f = t.toFloat32()
            for i in 0..<f.count { f.f32[i] -= 1 }
            return f
        }
        return t
    }
}

public enum ModelLoader {
    /// `--compute auto`: when set (the command line sets it unless `--compute` forces a mode), a bf16
    /// checkpoint loaded without an explicit compute mode gets the arithmetic this selector measures fastest
    /// on the model's own GEMM shapes (cached per machine). Unset (library callers, tests), the checkpoint's
    /// dtype decides as before.
    public static var automaticCompute: ComputeAutoSelector? {
        get { automaticBox.lock.withLock { automaticBox.selector } }
        set { automaticBox.lock.withLock { automaticBox.selector = newValue } }
    }
    private final class AutomaticBox: @unchecked Sendable {
        let lock = NSLock()
        var selector: ComputeAutoSelector?
    }
    private static let automaticBox = AutomaticBox()

    /// The linear-layer shapes `--compute auto` measures for a model: the decoder's MLP products at a
    /// triage prompt's length and, with a vision tower, its attention and MLP products over (up to 1024 of)
    /// the image's patches.
    public static func representativeShapes(text: Gemma3TextConfig, vision: SiglipVisionConfig?) -> [GEMMShape] {
        let tokens = 280
        var shapes = [GEMMShape(rows: tokens, outputs: text.intermediateSize, inputs: text.hiddenSize),
                      GEMMShape(rows: tokens, outputs: text.hiddenSize, inputs: text.intermediateSize)]
        if let v = vision {
            let patches = min(1024, max(16, v.numPatches))
            shapes += [GEMMShape(rows: patches, outputs: v.hiddenSize, inputs: v.hiddenSize),
                       GEMMShape(rows: patches, outputs: v.intermediateSize, inputs: v.hiddenSize),
                       GEMMShape(rows: patches, outputs: v.hiddenSize, inputs: v.intermediateSize)]
        }
        return shapes
    }

    /// Loads a Gemma 3 / MedGemma model from a model directory or a `.gguf` file (text only).
    /// `computeMode` nil picks bf16 arithmetic for bf16 checkpoints and float32 otherwise.
    /// `quantization` int8 / nf4 quantises the base weight of every linear layer of the decoder and the
    /// vision tower (see `quantize(_:scheme:)`).
    public static func load(path: String, computeMode: ComputeMode? = nil,
                            quantization: QuantizationScheme = .none) throws -> LoadedModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ModelError.missingModel(path) }
        let loaded = isDir.boolValue ? try loadDirectory(URL(fileURLWithPath: path), computeMode: computeMode)
                                     : try loadGGUF(URL(fileURLWithPath: path), computeMode: computeMode)
        try quantize(loaded, scheme: quantization)
        return loaded
    }

    /// Quantises the base weights of all linear layers (attention q/k/v/o and MLP gate/up/down of every
    /// decoder layer; attention and MLP projections of every vision-tower layer), one layer at a time: the
    /// memory-mapped checkpoint weights are read, quantised and their pages released (one layer per core at a
    /// time), so the resident
    /// size grows by about the quantised size only. The token embedding (also the tied output layer), the
    /// norms, the patch embedding and the multimodal projector stay as stored; the full-vocabulary output
    /// product then pages the (tied) output layer in slice by slice (`releasesOutputLayerPages`).
    public static func quantize(_ loaded: LoadedModel, scheme: QuantizationScheme) throws {
        guard scheme != .none else { return }
        let layers = loaded.linearLayers.values.sorted { $0.module < $1.module }
        // One layer per core at a time (each layer is a different object; scratch is per call).
        let lock = SpinLock()
        var failure: Error?
        Parallel.forEach(layers.count) { i in
            do { try layers[i].quantize(scheme) } catch {
                lock.withLock {
                    if failure == nil { failure = ModelError.unsupportedFeature("\(loaded.path): \(layers[i].sourceName): \(error)") }
                }
            }
        }
        if let failure { throw failure }
        loaded.model.releasesOutputLayerPages = true
    }

    static func loadDirectory(_ dir: URL, computeMode: ComputeMode?) throws -> LoadedModel {
        let (weights, config) = try loadWeights(directory: dir, computeMode: computeMode)
        let tokURL = dir.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokURL.path) else { throw ModelError.missingFile(tokURL.path) }
        let tokenizer = try GemmaTokenizer(tokenizerJSON: tokURL)
        var stops = Set(config.eosTokenIDs)
        stops.formUnion(try generationConfigEOS(dir))
        return LoadedModel(model: weights.model, vision: weights.vision, directory: dir, tokenizer: tokenizer, stopIDs: stops, path: dir.path)
    }

    /// The weights of a model directory (config.json + safetensors), without reading its tokenizer.
    public static func loadWeights(directory dir: URL, computeMode: ComputeMode?) throws -> (weights: ModelWeights, config: Gemma3TextConfig) {
        let configURL = dir.appendingPathComponent("config.json")
        let (config, root) = try Gemma3TextConfig.load(configURL: configURL)
        let checkpoint = try SafeTensorsCheckpoint(directory: dir)
        let weights = SafeTensorsWeights(checkpoint, name: dir.path)
        guard let layout = Gemma3CheckpointLayout.text.first(where: { weights.contains($0.prefix + "embed_tokens.weight") }) else {
            throw ModelError.missingTensor(name: "embed_tokens.weight (under model., model.language_model. or language_model.model.)",
                                           source: dir.path)
        }
        let dtype = try weights.tensor(layout.prefix + "embed_tokens.weight").dtype
        var mode = computeMode ?? (dtype == .bf16 ? .bf16 : .f32)
        if computeMode == nil, dtype == .bf16, let selector = automaticCompute {
            let hasVision = Gemma3VisionEncoder.towerPrefixes.contains { weights.contains($0 + "embeddings.patch_embedding.weight") }
            let selection = try selector.select(shapes: representativeShapes(text: config, vision: hasVision ? root.vision?.vision : nil))
            mode = selection.mode
            MatMul.sgemmLibrary = selection.sgemmLibrary
        }
        let model = try Gemma3TextModel(config: config, source: weights, prefix: layout.prefix, lmHeadName: layout.lmHead, computeMode: mode)
        var vision: Gemma3VisionEncoder?
        // The vision part is checked and built only when the checkpoint carries a vision tower (text-only
        // exports of a gemma3 model keep the multimodal config but not the weights).
        if Gemma3VisionEncoder.towerPrefixes.contains(where: { weights.contains($0 + "embeddings.patch_embedding.weight") }),
           let settings = root.vision {
            try settings.validate(source: configURL.path)
            vision = try Gemma3VisionEncoder(settings: settings, textHidden: config.hiddenSize, source: weights, computeMode: mode)
        }
        return (ModelWeights(model: model, vision: vision), config)
    }

    /// `eos_token_id` of generation_config.json when present (instruction models list <end_of_turn> there).
    static func generationConfigEOS(_ dir: URL) throws -> [Int] {
        try Gemma3GenerationConfig.load(directory: dir)?.eosTokenIDs ?? []
    }

    static func loadGGUF(_ url: URL, computeMode: ComputeMode?) throws -> LoadedModel {
        let file = try GGUFFile(url: url)
        let arch = file.metadata["general.architecture"]?.string ?? "(none)"
        guard arch == "gemma3" else { throw ModelError.unsupportedArchitecture(file: url.path, found: arch) }
        func int(_ key: String) -> Int? { file.metadata["gemma3." + key]?.int }
        func float(_ key: String) -> Double? { file.metadata["gemma3." + key]?.double }
        guard let tokens = file.metadata["tokenizer.ggml.tokens"]?.stringArray else {
            throw ModelError.invalidConfig(file: url.path, reason: "no tokenizer.ggml.tokens in the GGUF metadata")
        }
        // Hyper-parameters as transformers derives them from this metadata; the rest are Gemma 3 defaults.
        var d: [String: JSONValue] = ["vocab_size": .number(Double(tokens.count))]
        let keys: [(String, String)] = [
            ("context_length", "max_position_embeddings"), ("block_count", "num_hidden_layers"),
            ("feed_forward_length", "intermediate_size"), ("embedding_length", "hidden_size"),
            ("attention.key_length", "head_dim"), ("attention.head_count", "num_attention_heads"),
            ("attention.head_count_kv", "num_key_value_heads"), ("attention.sliding_window", "sliding_window"),
        ]
        for (g, h) in keys { if let v = int(g) { d[h] = .number(Double(v)) } }
        if let eps = float("attention.layer_norm_rms_epsilon") { d["rms_norm_eps"] = .number(eps) }
        if let theta = float("rope.freq_base") { d["rope_theta"] = .number(theta) }
        let bos = file.metadata["tokenizer.ggml.bos_token_id"]?.int ?? 2
        let eos = file.metadata["tokenizer.ggml.eos_token_id"]?.int ?? 1
        d["bos_token_id"] = .number(Double(bos))
        d["eos_token_id"] = .number(Double(eos))
        let config = try Gemma3TextConfig.decode(d, source: url.path)
        let weights = GGUFGemma3Weights(file, path: url.path)
        let mode = computeMode ?? .f32
        let model = try Gemma3TextModel(config: config, source: weights, prefix: "model.", lmHeadName: "lm_head.weight", computeMode: mode)
        guard let scores = file.metadata["tokenizer.ggml.scores"]?.floatArray,
              let types = file.metadata["tokenizer.ggml.token_type"]?.int32Array else {
            throw ModelError.invalidConfig(file: url.path, reason: "GGUF tokenizer needs tokenizer.ggml.scores and token_type")
        }
        let tokenizer = try GemmaTokenizer(
            pieces: tokens, scores: scores, tokenTypes: types, bosID: bos, eosID: eos,
            unknownID: file.metadata["tokenizer.ggml.unknown_token_id"]?.int ?? 3,
            paddingID: file.metadata["tokenizer.ggml.padding_token_id"]?.int,
            addSpacePrefix: file.metadata["tokenizer.ggml.add_space_prefix"]?.bool ?? false)
        var stops: Set<Int> = [eos]
        if let eot = file.metadata["tokenizer.ggml.eot_token_id"]?.int { stops.insert(eot) }
        return LoadedModel(model: model, vision: nil, directory: nil, tokenizer: tokenizer, stopIDs: stops, path: url.path)
    }
}
