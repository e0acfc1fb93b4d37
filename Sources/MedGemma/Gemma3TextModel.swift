import Foundation
import Tensor

/// Weights of one Gemma 3 decoder layer. Linear weights keep their storage dtype (mmapped);
/// norm weights are small and widened to float32.
struct Gemma3DecoderLayer {
    let kind: AttentionKind
    let inputNorm: [Float]
    let qProj: LinearLayer, kProj: LinearLayer, vProj: LinearLayer, oProj: LinearLayer
    let qNorm: [Float], kNorm: [Float]
    let postAttentionNorm: [Float]
    let preFeedforwardNorm: [Float]
    let gateProj: LinearLayer, upProj: LinearLayer, downProj: LinearLayer
    let postFeedforwardNorm: [Float]
}

/// The Gemma 3 decoder (transformers' `Gemma3TextModel` + tied or separate LM head).
public final class Gemma3TextModel: @unchecked Sendable {
    public let config: Gemma3TextConfig
    public let computeMode: ComputeMode
    let embedTokens: Tensor
    let lmHead: Tensor
    /// Lean memory (set for quantised bases): the full-vocabulary output product runs over slices of the
    /// memory-mapped output layer and releases each slice's pages afterwards, so the 262k-row table is never
    /// resident as a whole (it is read again from the page cache on the next full product).
    public internal(set) var releasesOutputLayerPages = false
    let layers: [Gemma3DecoderLayer]
    let finalNorm: [Float]
    let rotary: [AttentionKind: RotaryEmbedding]
    /// sqrt(hidden), rounded to bf16 when computing in bf16.
    let embedScale: Float

    /// Loads the decoder from `source`, whose names start with `prefix` (e.g. "model." or
    /// "model.language_model."); `lmHeadName` is used when embeddings are not tied.
    public init(config: Gemma3TextConfig, source: WeightSource, prefix: String, lmHeadName: String?, computeMode: ComputeMode) throws {
        self.config = config
        self.computeMode = computeMode
        let d = config.hiddenSize, hd = config.headDim
        let qOut = config.numHeads * hd, kvOut = config.numKVHeads * hd
        func weight(_ name: String, _ shape: [Int]) throws -> Tensor {
            try source.weight(name, shape: shape, for: computeMode)
        }
        func linear(_ layer: Int, _ name: String, _ shape: [Int]) throws -> LinearLayer {
            let source = "\(prefix)layers.\(layer).\(name).weight"
            return LinearLayer(module: "language_model.layers.\(layer).\(name)", sourceName: source, weight: try weight(source, shape))
        }
        let embed = try weight(prefix + "embed_tokens.weight", [config.vocabSize, d])
        embedTokens = embed
        if !config.tieWordEmbeddings, let name = lmHeadName, source.contains(name) {
            lmHead = try weight(name, [config.vocabSize, d])
        } else if !config.tieWordEmbeddings {
            throw ModelError.missingTensor(name: lmHeadName ?? "lm_head.weight", source: source.sourceName)
        } else {
            lmHead = embed
        }
        var layers: [Gemma3DecoderLayer] = []
        for i in 0..<config.numLayers {
            let p = "\(prefix)layers.\(i)."
            layers.append(Gemma3DecoderLayer(
                kind: config.layerTypes[i],
                inputNorm: try source.vector(p + "input_layernorm.weight", count: d),
                qProj: try linear(i, "self_attn.q_proj", [qOut, d]),
                kProj: try linear(i, "self_attn.k_proj", [kvOut, d]),
                vProj: try linear(i, "self_attn.v_proj", [kvOut, d]),
                oProj: try linear(i, "self_attn.o_proj", [d, qOut]),
                qNorm: try source.vector(p + "self_attn.q_norm.weight", count: hd),
                kNorm: try source.vector(p + "self_attn.k_norm.weight", count: hd),
                postAttentionNorm: try source.vector(p + "post_attention_layernorm.weight", count: d),
                preFeedforwardNorm: try source.vector(p + "pre_feedforward_layernorm.weight", count: d),
                gateProj: try linear(i, "mlp.gate_proj", [config.intermediateSize, d]),
                upProj: try linear(i, "mlp.up_proj", [config.intermediateSize, d]),
                downProj: try linear(i, "mlp.down_proj", [d, config.intermediateSize]),
                postFeedforwardNorm: try source.vector(p + "post_feedforward_layernorm.weight", count: d)))
        }
        self.layers = layers
        finalNorm = try source.vector(prefix + "norm.weight", count: d)
        var rot: [AttentionKind: RotaryEmbedding] = [:]
        for kind in [AttentionKind.sliding, .full] {
            rot[kind] = RotaryEmbedding(headDim: hd, parameters: config.rope[kind] ?? RopeParameters(theta: 10_000, linearFactor: 1))
        }
        rotary = rot
        // The reference multiplies by sqrt(hidden) cast to the weights' dtype; in float32 arithmetic we
        // behave like the model upcast to float32 (unrounded), in bf16 like the bf16 model.
        var scale = Float(Double(d).squareRoot())
        if computeMode == .bf16 { Convert.round(&scale, count: 1, to: .bf16) }
        embedScale = scale
    }

