import Tensor

/// One SigLIP layer's activations, recomputed from its input inside the backward.
struct SiglipLayerActivations {
    var h1: Tensor, q: Tensor, k: Tensor, v: Tensor, attn: Tensor, x1: Tensor, h2: Tensor, pre: Tensor, mid: Tensor
    var lin: [String: LinearActivations] = [:]
}

/// What the vision backward needs from one image's forward: the unfolded patches, each layer's input and
/// dropout stream, the tower output before and after the post-layernorm.
struct VisionTrace {
    var patches: Tensor
    var layerInputs: [Tensor] = []
    var layerRNG: [SplitMix64] = []
    var preNorm: Tensor
    /// Post-layernorm output [patches, hidden] (the projector's input).
    var encoded: Tensor
}

/// The LayerNorm weights of one SigLIP layer as the pass sees them (parameters in full training).
struct SiglipNorms {
    let w1: [Float], b1: [Float], w2: [Float], b2: [Float]
    let names: [String]

    init(_ layer: SiglipEncoderLayer, index li: Int, trainables w: Trainables) {
        let p = "vision_tower.encoder.layers.\(li)."
        names = ["layer_norm1.weight", "layer_norm1.bias", "layer_norm2.weight", "layer_norm2.bias"].map { p + $0 }
        w1 = w.vector(names[0], layer.norm1Weight)
        b1 = w.vector(names[1], layer.norm1Bias)
        w2 = w.vector(names[2], layer.norm2Weight)
        b2 = w.vector(names[3], layer.norm2Bias)
    }
}

extension SiglipVisionModel {
    func attentionProblem(_ a: SiglipLayerActivations) -> AttentionProblem {
        let t = config.numPatches, d = config.hiddenSize, hd = config.headDim
        var problem = AttentionProblem(
            queries: t, heads: config.numHeads, kvHeads: config.numHeads, headDim: hd, q: a.q.f32, ldq: d, k: a.k.f32, v: a.v.f32,
            ldk: d, kvHeadStride: hd, out: a.attn.f32, ldo: d, keyLo: [Int](repeating: 0, count: t),
            keyHi: [Int](repeating: t, count: t), scale: Float(1 / Double(hd).squareRoot()), softcap: nil)
        problem.bf16Products = computeMode == .bf16
        return problem
    }

    /// Training forward of encoder layer `li` over x [patches, hidden] (updated in place), the kernels of
    /// `encode` in the same order.
    @discardableResult
    func trainingLayerForward(_ li: Int, x: Tensor, trainables w: Trainables, rng: inout SplitMix64) throws -> SiglipLayerActivations {
        let layer = layers[li]
        let norms = SiglipNorms(layer, index: li, trainables: w)
        let t = config.numPatches, d = config.hiddenSize, ff = config.intermediateSize
        let eps = config.layerNormEps, mode = computeMode
        var a = SiglipLayerActivations(h1: Tensor(zeros: [t, d]), q: Tensor(zeros: [t, d]), k: Tensor(zeros: [t, d]), v: Tensor(zeros: [t, d]),
                                       attn: Tensor(zeros: [t, d]), x1: Tensor(zeros: [t, d]), h2: Tensor(zeros: [t, d]),
                                       pre: Tensor(zeros: [t, ff]), mid: Tensor(zeros: [t, ff]))
        func linear(_ l: LinearLayer, _ input: Tensor, _ out: Tensor) throws {
            a.lin[l.module] = try l.trainingForward(input.f32, rows: t, out: out.f32, mode: mode, trainables: w, rng: &rng)
        }
        Ops.layerNorm(x.f32, rows: t, dim: d, weight: norms.w1, bias: norms.b1, eps: eps, into: a.h1.f32)
        try linear(layer.qProj, a.h1, a.q)
        try linear(layer.kProj, a.h1, a.k)
        try linear(layer.vProj, a.h1, a.v)
        try Attention.run(attentionProblem(a))
        try linear(layer.outProj, a.attn, a.x1)
        Ops.add(x.f32, into: a.x1.f32, count: t * d)  // x1 = x + out_proj(attn)

        Ops.layerNorm(a.x1.f32, rows: t, dim: d, weight: norms.w2, bias: norms.b2, eps: eps, into: a.h2.f32)
        try linear(layer.fc1, a.h2, a.pre)
        a.mid.f32.update(from: a.pre.f32, count: t * ff)
        Ops.geluTanh(a.mid.f32, count: t * ff)
        try linear(layer.fc2, a.mid, x)
        Ops.add(a.x1.f32, into: x.f32, count: t * d)
        return a
    }

