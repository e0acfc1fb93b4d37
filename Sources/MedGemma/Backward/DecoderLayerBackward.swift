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

    func table(_ kind: AttentionKind) throws -> (cos: [Float], sin: [Float], negSin: [Float]) {
        guard let t = rope[kind] else { throw ModelError.unsupportedFeature("no rotary table for \(kind) attention") }
        return t
    }
}

/// One decoder layer's activations, recomputed from its input inside the backward.
struct DecoderLayerActivations {
    var h: Tensor, q: Tensor, k: Tensor, qr: Tensor, kr: Tensor, v: Tensor, attn: Tensor, o: Tensor
    var x1: Tensor, h2: Tensor, gate: Tensor, up: Tensor, act: Tensor, down: Tensor
    var lin: [String: LinearActivations] = [:]
}

/// The norm weights of one decoder layer as the pass sees them (parameters in full training).
struct DecoderNorms {
    let input: [Float], q: [Float], k: [Float], postAttention: [Float], preFeedforward: [Float], postFeedforward: [Float]
    let names: [String]

    init(_ layer: Gemma3DecoderLayer, index li: Int, trainables w: Trainables) {
        let p = "language_model.layers.\(li)."
        names = ["input_layernorm", "self_attn.q_norm", "self_attn.k_norm", "post_attention_layernorm",
                 "pre_feedforward_layernorm", "post_feedforward_layernorm"].map { p + $0 + ".weight" }
        input = w.vector(names[0], layer.inputNorm)
        q = w.vector(names[1], layer.qNorm)
        k = w.vector(names[2], layer.kNorm)
        postAttention = w.vector(names[3], layer.postAttentionNorm)
        preFeedforward = w.vector(names[4], layer.preFeedforwardNorm)
        postFeedforward = w.vector(names[5], layer.postFeedforwardNorm)
    }
}

extension Gemma3TextModel {
    /// Training forward of decoder layer `li` over x [T, hidden] (updated in place to the layer's output),
    /// the same kernels in the same order as `forward(embeddings:…)`. Dropout masks come from `rng`.
    @discardableResult
    func trainingLayerForward(_ li: Int, x: Tensor, context c: DecoderPassContext, trainables w: Trainables,
                              rng: inout SplitMix64) throws -> DecoderLayerActivations {
        let layer = layers[li]
        let norms = DecoderNorms(layer, index: li, trainables: w)
        let t = c.tokens, d = config.hiddenSize, hd = config.headDim, ff = config.intermediateSize
        let qOut = config.numHeads * hd, kvOut = config.numKVHeads * hd
        let eps = config.rmsNormEps, mode = computeMode
        var a = DecoderLayerActivations(
            h: Tensor(zeros: [t, d]), q: Tensor(zeros: [t, qOut]), k: Tensor(zeros: [t, kvOut]), qr: Tensor(zeros: [t, qOut]),
            kr: Tensor(zeros: [t, kvOut]), v: Tensor(zeros: [t, kvOut]), attn: Tensor(zeros: [t, qOut]), o: Tensor(zeros: [t, d]),
            x1: Tensor(zeros: [t, d]), h2: Tensor(zeros: [t, d]), gate: Tensor(zeros: [t, ff]), up: Tensor(zeros: [t, ff]),
            act: Tensor(zeros: [t, ff]), down: Tensor(zeros: [t, d]))
        func linear(_ l: LinearLayer, _ input: Tensor, _ out: Tensor) throws {
            a.lin[l.module] = try l.trainingForward(input.f32, rows: t, out: out.f32, mode: mode, trainables: w, rng: &rng)
        }
        Ops.rmsNorm(x.f32, rows: t, dim: d, weight: norms.input, eps: eps, into: a.h.f32)
        try linear(layer.qProj, a.h, a.q)
        try linear(layer.kProj, a.h, a.k)
        try linear(layer.vProj, a.h, a.v)
        Ops.rmsNorm(a.q.f32, rows: t * config.numHeads, dim: hd, weight: norms.q, eps: eps, into: a.qr.f32)
        Ops.rmsNorm(a.k.f32, rows: t * config.numKVHeads, dim: hd, weight: norms.k, eps: eps, into: a.kr.f32)
        let tab = try c.table(layer.kind)
        Ops.rope(a.qr.f32, rows: t, heads: config.numHeads, headDim: hd, cos: tab.cos, sin: tab.sin, rowStride: qOut)
        Ops.rope(a.kr.f32, rows: t, heads: config.numKVHeads, headDim: hd, cos: tab.cos, sin: tab.sin, rowStride: kvOut)
        try Attention.run(try attentionProblem(li, a, c))
        try linear(layer.oProj, a.attn, a.o)
        a.x1.f32.update(from: a.o.f32, count: t * d)
        Ops.rmsNorm(a.x1.f32, rows: t, dim: d, weight: norms.postAttention, eps: eps, into: a.x1.f32)
        Ops.add(x.f32, into: a.x1.f32, count: t * d)  // x1 = x + post-norm(o): the same sum as the inference residual update

        Ops.rmsNorm(a.x1.f32, rows: t, dim: d, weight: norms.preFeedforward, eps: eps, into: a.h2.f32)
        try linear(layer.gateProj, a.h2, a.gate)
        try linear(layer.upProj, a.h2, a.up)
        Ops.geluTanhMul(gate: a.gate.f32, up: a.up.f32, into: a.act.f32, count: t * ff)
        try linear(layer.downProj, a.act, a.down)
        x.f32.update(from: a.down.f32, count: t * d)
        Ops.rmsNorm(x.f32, rows: t, dim: d, weight: norms.postFeedforward, eps: eps, into: x.f32)
        Ops.add(a.x1.f32, into: x.f32, count: t * d)
        return a
    }

