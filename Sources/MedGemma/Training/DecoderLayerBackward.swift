import CKernels
import Tensor

/// Per-pass constants of the decoder's training forward/backward: rotary tables (and their inverse
/// rotation for the backward), key ranges by attention kind.
struct DecoderPassContext {
    let tokens: Int
    let rope: [AttentionKind: (cos: [Float], sin: [Float], negSin: [Float])]
    let ranges: [AttentionKind: (lo: [Int], hi: [Int])]

    init(model: Gemma3TextModel, tokens t: Int, extraVisible: [Int]?) throws {
        tokens = t
        var rope: [AttentionKind: (cos: [Float], sin: [Float], negSin: [Float])] = [:]
        var ranges: [AttentionKind: (lo: [Int], hi: [Int])] = [:]
        for kind in Set(model.config.layerTypes) {
            guard let rot = model.rotary[kind] else { throw ModelError.unsupportedFeature("no rotary table for \(kind) attention") }
            let tab = rot.tables(positions: Array(0..<t))
            rope[kind] = (tab.cos, tab.sin, tab.sin.map { -$0 })
            ranges[kind] = model.keyRanges(kind: kind, start: 0, count: t, extraVisible: extraVisible)
        }
        self.rope = rope
        self.ranges = ranges
    }
}

/// One decoder layer's activations, recomputed from its input inside the backward.
struct DecoderLayerActivations {
    var h: Tensor, q: Tensor, k: Tensor, qr: Tensor, kr: Tensor, v: Tensor, attn: Tensor, o: Tensor
    var x1: Tensor, h2: Tensor, gate: Tensor, up: Tensor, act: Tensor, down: Tensor
    var lin: [String: LinearActivations] = [:]
}

extension Gemma3TextModel {
    /// The trainable update of a layer, if any.
    func loraModule(_ layer: LinearLayer, _ lora: TrainableLoRA?) -> TrainableLoRA.Module? { lora?[layer.module] }

    /// Training forward of decoder layer `li` over x [T, hidden] (updated in place to the layer's output),
    /// the same kernels in the same order as `forward(embeddings:…)`. Dropout masks come from `rng`.
    @discardableResult
    func trainingLayerForward(_ li: Int, x: Tensor, context c: DecoderPassContext, lora: TrainableLoRA?,
                              rng: inout SplitMix64) throws -> DecoderLayerActivations {
        let layer = layers[li]
        let t = c.tokens, d = config.hiddenSize, hd = config.headDim, ff = config.intermediateSize
        let qOut = config.numHeads * hd, kvOut = config.numKVHeads * hd
        let eps = config.rmsNormEps, mode = computeMode
        let scale = lora?.scale ?? 0, p = lora?.dropout ?? 0
        var a = DecoderLayerActivations(
            h: Tensor(zeros: [t, d]), q: Tensor(zeros: [t, qOut]), k: Tensor(zeros: [t, kvOut]), qr: Tensor(zeros: [t, qOut]),
            kr: Tensor(zeros: [t, kvOut]), v: Tensor(zeros: [t, kvOut]), attn: Tensor(zeros: [t, qOut]), o: Tensor(zeros: [t, d]),
            x1: Tensor(zeros: [t, d]), h2: Tensor(zeros: [t, d]), gate: Tensor(zeros: [t, ff]), up: Tensor(zeros: [t, ff]),
            act: Tensor(zeros: [t, ff]), down: Tensor(zeros: [t, d]))
        func linear(_ l: LinearLayer, _ input: Tensor, _ out: Tensor) throws {
            a.lin[l.module] = try l.trainingForward(input.f32, rows: t, out: out.f32, mode: mode, module: loraModule(l, lora),
                                                    scale: scale, dropout: p, rng: &rng)
        }
        ck_rmsnorm_rows(x.f32, a.h.f32, layer.inputNorm, 1, eps, Int64(t), Int64(d))
        try linear(layer.qProj, a.h, a.q)
        try linear(layer.kProj, a.h, a.k)
        try linear(layer.vProj, a.h, a.v)
        ck_rmsnorm_rows(a.q.f32, a.qr.f32, layer.qNorm, 1, eps, Int64(t * config.numHeads), Int64(hd))
        ck_rmsnorm_rows(a.k.f32, a.kr.f32, layer.kNorm, 1, eps, Int64(t * config.numKVHeads), Int64(hd))
        let tab = c.rope[layer.kind]!
        ck_rope_rows(a.qr.f32, Int64(t), Int64(config.numHeads), Int64(hd), tab.cos, tab.sin, Int64(qOut))
        ck_rope_rows(a.kr.f32, Int64(t), Int64(config.numKVHeads), Int64(hd), tab.cos, tab.sin, Int64(kvOut))
        try Attention.run(attentionProblem(li, a, c))
        try linear(layer.oProj, a.attn, a.o)
        a.x1.f32.update(from: a.o.f32, count: t * d)
        ck_rmsnorm_rows(a.x1.f32, a.x1.f32, layer.postAttentionNorm, 1, eps, Int64(t), Int64(d))
        ck_add(a.x1.f32, x.f32, t * d)  // x1 = x + post-norm(o): the same sum as the inference residual update

        ck_rmsnorm_rows(a.x1.f32, a.h2.f32, layer.preFeedforwardNorm, 1, eps, Int64(t), Int64(d))
        try linear(layer.gateProj, a.h2, a.gate)
        try linear(layer.upProj, a.h2, a.up)
        ck_gelu_tanh_mul(a.gate.f32, a.up.f32, a.act.f32, t * ff)
        try linear(layer.downProj, a.act, a.down)
        x.f32.update(from: a.down.f32, count: t * d)
        ck_rmsnorm_rows(x.f32, x.f32, layer.postFeedforwardNorm, 1, eps, Int64(t), Int64(d))
        ck_add(x.f32, a.x1.f32, t * d)
        return a
    }