    /// Backward of encoder layer `li` (see the decoder's): `dx` goes from ∂L/∂output to ∂L/∂input.
    func trainingLayerBackward(_ li: Int, input: Tensor, dx: Tensor, trainables w: Trainables, rng: inout SplitMix64,
                               needInputGradient: Bool) throws {
        let layer = layers[li]
        let norms = SiglipNorms(layer, index: li, trainables: w)
        let t = config.numPatches, d = config.hiddenSize, ff = config.intermediateSize
        let eps = config.layerNormEps
        let x = Tensor(zeros: [t, d])
        x.f32.update(from: input.f32, count: t * d)
        let a = try trainingLayerForward(li, x: x, trainables: w, rng: &rng)
        func back(_ l: LinearLayer, _ input: Tensor, _ dOut: Tensor, _ dIn: Tensor?) throws {
            try l.trainingBackward(input.f32, rows: t, dOut: dOut.f32, dx: dIn?.f32, trainables: w, activations: a.lin[l.module])
        }
        // MLP block: out = x1 + fc2(gelu(fc1(LN2(x1)))).
        let dMid = Tensor(zeros: [t, ff])
        try back(layer.fc2, a.mid, dx, dMid)
        Ops.geluTanhBackward(a.pre.f32, dy: dMid.f32, dx: dMid.f32, count: t * ff)
        let dh2 = Tensor(zeros: [t, d])
        try back(layer.fc1, a.h2, dMid, dh2)
        Ops.layerNormBackward(a.x1.f32, dy: dh2.f32, rows: t, dim: d, weight: norms.w2, eps: eps, dx: dh2.f32,
                              dWeight: w.grad(norms.names[2]), dBias: w.grad(norms.names[3]))
        Ops.add(dh2.f32, into: dx.f32, count: t * d)  // ∂L/∂x1
        // Attention block: x1 = x + out_proj(attention(q, k, v of LN1(x))).
        let dAttn = Tensor(zeros: [t, d])
        try back(layer.outProj, a.attn, dx, dAttn)
        let dq = Tensor(zeros: [t, d]), dk = Tensor(zeros: [t, d]), dv = Tensor(zeros: [t, d])
        try Attention.backward(attentionProblem(a), dOut: dAttn.f32, ldDOut: d, grads: AttentionGradients(dq: dq.f32, dk: dk.f32, dv: dv.f32))
        // LN1's own weights need ∂L/∂(LN1 output) even when nothing below the layer is trained.
        let needLN1 = needInputGradient || w.grad(norms.names[0]) != nil
        let dh1: Tensor? = needLN1 ? Tensor(zeros: [t, d]) : nil
        try back(layer.qProj, a.h1, dq, dh1)
        try back(layer.kProj, a.h1, dk, dh1)
        try back(layer.vProj, a.h1, dv, dh1)
        if let dh1 {
            Ops.layerNormBackward(input.f32, dy: dh1.f32, rows: t, dim: d, weight: norms.w1, eps: eps, dx: dh1.f32,
                                  dWeight: w.grad(norms.names[0]), dBias: w.grad(norms.names[1]))
            if needInputGradient { Ops.add(dh1.f32, into: dx.f32, count: t * d) }
        }
    }