    /// Every linear layer of the decoder (LoRA targets), in layer order.
    public var linearLayers: [LinearLayer] {
        layers.flatMap { [$0.qProj, $0.kProj, $0.vProj, $0.oProj, $0.gateProj, $0.upProj, $0.downProj] }
    }

    /// Scaled token embeddings [ids.count, hidden] in float32.
    public func embed(_ ids: [Int]) throws -> Tensor {
        let d = config.hiddenSize
        let out = Tensor(zeros: [ids.count, d])
        let rowBytes = d * embedTokens.dtype.byteSize
        for (r, id) in ids.enumerated() {
            guard id >= 0 && id < config.vocabSize else {
                throw ModelError.invalidInput("token id \(id) is outside the vocabulary (0..<\(config.vocabSize))")
            }
            Convert.toFloat(from: embedTokens.raw + id * rowBytes, dtype: embedTokens.dtype, into: out.f32 + r * d, count: d)
        }
        Ops.scale(out.f32, count: out.count, by: embedScale)
        return out
    }

    /// Per-query visible key ranges for the new positions, by attention kind. `extraVisible` lets a query
    /// see forward to an absolute key position (bidirectional image blocks); nil for plain causal text.
    func keyRanges(kind: AttentionKind, start: Int, count: Int, extraVisible: [Int]?) -> (lo: [Int], hi: [Int]) {
        var lo = [Int](repeating: 0, count: count), hi = lo
        for i in 0..<count {
            let p = start + i
            var h = p + 1
            if let ev = extraVisible { h = max(h, ev[i]) }
            hi[i] = h
            if kind == .sliding, let w = config.slidingWindow {
                lo[i] = max(0, p - w + 1)
            }
        }
        return (lo, hi)
    }

    /// Runs the decoder over `hidden` ([T, hidden] input embeddings) at positions cache.length ..< +T,
    /// appending to `cache`, and returns the final-normed hidden states [T, hidden].
    public func forward(embeddings hidden: Tensor, cache: KVCache, extraVisible: [Int]? = nil, adapter: String? = nil) throws -> Tensor {
        let t = hidden.shape[0], d = config.hiddenSize, hd = config.headDim
        let start = cache.length
        guard start + t <= cache.capacity else {
            throw ModelError.contextOverflow(promptTokens: start + t, limit: cache.capacity)
        }
        // The residual stream is updated in place: work on a copy so the caller's embeddings survive.
        let x = Tensor(zeros: [t, d])
        x.f32.update(from: hidden.f32, count: t * d)
        let h = Tensor(zeros: [t, d])
        let qOut = config.numHeads * hd, kvOut = config.numKVHeads * hd
        let q = Tensor(zeros: [t, qOut]), k = Tensor(zeros: [t, kvOut]), v = Tensor(zeros: [t, kvOut])
        let attn = Tensor(zeros: [t, qOut])
        let gate = Tensor(zeros: [t, config.intermediateSize]), up = Tensor(zeros: [t, config.intermediateSize])
        let positions = Array(start..<(start + t))
        var tables: [AttentionKind: (cos: [Float], sin: [Float])] = [:]
        var ranges: [AttentionKind: (lo: [Int], hi: [Int])] = [:]
        for kind in Set(config.layerTypes) {
            guard let rope = rotary[kind] else { throw ModelError.unsupportedFeature("no rotary embedding for \(kind) layers") }
            tables[kind] = rope.tables(positions: positions)
            ranges[kind] = keyRanges(kind: kind, start: start, count: t, extraVisible: extraVisible)
        }
        let scale = Float(1 / config.queryPreAttnScalar.squareRoot())
        // Gemma 3 keeps `attn_logit_softcapping` in its config but, unlike Gemma 2, the reference never applies
        // it to attention scores (only the final logits are capped); we do the same.
        let eps = config.rmsNormEps
        let mode = computeMode

        for (li, layer) in layers.enumerated() {
            // Attention block.
            Ops.rmsNorm(x.f32, rows: t, dim: d, weight: layer.inputNorm, eps: eps, into: h.f32)
            try layer.qProj(h.f32, rows: t, out: q.f32, mode: mode, adapter: adapter)
            try layer.kProj(h.f32, rows: t, out: k.f32, mode: mode, adapter: adapter)
            try layer.vProj(h.f32, rows: t, out: v.f32, mode: mode, adapter: adapter)
            Ops.rmsNorm(q.f32, rows: t * config.numHeads, dim: hd, weight: layer.qNorm, eps: eps, into: q.f32)
            Ops.rmsNorm(k.f32, rows: t * config.numKVHeads, dim: hd, weight: layer.kNorm, eps: eps, into: k.f32)
            guard let tab = tables[layer.kind], let range = ranges[layer.kind] else {
                throw ModelError.unsupportedFeature("layer \(li): no tables for \(layer.kind) attention")
            }
            Ops.rope(q.f32, rows: t, heads: config.numHeads, headDim: hd, cos: tab.cos, sin: tab.sin, rowStride: qOut)
            Ops.rope(k.f32, rows: t, heads: config.numKVHeads, headDim: hd, cos: tab.cos, sin: tab.sin, rowStride: kvOut)
            cache.write(layer: li, k: k.f32, v: v.f32, rows: t)
            let problem = AttentionProblem(
                queries: t, heads: config.numHeads, kvHeads: config.numKVHeads, headDim: hd,
                q: q.f32, ldq: qOut, k: cache.keys[li].f32, v: cache.values[li].f32, ldk: hd, kvHeadStride: cache.capacity * hd,
                out: attn.f32, ldo: qOut, keyLo: range.lo, keyHi: range.hi, scale: scale, softcap: nil)
            try Attention.run(problem)
            try layer.oProj(attn.f32, rows: t, out: h.f32, mode: mode, adapter: adapter)
            Ops.rmsNorm(h.f32, rows: t, dim: d, weight: layer.postAttentionNorm, eps: eps, into: h.f32)
            Ops.add(h.f32, into: x.f32, count: t * d)

            // Feed-forward block.
            Ops.rmsNorm(x.f32, rows: t, dim: d, weight: layer.preFeedforwardNorm, eps: eps, into: h.f32)
            try layer.gateProj(h.f32, rows: t, out: gate.f32, mode: mode, adapter: adapter)
            try layer.upProj(h.f32, rows: t, out: up.f32, mode: mode, adapter: adapter)
            Ops.geluTanhMul(gate: gate.f32, up: up.f32, into: gate.f32, count: t * config.intermediateSize)
            try layer.downProj(gate.f32, rows: t, out: h.f32, mode: mode, adapter: adapter)
            Ops.rmsNorm(h.f32, rows: t, dim: d, weight: layer.postFeedforwardNorm, eps: eps, into: h.f32)
            Ops.add(h.f32, into: x.f32, count: t * d)
        }
        cache.advance(by: t)
        Ops.rmsNorm(x.f32, rows: t, dim: d, weight: finalNorm, eps: eps, into: x.f32)
        return x
    }

