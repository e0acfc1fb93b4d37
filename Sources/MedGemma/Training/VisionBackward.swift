import CKernels
import Tensor

/// One SigLIP layer's activations, recomputed from its input inside the backward.
struct SiglipLayerActivations {
    var h1: Tensor, q: Tensor, k: Tensor, v: Tensor, attn: Tensor, x1: Tensor, h2: Tensor, pre: Tensor, mid: Tensor
    var lin: [String: LinearActivations] = [:]
}

/// What the vision backward needs from one image's forward: each layer's input and its dropout stream,
/// the tower output before the post-layernorm.
struct VisionTrace {
    var layerInputs: [Tensor] = []
    var layerRNG: [SplitMix64] = []
    var preNorm: Tensor
    /// Post-layernorm output [patches, hidden] (the projector's input).
    var encoded: Tensor
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
    func trainingLayerForward(_ li: Int, x: Tensor, lora: TrainableLoRA?, rng: inout SplitMix64) throws -> SiglipLayerActivations {
        let layer = layers[li]
        let t = config.numPatches, d = config.hiddenSize, ff = config.intermediateSize
        let eps = config.layerNormEps, mode = computeMode
        let scale = lora?.scale ?? 0, p = lora?.dropout ?? 0
        var a = SiglipLayerActivations(h1: Tensor(zeros: [t, d]), q: Tensor(zeros: [t, d]), k: Tensor(zeros: [t, d]), v: Tensor(zeros: [t, d]),
                                       attn: Tensor(zeros: [t, d]), x1: Tensor(zeros: [t, d]), h2: Tensor(zeros: [t, d]),
                                       pre: Tensor(zeros: [t, ff]), mid: Tensor(zeros: [t, ff]))
        func linear(_ l: LinearLayer, _ input: Tensor, _ out: Tensor) throws {
            a.lin[l.module] = try l.trainingForward(input.f32, rows: t, out: out.f32, mode: mode, module: lora?[l.module],
                                                    scale: scale, dropout: p, rng: &rng)
        }
        ck_layernorm_rows(x.f32, a.h1.f32, layer.norm1Weight, layer.norm1Bias, eps, Int64(t), Int64(d))
        try linear(layer.qProj, a.h1, a.q)
        try linear(layer.kProj, a.h1, a.k)
        try linear(layer.vProj, a.h1, a.v)
        try Attention.run(attentionProblem(a))
        try linear(layer.outProj, a.attn, a.x1)
        ck_add(a.x1.f32, x.f32, t * d)  // x1 = x + out_proj(attn)

        ck_layernorm_rows(a.x1.f32, a.h2.f32, layer.norm2Weight, layer.norm2Bias, eps, Int64(t), Int64(d))
        try linear(layer.fc1, a.h2, a.pre)
        a.mid.f32.update(from: a.pre.f32, count: t * ff)
        ck_gelu_tanh(a.mid.f32, t * ff)
        try linear(layer.fc2, a.mid, x)
        ck_add(x.f32, a.x1.f32, t * d)
        return a
    }

    /// Backward of encoder layer `li` (see the decoder's): `dx` goes from ∂L/∂output to ∂L/∂input.
    func trainingLayerBackward(_ li: Int, input: Tensor, dx: Tensor, lora: TrainableLoRA?, rng: inout SplitMix64,
                               needInputGradient: Bool) throws {
        let layer = layers[li]
        let t = config.numPatches, d = config.hiddenSize, ff = config.intermediateSize
        let eps = config.layerNormEps, scale = lora?.scale ?? 0
        let x = Tensor(zeros: [t, d])
        x.f32.update(from: input.f32, count: t * d)
        let a = try trainingLayerForward(li, x: x, lora: lora, rng: &rng)
        func back(_ l: LinearLayer, _ input: Tensor, _ dOut: Tensor, _ dIn: Tensor?) throws {
            try l.trainingBackward(input.f32, rows: t, dOut: dOut.f32, dx: dIn?.f32, module: lora?[l.module],
                                   activations: a.lin[l.module], scale: scale)
        }
        // MLP block: out = x1 + fc2(gelu(fc1(LN2(x1)))).
        let dMid = Tensor(zeros: [t, ff])
        try back(layer.fc2, a.mid, dx, dMid)
        ck_gelu_tanh_backward(a.pre.f32, dMid.f32, dMid.f32, t * ff)
        let dh2 = Tensor(zeros: [t, d])
        try back(layer.fc1, a.h2, dMid, dh2)
        ck_layernorm_rows_backward(a.x1.f32, dh2.f32, layer.norm2Weight, eps, Int64(t), Int64(d), dh2.f32, nil, nil)
        ck_add(dx.f32, dh2.f32, t * d)  // ∂L/∂x1
        // Attention block: x1 = x + out_proj(attention(q, k, v of LN1(x))).
        let dAttn = Tensor(zeros: [t, d])
        try back(layer.outProj, a.attn, dx, dAttn)
        let dq = Tensor(zeros: [t, d]), dk = Tensor(zeros: [t, d]), dv = Tensor(zeros: [t, d])
        try Attention.backward(attentionProblem(a), dOut: dAttn.f32, ldDOut: d, grads: AttentionGradients(dq: dq.f32, dk: dk.f32, dv: dv.f32))
        let dh1: Tensor? = needInputGradient ? Tensor(zeros: [t, d]) : nil
        try back(layer.qProj, a.h1, dq, dh1)
        try back(layer.kProj, a.h1, dk, dh1)
        try back(layer.vProj, a.h1, dv, dh1)
        if let dh1 {
            ck_layernorm_rows_backward(input.f32, dh1.f32, layer.norm1Weight, eps, Int64(t), Int64(d), dh1.f32, nil, nil)
            ck_add(dx.f32, dh1.f32, t * d)
        }
    }