    /// Training forward of one preprocessed image: keeps each layer's input (when `keepLayerInputs`, for a
    /// backward) and dropout stream.
    func trainingEncode(pixelValues: [Float], trainables w: Trainables, dropout: inout SplitMix64,
                        keepLayerInputs: Bool = true) throws -> VisionTrace {
        let size = config.imageSize
        guard pixelValues.count == config.numChannels * size * size else {
            throw ModelError.invalidInput("pixel values hold \(pixelValues.count) numbers, the vision tower expects 3×\(size)×\(size)")
        }
        let t = config.numPatches, d = config.hiddenSize
        // Cannot fire: the count was checked above (3 × size × size > 0).
        let patches = pixelValues.withUnsafeBufferPointer { buf in unfold(buf.baseAddress!) }
        let x = Tensor(zeros: [t, d])
        try MatMul.linear(patches.f32, rows: t, weight: w.matrix("vision_tower.embeddings.patch_embedding.weight", patchWeight),
                          out: x.f32, mode: .f32)
        Ops.addBias(w.vector("vision_tower.embeddings.patch_embedding.bias", patchBias), into: x.f32, rows: t, cols: d)
        Ops.add(w.matrix("vision_tower.embeddings.position_embedding.weight", positions).f32, into: x.f32, count: t * d)
        var trace = VisionTrace(patches: patches, preNorm: x, encoded: Tensor(zeros: [t, d]))
        for li in 0..<layers.count {
            if keepLayerInputs {
                let saved = Tensor(zeros: [t, d])
                saved.f32.update(from: x.f32, count: t * d)
                trace.layerInputs.append(saved)
            }
            // Each layer draws its dropout masks from its own generator, seeded from the caller's stream,
            // so that the recomputation inside the backward replays exactly the forward's masks.
            var rng = SplitMix64(seed: dropout.next())
            trace.layerRNG.append(rng)
            try trainingLayerForward(li, x: x, trainables: w, rng: &rng)
        }
        Ops.layerNorm(x.f32, rows: t, dim: d, weight: w.vector("vision_tower.post_layernorm.weight", postNormWeight),
                      bias: w.vector("vision_tower.post_layernorm.bias", postNormBias), eps: config.layerNormEps, into: trace.encoded.f32)
        return trace
    }

    /// Backward from ∂L/∂(encoded) [patches, hidden]: every layer's gradients and, in full training, the
    /// patch embedding's and the position table's (LoRA training stops at the first layer's input).
    func trainingBackward(_ trace: VisionTrace, dEncoded: Tensor, trainables w: Trainables) throws {
        let t = config.numPatches, d = config.hiddenSize
        let dx = Tensor(zeros: [t, d])
        Ops.layerNormBackward(trace.preNorm.f32, dy: dEncoded.f32, rows: t, dim: d,
                              weight: w.vector("vision_tower.post_layernorm.weight", postNormWeight), eps: config.layerNormEps, dx: dx.f32,
                              dWeight: w.grad("vision_tower.post_layernorm.weight"), dBias: w.grad("vision_tower.post_layernorm.bias"))
        let embeddings = w.full?["vision_tower.embeddings.patch_embedding.weight"]
        for li in stride(from: layers.count - 1, through: 0, by: -1) {
            var rng = trace.layerRNG[li]
            try trainingLayerBackward(li, input: trace.layerInputs[li], dx: dx, trainables: w, rng: &rng,
                                      needInputGradient: li > 0 || embeddings != nil)
        }
        guard let patchW = embeddings else { return }
        // x0 = patches · Wᵀ + bias + positions
        let cols = patchW.shape[1]
        try MatMul.gemm(transA: true, m: d, n: cols, k: t, a: dx.f32, lda: d, b: trace.patches.f32, ldb: cols, transB: false, beta: 1,
                        c: patchW.grad.f32, ldc: cols, operation: "patch embedding gradient")
        if let bias = w.grad("vision_tower.embeddings.patch_embedding.bias") {
            for r in 0..<t { for j in 0..<d { bias[j] += dx.f32[r * d + j] } }
        }
        if let pos = w.grad("vision_tower.embeddings.position_embedding.weight") { Ops.add(dx.f32, into: pos, count: t * d) }
    }
}