    func attentionProblem(_ li: Int, _ a: DecoderLayerActivations, _ c: DecoderPassContext) throws -> AttentionProblem {
        let hd = config.headDim
        guard let range = c.ranges[layers[li].kind] else { throw ModelError.unsupportedFeature("no key ranges for \(layers[li].kind) attention") }
        return AttentionProblem(
            queries: c.tokens, heads: config.numHeads, kvHeads: config.numKVHeads, headDim: hd,
            q: a.qr.f32, ldq: config.numHeads * hd, k: a.kr.f32, v: a.v.f32, ldk: config.numKVHeads * hd, kvHeadStride: hd,
            out: a.attn.f32, ldo: config.numHeads * hd, keyLo: range.lo, keyHi: range.hi,
            scale: Float(1 / config.queryPreAttnScalar.squareRoot()), softcap: nil)
    }

    /// Backward of decoder layer `li`: `input` is the layer's saved input, `dx` holds ∂L/∂(layer output) and
    /// becomes ∂L/∂(layer input). Recomputes the layer's forward (same dropout masks from `rng`, which must
    /// be in the state the forward started from) and adds the gradients of what `w` trains.
    func trainingLayerBackward(_ li: Int, input: Tensor, dx: Tensor, context c: DecoderPassContext, trainables w: Trainables,
                               rng: inout SplitMix64) throws {
        let layer = layers[li]
        let norms = DecoderNorms(layer, index: li, trainables: w)
        let t = c.tokens, d = config.hiddenSize, hd = config.headDim, ff = config.intermediateSize
        let qOut = config.numHeads * hd, kvOut = config.numKVHeads * hd
        let eps = config.rmsNormEps
        let x = Tensor(zeros: [t, d])
        x.f32.update(from: input.f32, count: t * d)
        let a = try trainingLayerForward(li, x: x, context: c, trainables: w, rng: &rng)
        func back(_ l: LinearLayer, _ input: Tensor, _ dOut: Tensor, _ dIn: Tensor) throws {
            try l.trainingBackward(input.f32, rows: t, dOut: dOut.f32, dx: dIn.f32, trainables: w, activations: a.lin[l.module])
        }
        // Feed-forward block: out = x1 + postFF(down(gelu(gate)·up)).
        let dDown = Tensor(zeros: [t, d])
        Ops.rmsNormBackward(a.down.f32, dy: dx.f32, rows: t, dim: d, weight: norms.postFeedforward, eps: eps, dx: dDown.f32,
                            dWeight: w.grad(norms.names[5]))
        let dAct = Tensor(zeros: [t, ff])
        try back(layer.downProj, a.act, dDown, dAct)
        let dGate = Tensor(zeros: [t, ff]), dUp = Tensor(zeros: [t, ff])
        Ops.geluTanhMulBackward(gate: a.gate.f32, up: a.up.f32, dOut: dAct.f32, dGate: dGate.f32, dUp: dUp.f32, count: t * ff)
        let dh2 = Tensor(zeros: [t, d])
        try back(layer.gateProj, a.h2, dGate, dh2)
        try back(layer.upProj, a.h2, dUp, dh2)
        Ops.rmsNormBackward(a.x1.f32, dy: dh2.f32, rows: t, dim: d, weight: norms.preFeedforward, eps: eps, dx: dh2.f32,
                            dWeight: w.grad(norms.names[4]))
        Ops.add(dh2.f32, into: dx.f32, count: t * d)  // dx now holds ∂L/∂x1

        // Attention block: x1 = x + postAttn(o(attention(rope(qnorm(q)), rope(knorm(k)), v))).
        let dO = Tensor(zeros: [t, d])
        Ops.rmsNormBackward(a.o.f32, dy: dx.f32, rows: t, dim: d, weight: norms.postAttention, eps: eps, dx: dO.f32,
                            dWeight: w.grad(norms.names[3]))
        let dAttn = Tensor(zeros: [t, qOut])
        try back(layer.oProj, a.attn, dO, dAttn)
        let dq = Tensor(zeros: [t, qOut]), dk = Tensor(zeros: [t, kvOut]), dv = Tensor(zeros: [t, kvOut])
        try Attention.backward(try attentionProblem(li, a, c), dOut: dAttn.f32, ldDOut: qOut,
                               grads: AttentionGradients(dq: dq.f32, dk: dk.f32, dv: dv.f32))
        // The rotation's transpose is the rotation by the opposite angle.
        let tab = try c.table(layer.kind)
        Ops.ropeBackward(dq.f32, rows: t, heads: config.numHeads, headDim: hd, cos: tab.cos, negatedSin: tab.negSin, rowStride: qOut)
        Ops.ropeBackward(dk.f32, rows: t, heads: config.numKVHeads, headDim: hd, cos: tab.cos, negatedSin: tab.negSin, rowStride: kvOut)
        Ops.rmsNormBackward(a.q.f32, dy: dq.f32, rows: t * config.numHeads, dim: hd, weight: norms.q, eps: eps, dx: dq.f32,
                            dWeight: w.grad(norms.names[1]))
        Ops.rmsNormBackward(a.k.f32, dy: dk.f32, rows: t * config.numKVHeads, dim: hd, weight: norms.k, eps: eps, dx: dk.f32,
                            dWeight: w.grad(norms.names[2]))
        let dh = Tensor(zeros: [t, d])
        try back(layer.qProj, a.h, dq, dh)
        try back(layer.kProj, a.h, dk, dh)
        try back(layer.vProj, a.h, dv, dh)
        Ops.rmsNormBackward(input.f32, dy: dh.f32, rows: t, dim: d, weight: norms.input, eps: eps, dx: dh.f32,
                            dWeight: w.grad(norms.names[0]))
        Ops.add(dh.f32, into: dx.f32, count: t * d)
    }
}
