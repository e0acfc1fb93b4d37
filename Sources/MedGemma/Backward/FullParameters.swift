import Foundation
import Tensor

/// Every weight of a (small) model as a trainable float32 `Parameter` (`--full` training): linear weights
/// and biases, norm weights and biases, token embeddings (also the tied output layer), the untied output
/// layer, the projector, the patch embedding and the position table. Values start as owned float32 copies
/// of the model's weights; the training forward reads them instead of the model's own (frozen) weights.
///
/// Names are canonical (independent of the checkpoint layout): "language_model.layers.N.<module>.weight",
/// "language_model.layers.N.input_layernorm.weight", "language_model.embed_tokens.weight",
/// "language_model.norm.weight", "lm_head.weight" (untied only), "vision_tower.embeddings.patch_embedding.weight"
/// ([hidden, channels·patch·patch]: the convolution kernel flattened in (channel, row, column) order),
/// "vision_tower.embeddings.patch_embedding.bias", "vision_tower.embeddings.position_embedding.weight",
/// "vision_tower.encoder.layers.N.<module>.weight|bias", "vision_tower.encoder.layers.N.layer_norm1.weight|bias",
/// "vision_tower.post_layernorm.weight|bias", "multi_modal_projector.mm_soft_emb_norm.weight",
/// "multi_modal_projector.mm_input_projection_weight" ([vision hidden, text hidden]).
public final class FullParameters: @unchecked Sendable {
    /// Every parameter, in a fixed order (decoder, then vision tower, then projector).
    public let parameters: [Parameter]
    private let byName: [String: Parameter]

    /// The parameter of a canonical name.
    public subscript(name: String) -> Parameter? { byName[name] }

    /// Copies every weight of `model` (and `vision`) into float32 parameters.
    public init(model: Gemma3TextModel, vision: Gemma3VisionEncoder? = nil) throws {
        var list: [Parameter] = []
        func add(_ name: String, _ t: Tensor) { list.append(Parameter(name: name, value: Self.ownedCopy(t))) }
        func addVector(_ name: String, _ v: [Float]) throws { list.append(Parameter(name: name, value: try Tensor(v, shape: [v.count]))) }
        add("language_model.embed_tokens.weight", model.embedTokens)
        if !model.config.tieWordEmbeddings { add("lm_head.weight", model.lmHead) }
        for (i, l) in model.layers.enumerated() {
            let p = "language_model.layers.\(i)."
            try addVector(p + "input_layernorm.weight", l.inputNorm)
            for lin in [l.qProj, l.kProj, l.vProj, l.oProj, l.gateProj, l.upProj, l.downProj] { try Self.addLinear(lin, to: &list) }
            try addVector(p + "self_attn.q_norm.weight", l.qNorm)
            try addVector(p + "self_attn.k_norm.weight", l.kNorm)
            try addVector(p + "post_attention_layernorm.weight", l.postAttentionNorm)
            try addVector(p + "pre_feedforward_layernorm.weight", l.preFeedforwardNorm)
            try addVector(p + "post_feedforward_layernorm.weight", l.postFeedforwardNorm)
        }
        try addVector("language_model.norm.weight", model.finalNorm)
        if let vision {
            let tower = vision.tower
            add("vision_tower.embeddings.patch_embedding.weight", tower.patchWeight)
            try addVector("vision_tower.embeddings.patch_embedding.bias", tower.patchBias)
            add("vision_tower.embeddings.position_embedding.weight", tower.positions)
            for (i, l) in tower.layers.enumerated() {
                let p = "vision_tower.encoder.layers.\(i)."
                try addVector(p + "layer_norm1.weight", l.norm1Weight)
                try addVector(p + "layer_norm1.bias", l.norm1Bias)
                for lin in [l.qProj, l.kProj, l.vProj, l.outProj, l.fc1, l.fc2] { try Self.addLinear(lin, to: &list) }
                try addVector(p + "layer_norm2.weight", l.norm2Weight)
                try addVector(p + "layer_norm2.bias", l.norm2Bias)
            }
            try addVector("vision_tower.post_layernorm.weight", tower.postNormWeight)
            try addVector("vision_tower.post_layernorm.bias", tower.postNormBias)
            try addVector("multi_modal_projector.mm_soft_emb_norm.weight", vision.projector.normWeight)
            add("multi_modal_projector.mm_input_projection_weight", vision.projector.projection)
        }
        parameters = list
        byName = Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0) })
    }

    /// All weights of a loaded model. Quantised bases cannot be trained fully.
    public convenience init(loaded: LoadedModel) throws {
        if loaded.linearLayers.values.contains(where: { $0.quantized != nil }) {
            throw ModelError.unsupportedFeature("\(loaded.path): full training needs the unquantised base (load it without --quantize)")
        }
        try self.init(model: loaded.model, vision: loaded.vision)
    }

    static func addLinear(_ l: LinearLayer, to list: inout [Parameter]) throws {
        let source = l.quantized?.dequantized() ?? l.weight
        list.append(Parameter(name: l.module + ".weight", value: ownedCopy(source)))
        if let b = l.bias { list.append(Parameter(name: l.module + ".bias", value: try Tensor(b, shape: [b.count]))) }
    }

    /// An owned float32 copy (never a view of a memory-mapped checkpoint, which is read-only).
    static func ownedCopy(_ t: Tensor) -> Tensor {
        let out = Tensor(zeros: t.shape)
        Convert.toFloat(from: t.raw, dtype: t.dtype, into: out.f32, count: t.count)
        return out
    }

    /// Weight [out, in] and bias of a linear layer.
    func linear(_ l: LinearLayer) -> (w: Parameter, b: Parameter?)? {
        guard let w = byName[l.module + ".weight"] else { return nil }
        return (w, byName[l.module + ".bias"])
    }
}