extension Gemma3MultimodalProjector {
    /// Calls `body(token, patch)` for every patch of every pooling window (token-major, then window rows).
    func forEachPoolingPair(_ body: (Int, Int) -> Void) {
        let k = patchesPerSide / tokensPerSide
        for ty in 0..<tokensPerSide {
            for tx in 0..<tokensPerSide {
                for dy in 0..<k {
                    for dx in 0..<k { body(ty * tokensPerSide + tx, (ty * k + dy) * patchesPerSide + tx * k + dx) }
                }
            }
        }
    }

    /// Pooled patches [tokens, visionHidden] before the norm (the pooling of `project`, same summation order).
    func pool(_ patches: Tensor) -> Tensor {
        let k = patchesPerSide / tokensPerSide, d = visionHidden
        let pooled = Tensor(zeros: [tokensPerSide * tokensPerSide, d])
        forEachPoolingPair { token, patch in Ops.add(patches.f32 + patch * d, into: pooled.f32 + token * d, count: d) }
        Ops.scale(pooled.f32, count: pooled.count, by: 1 / Float(k * k))
        return pooled
    }

    /// `project` with the pass's weights (the parameters' in full training): pool, RMSNorm (1 + w), · P.
    func trainingProject(_ patches: Tensor, trainables w: Trainables) throws -> Tensor {
        let tokens = tokensPerSide * tokensPerSide, d = visionHidden
        let normed = pool(patches)
        Ops.rmsNorm(normed.f32, rows: tokens, dim: d, weight: w.vector("multi_modal_projector.mm_soft_emb_norm.weight", normWeight),
                    eps: eps, into: normed.f32)
        let out = Tensor(zeros: [tokens, textHidden])
        try MatMul.gemm(m: tokens, n: textHidden, k: d, a: normed.f32, lda: d,
                        b: w.matrix("multi_modal_projector.mm_input_projection_weight", projection).f32, ldb: textHidden, transB: false,
                        c: out.f32, ldc: textHidden)
        return out
    }

    /// ∂L/∂patches [patches, visionHidden] from ∂L/∂(projected tokens) [tokens, textHidden] (and the
    /// projector's own gradients in full training).
    func backward(_ patches: Tensor, dOut: UnsafePointer<Float>, trainables w: Trainables) throws -> Tensor {
        let k = patchesPerSide / tokensPerSide, d = visionHidden, tokens = tokensPerSide * tokensPerSide
        let pooled = pool(patches)
        let normW = w.vector("multi_modal_projector.mm_soft_emb_norm.weight", normWeight)
        let proj = w.matrix("multi_modal_projector.mm_input_projection_weight", projection)
        // out = RMSNorm(pooled) · P,  P [visionHidden, textHidden]
        if let dP = w.grad("multi_modal_projector.mm_input_projection_weight") {
            let normed = Tensor(zeros: [tokens, d])
            Ops.rmsNorm(pooled.f32, rows: tokens, dim: d, weight: normW, eps: eps, into: normed.f32)
            try MatMul.gemm(transA: true, m: d, n: textHidden, k: tokens, a: normed.f32, lda: d, b: dOut, ldb: textHidden, transB: false,
                            beta: 1, c: dP, ldc: textHidden, operation: "projection gradient")
        }
        let dNormed = Tensor(zeros: [tokens, d])
        try MatMul.gemm(m: tokens, n: d, k: textHidden, a: dOut, lda: textHidden, b: proj.f32, ldb: textHidden, transB: true,
                        c: dNormed.f32, ldc: d)
        Ops.rmsNormBackward(pooled.f32, dy: dNormed.f32, rows: tokens, dim: d, weight: normW, eps: eps, dx: dNormed.f32,
                            dWeight: w.grad("multi_modal_projector.mm_soft_emb_norm.weight"))
        // Average pooling: each patch receives its token's gradient / k².
        let dPatches = Tensor(zeros: [patchesPerSide * patchesPerSide, d])
        let inv = 1 / Float(k * k)
        forEachPoolingPair { token, patch in
            let g = dNormed.f32 + token * d, dst = dPatches.f32 + patch * d
            for j in 0..<d { dst[j] = g[j] * inv }
        }
        return dPatches
    }
}