    /// Training forward of one preprocessed image: keeps each layer's input and dropout stream.
    func trainingEncode(pixelValues: [Float], lora: TrainableLoRA?, dropout: inout SplitMix64) throws -> VisionTrace {
        let size = config.imageSize
        guard pixelValues.count == config.numChannels * size * size else {
            throw ModelError.invalidInput("pixel values hold \(pixelValues.count) numbers, the vision tower expects 3×\(size)×\(size)")
        }
        let t = config.numPatches, d = config.hiddenSize
        let patches = pixelValues.withUnsafeBufferPointer { buf in unfold(buf.baseAddress!) }
        let x = Tensor(zeros: [t, d])
        try MatMul.linear(patches.f32, rows: t, weight: patchWeight, out: x.f32, mode: .f32)
        ck_add_bias_rows(x.f32, patchBias, Int64(t), Int64(d))
        ck_add(x.f32, positions.f32, t * d)
        var trace = VisionTrace(preNorm: x, encoded: Tensor(zeros: [t, d]))
        for li in 0..<layers.count {
            let saved = Tensor(zeros: [t, d])
            saved.f32.update(from: x.f32, count: t * d)
            // Each layer draws its dropout masks from its own generator, seeded from the caller's stream,
            // so that the recomputation inside the backward replays exactly the forward's masks.
            var rng = SplitMix64(seed: dropout.next())
            trace.layerInputs.append(saved)
            trace.layerRNG.append(rng)
            try trainingLayerForward(li, x: x, lora: lora, rng: &rng)
        }
        ck_layernorm_rows(x.f32, trace.encoded.f32, postNormWeight, postNormBias, config.layerNormEps, Int64(t), Int64(d))
        return trace
    }

    /// Backward from ∂L/∂(encoded) [patches, hidden] down to the first layer's LoRA gradients (no gradient
    /// below the first layer's input: the patch embedding is frozen).
    func trainingBackward(_ trace: VisionTrace, dEncoded: Tensor, lora: TrainableLoRA?) throws {
        let t = config.numPatches, d = config.hiddenSize
        let dx = Tensor(zeros: [t, d])
        ck_layernorm_rows_backward(trace.preNorm.f32, dEncoded.f32, postNormWeight, config.layerNormEps, Int64(t), Int64(d), dx.f32, nil, nil)
        for li in stride(from: layers.count - 1, through: 0, by: -1) {
            var rng = trace.layerRNG[li]
            try trainingLayerBackward(li, input: trace.layerInputs[li], dx: dx, lora: lora, rng: &rng, needInputGradient: li > 0)
        }
    }
}

extension Gemma3MultimodalProjector {
    /// Pooled patches [tokens, visionHidden] before the norm (the pooling of `project`).
    func pool(_ patches: Tensor) -> Tensor {
        let k = patchesPerSide / tokensPerSide, d = visionHidden
        let pooled = Tensor(zeros: [tokensPerSide * tokensPerSide, d])
        let inv = 1 / Float(k * k)
        for ty in 0..<tokensPerSide {
            for tx in 0..<tokensPerSide {
                let o = pooled.f32 + (ty * tokensPerSide + tx) * d
                for dy in 0..<k {
                    for dx in 0..<k { ck_add(o, patches.f32 + ((ty * k + dy) * patchesPerSide + tx * k + dx) * d, d) }
                }
                ck_scale(o, d, inv)
            }
        }
        return pooled
    }

    /// ∂L/∂patches [patches, visionHidden] from ∂L/∂(projected tokens) [tokens, textHidden].
    func backward(_ patches: Tensor, dOut: UnsafePointer<Float>) throws -> Tensor {
        let k = patchesPerSide / tokensPerSide, d = visionHidden, tokens = tokensPerSide * tokensPerSide
        let pooled = pool(patches)
        // out = RMSNorm(pooled) · P,  P [visionHidden, textHidden]
        let dNormed = Tensor(zeros: [tokens, d])
        try MatMul.gemm(m: tokens, n: d, k: textHidden, a: dOut, lda: textHidden, b: projection.f32, ldb: textHidden, transB: true,
                        c: dNormed.f32, ldc: d)
        ck_rmsnorm_rows_backward(pooled.f32, dNormed.f32, normWeight, 1, eps, Int64(tokens), Int64(d), dNormed.f32, nil)
        // Average pooling: each patch receives its token's gradient / k².
        let dPatches = Tensor(zeros: [patchesPerSide * patchesPerSide, d])
        let inv = 1 / Float(k * k)
        for ty in 0..<tokensPerSide {
            for tx in 0..<tokensPerSide {
                let g = dNormed.f32 + (ty * tokensPerSide + tx) * d
                for dy in 0..<k {
                    for dx in 0..<k {
                        let dst = dPatches.f32 + ((ty * k + dy) * patchesPerSide + tx * k + dx) * d
                        for j in 0..<d { dst[j] = g[j] * inv }
                    }
                }
            }
        }
        return dPatches
    }
}