    func attentionProblem(_ li: Int, _ a: DecoderLayerActivations, _ c: DecoderPassContext) -> AttentionProblem {
        let hd = config.headDim, range = c.ranges[layers[li].kind]!
        return AttentionProblem(
            queries: c.tokens, heads: config.numHeads, kvHeads: config.numKVHeads, headDim: hd,
            q: a.qr.f32, ldq: config.numHeads * hd, k: a.kr.f32, v: a.v.f32, ldk: config.numKVHeads * hd, kvHeadStride: hd,
            out: a.attn.f32, ldo: config.numHeads * hd, keyLo: range.lo, keyHi: range.hi,
            scale: Float(1 / config.queryPreAttnScalar.squareRoot()), softcap: nil)
    }

    /// Backward of decoder layer `li`: `input` is the layer's saved input, `dx` holds ∂L/∂(layer output) and
    /// becomes ∂L/∂(layer input). Recomputes the layer's forward (same dropout masks from `rng`, which must
    /// be in the state the forward started from) and adds the LoRA gradients.
    func trainingLayerBackward(_ li: Int, input: Tensor, dx: Tensor, context c: DecoderPassContext, lora: TrainableLoRA?,
                               rng: inout SplitMix64) throws {
        let layer = layers[li]
        let t = c.tokens, d = config.hiddenSize, hd = config.headDim, ff = config.intermediateSize
        let qOut = config.numHeads * hd, kvOut = config.numKVHeads * hd
        let eps = config.rmsNormEps
        let scale = lora?.scale ?? 0
        let x = Tensor(zeros: [t, d])
        x.f32.update(from: input.f32, count: t * d)
        let a = try trainingLayerForward(li, x: x, context: c, lora: lora, rng: &rng)
        func back(_ l: LinearLayer, _ input: Tensor, _ dOut: Tensor, _ dIn: Tensor) throws {
            try l.trainingBackward(input.f32, rows: t, dOut: dOut.f32, dx: dIn.f32, module: loraModule(l, lora),
                                   activations: a.lin[l.module], scale: scale)
        }
        // Feed-forward block: out = x1 + postFF(down(gelu(gate)·up)).
        let dDown = Tensor(zeros: [t, d])
        ck_rmsnorm_rows_backward(a.down.f32, dx.f32, layer.postFeedforwardNorm, 1, eps, Int64(t), Int64(d), dDown.f32, nil)
        let dAct = Tensor(zeros: [t, ff])
        try back(layer.downProj, a.act, dDown, dAct)
        let dGate = Tensor(zeros: [t, ff]), dUp = Tensor(zeros: [t, ff])
        ck_gelu_tanh_mul_backward(a.gate.f32, a.up.f32, dAct.f32, dGate.f32, dUp.f32, t * ff)
        let dh2 = Tensor(zeros: [t, d])
        try back(layer.gateProj, a.h2, dGate, dh2)
        try back(layer.upProj, a.h2, dUp, dh2)
        ck_rmsnorm_rows_backward(a.x1.f32, dh2.f32, layer.preFeedforwardNorm, 1, eps, Int64(t), Int64(d), dh2.f32, nil)
        ck_add(dx.f32, dh2.f32, t * d)  // dx now holds ∂L/∂x1

        // Attention block: x1 = x + postAttn(o(attention(rope(qnorm(q)), rope(knorm(k)), v))).
        let dO = Tensor(zeros: [t, d])
        ck_rmsnorm_rows_backward(a.o.f32, dx.f32, layer.postAttentionNorm, 1, eps, Int64(t), Int64(d), dO.f32, nil)
        let dAttn = Tensor(zeros: [t, qOut])
        try back(layer.oProj, a.attn, dO, dAttn)
        let dq = Tensor(zeros: [t, qOut]), dk = Tensor(zeros: [t, kvOut]), dv = Tensor(zeros: [t, kvOut])
        try Attention.backward(attentionProblem(li, a, c), dOut: dAttn.f32, ldDOut: qOut,
                               grads: AttentionGradients(dq: dq.f32, dk: dk.f32, dv: dv.f32))
        // The rotation's transpose is the rotation by the opposite angle.
        let tab = c.rope[layer.kind]!
        ck_rope_rows(dq.f32, Int64(t), Int64(config.numHeads), Int64(hd), tab.cos, tab.negSin, Int64(qOut))
        ck_rope_rows(dk.f32, Int64(t), Int64(config.numKVHeads), Int64(hd), tab.cos, tab.negSin, Int64(kvOut))
        ck_rmsnorm_rows_backward(a.q.f32, dq.f32, layer.qNorm, 1, eps, Int64(t * config.numHeads), Int64(hd), dq.f32, nil)
        ck_rmsnorm_rows_backward(a.k.f32, dk.f32, layer.kNorm, 1, eps, Int64(t * config.numKVHeads), Int64(hd), dk.f32, nil)
        let dh = Tensor(zeros: [t, d])
        try back(layer.qProj, a.h, dq, dh)
        try back(layer.kProj, a.h, dk, dh)
        try back(layer.vProj, a.h, dv, dh)
        ck_rmsnorm_rows_backward(input.f32, dh.f32, layer.inputNorm, 1, eps, Int64(t), Int64(d), dh.f32, nil)
        ck_add(dx.f32, dh.f32, t * d)
    }
}