extension FullParameters {
    /// The checkpoint name of a canonical parameter name in the layout transformers 5.24's `save_pretrained`
    /// writes for Gemma3ForConditionalGeneration (as the committed VLM fixture holds it): "language_model.model.*",
    /// "vision_tower.*", "multi_modal_projector.*", and "language_model.lm_head.weight" when untied.
    /// `ModelLoader` and transformers both read it.
    public static func checkpointName(_ canonical: String) -> String {
        let layout = Gemma3CheckpointLayout.release
        if canonical == "lm_head.weight" { return layout.lmHead }
        if canonical.hasPrefix("language_model.") { return layout.prefix + canonical.dropFirst("language_model.".count) }
        return canonical
    }

    /// Every parameter under its checkpoint name with its checkpoint shape (the patch embedding back to
    /// [hidden, channels, patch, patch]), values copied: what a full-model checkpoint writer saves.
    public func checkpointTensors(patchSize: Int?) throws -> [(name: String, tensor: Tensor)] {
        try parameters.map { p in
            let copy = Self.ownedCopy(p.value)
            if p.name == "vision_tower.embeddings.patch_embedding.weight", let k = patchSize, k > 0 {
                let channels = p.shape[1] / (k * k)
                return (Self.checkpointName(p.name), try copy.reshaped([p.shape[0], channels, k, k]))
            }
            return (Self.checkpointName(p.name), copy)
        }
    }

    /// An inference model holding a snapshot of the current values (per-epoch validation during full
    /// training, e.g. with LabelScorer): `loaded`'s configuration, tokenizer and compute mode, these weights.
    public func snapshot(of loaded: LoadedModel) throws -> LoadedModel {
        let tensors = try checkpointTensors(patchSize: loaded.vision?.settings.vision.patchSize)
        let source = TensorDictionary(Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) }),
                                      name: "full-training snapshot of \(loaded.path)")
        let mode = loaded.model.computeMode
        let layout = Gemma3CheckpointLayout.release
        let model = try Gemma3TextModel(config: loaded.model.config, source: source, prefix: layout.prefix,
                                        lmHeadName: layout.lmHead, computeMode: mode)
        var vision: Gemma3VisionEncoder?
        if let v = loaded.vision {
            vision = try Gemma3VisionEncoder(settings: v.settings, textHidden: loaded.model.config.hiddenSize, source: source, computeMode: mode)
        }
        return LoadedModel(model: model, vision: vision, directory: loaded.directory, tokenizer: loaded.tokenizer,
                           stopIDs: loaded.stopIDs, path: loaded.path)
    }
}

/// Named tensors held in memory, seen as a `WeightSource`.
final class TensorDictionary: WeightSource {
    let tensors: [String: Tensor]
    let sourceName: String
    init(_ tensors: [String: Tensor], name: String) {
        self.tensors = tensors
        sourceName = name
    }
    var tensorNames: [String] { tensors.keys.sorted() }
    func contains(_ name: String) -> Bool { tensors[name] != nil }
    func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw ModelError.missingTensor(name: name, source: sourceName) }
        return t
    }
}