    /// Logits [rows, vocab] for final hidden states [rows, hidden], soft-capped when the model class caps (`outputLogitSoftcap`).
    public func logits(_ hidden: Tensor) throws -> Tensor {
        let rows = hidden.shape[0]
        let out = Tensor(zeros: [rows, config.vocabSize])
        if releasesOutputLayerPages && lmHead.storage.isBorrowed {
            let slice = 16384
            var r0 = 0
            while r0 < config.vocabSize {
                let part = try lmHead.rows(r0..<min(config.vocabSize, r0 + slice))
                try MatMul.linear(hidden.f32, rows: rows, weight: part, out: out.f32 + r0, ldOut: config.vocabSize, mode: computeMode)
                part.releaseMappedPages()
                r0 += slice
            }
        } else {
            try MatMul.linear(hidden.f32, rows: rows, weight: lmHead, out: out.f32, mode: computeMode)
        }
        if let cap = config.outputLogitSoftcap { Ops.softcap(out.f32, count: out.count, cap: cap) }
        return out
    }

    /// Logits of selected vocabulary entries only, [rows, ids.count]: label scoring needs a handful of
    /// entries, not the whole output layer.
    public func logits(_ hidden: Tensor, forTokens ids: [Int]) throws -> Tensor {
        let rows = hidden.shape[0], d = config.hiddenSize
        let w = Tensor(zeros: [ids.count, d], dtype: lmHead.dtype)
        let rowBytes = d * lmHead.dtype.byteSize
        for (i, id) in ids.enumerated() {
            guard id >= 0 && id < config.vocabSize else { throw ModelError.invalidInput("token id \(id) is outside the vocabulary") }
            w.raw.advanced(by: i * rowBytes).copyMemory(from: lmHead.raw + id * rowBytes, byteCount: rowBytes)
        }
        let out = Tensor(zeros: [rows, ids.count])
        try MatMul.linear(hidden.f32, rows: rows, weight: w, out: out.f32, mode: computeMode)
        if let cap = config.outputLogitSoftcap { Ops.softcap(out.f32, count: out.count, cap: cap) }
        return out
    }

    /// A cache sized for `tokens` positions (bounded by the model's context limit).
    public func makeCache(tokens: Int) throws -> KVCache {
        guard tokens <= config.maxPositions else {
            throw ModelError.contextOverflow(promptTokens: tokens, limit: config.maxPositions)
        }
        return KVCache(config: config, capacity: tokens)
    }
}
