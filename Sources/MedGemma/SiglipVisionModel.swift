import Foundation
import Tensor

/// One SigLIP encoder layer (pre-norm, LayerNorm with bias, attention and MLP with biases).
struct SiglipEncoderLayer {
    let norm1Weight: [Float], norm1Bias: [Float]
    let qProj: LinearLayer, kProj: LinearLayer, vProj: LinearLayer, outProj: LinearLayer
    let norm2Weight: [Float], norm2Bias: [Float]
    let fc1: LinearLayer, fc2: LinearLayer
}

/// The SigLIP vision encoder as Gemma 3 uses it: patch embedding, learned positions, encoder layers,
/// post-layernorm; no pooling head.
public final class SiglipVisionModel: @unchecked Sendable {
    public let config: SiglipVisionConfig
    let computeMode: ComputeMode
    /// Patch embedding as a matrix [hidden, channels·patch·patch] (the convolution kernel flattened in
    /// (channel, row, column) order) so that it runs as one GEMM over unfolded patches.
    let patchWeight: Tensor
    let patchBias: [Float]
    let positions: Tensor
    let layers: [SiglipEncoderLayer]
    let postNormWeight: [Float], postNormBias: [Float]

    init(config: SiglipVisionConfig, source: WeightSource, prefix: String, computeMode: ComputeMode) throws {
        self.config = config
        self.computeMode = computeMode
        let d = config.hiddenSize, ff = config.intermediateSize, p = config.patchSize
        func weight(_ name: String, _ shape: [Int]) throws -> Tensor {
            try source.weight(prefix + name, shape: shape, for: computeMode)
        }
        func vec(_ name: String, _ n: Int) throws -> [Float] { try source.vector(prefix + name, count: n) }
        func linear(_ layer: Int, _ name: String, _ shape: [Int]) throws -> LinearLayer {
            let base = "encoder.layers.\(layer).\(name)"
            return LinearLayer(module: "vision_tower." + base, sourceName: prefix + base + ".weight", weight: try weight(base + ".weight", shape),
                               bias: try vec(base + ".bias", shape[0]))
        }
        let conv = try source.tensor(prefix + "embeddings.patch_embedding.weight", shape: [d, config.numChannels, p, p])
        patchWeight = try conv.reshaped([d, config.numChannels * p * p])
        patchBias = try vec("embeddings.patch_embedding.bias", d)
        positions = try source.tensor(prefix + "embeddings.position_embedding.weight", shape: [config.numPatches, d]).toFloat32()
        var layers: [SiglipEncoderLayer] = []
        for i in 0..<config.numLayers {
            let l = "encoder.layers.\(i)."
            layers.append(SiglipEncoderLayer(
                norm1Weight: try vec(l + "layer_norm1.weight", d), norm1Bias: try vec(l + "layer_norm1.bias", d),
                qProj: try linear(i, "self_attn.q_proj", [d, d]), kProj: try linear(i, "self_attn.k_proj", [d, d]),
                vProj: try linear(i, "self_attn.v_proj", [d, d]), outProj: try linear(i, "self_attn.out_proj", [d, d]),
                norm2Weight: try vec(l + "layer_norm2.weight", d), norm2Bias: try vec(l + "layer_norm2.bias", d),
                fc1: try linear(i, "mlp.fc1", [ff, d]), fc2: try linear(i, "mlp.fc2", [d, ff])))
        }
        self.layers = layers
        postNormWeight = try vec("post_layernorm.weight", d)
        postNormBias = try vec("post_layernorm.bias", d)
    }

    /// Every linear layer of the encoder (LoRA targets), in layer order.
    public var linearLayers: [LinearLayer] {
        layers.flatMap { [$0.qProj, $0.kProj, $0.vProj, $0.outProj, $0.fc1, $0.fc2] }
    }

    /// Unfolds a [3, H, W] image into patch rows [numPatches, 3·p·p] in (channel, row, column) order,
    /// patches in row-major grid order (as the convolution's output is flattened).
    func unfold(_ pixels: UnsafePointer<Float>) -> Tensor {
        let p = config.patchSize, side = config.patchesPerSide, size = config.imageSize, c = config.numChannels
        let rowLen = c * p * p
        let out = Tensor(zeros: [config.numPatches, rowLen])
        let o = out.f32
        for gy in 0..<side {
            for gx in 0..<side {
                let dst = o + (gy * side + gx) * rowLen
                for ch in 0..<c {
                    for y in 0..<p {
                        let src = pixels + ch * size * size + (gy * p + y) * size + gx * p
                        (dst + (ch * p + y) * p).update(from: src, count: p)
                    }
                }
            }
        }
        return out
    }

    /// Encodes one preprocessed image ([3, imageSize, imageSize] float32) into [numPatches, hidden].
    public func encode(pixelValues: [Float], adapter: String? = nil) throws -> Tensor {
        let size = config.imageSize
        guard pixelValues.count == config.numChannels * size * size else {
            throw ModelError.invalidInput("pixel values hold \(pixelValues.count) numbers, the vision tower expects 3×\(size)×\(size)")
        }
        let t = config.numPatches, d = config.hiddenSize, ff = config.intermediateSize
        let hd = config.headDim, heads = config.numHeads
        // Cannot fire: the count was checked above (3 × size × size > 0).
        let patches = pixelValues.withUnsafeBufferPointer { unfold($0.baseAddress!) }
        let x = Tensor(zeros: [t, d])
        try MatMul.linear(patches.f32, rows: t, weight: patchWeight, out: x.f32, mode: .f32)
        Ops.addBias(patchBias, into: x.f32, rows: t, cols: d)
        Ops.add(positions.f32, into: x.f32, count: t * d)

        let h = Tensor(zeros: [t, d]), q = Tensor(zeros: [t, d]), k = Tensor(zeros: [t, d]), v = Tensor(zeros: [t, d])
        let attn = Tensor(zeros: [t, d]), mid = Tensor(zeros: [t, ff])
        let all = [Int](repeating: 0, count: t), end = [Int](repeating: t, count: t)
        let scale = Float(1 / Double(hd).squareRoot())
        let eps = config.layerNormEps, mode = computeMode
        for layer in layers {
            Ops.layerNorm(x.f32, rows: t, dim: d, weight: layer.norm1Weight, bias: layer.norm1Bias, eps: eps, into: h.f32)
            try layer.qProj(h.f32, rows: t, out: q.f32, mode: mode, adapter: adapter)
            try layer.kProj(h.f32, rows: t, out: k.f32, mode: mode, adapter: adapter)
            try layer.vProj(h.f32, rows: t, out: v.f32, mode: mode, adapter: adapter)
            var problem = AttentionProblem(
                queries: t, heads: heads, kvHeads: heads, headDim: hd, q: q.f32, ldq: d, k: k.f32, v: v.f32, ldk: d,
                kvHeadStride: hd, out: attn.f32, ldo: d, keyLo: all, keyHi: end, scale: scale, softcap: nil)
            problem.bf16Products = mode == .bf16
            try Attention.run(problem)
            try layer.outProj(attn.f32, rows: t, out: h.f32, mode: mode, adapter: adapter)
            Ops.add(h.f32, into: x.f32, count: t * d)

            Ops.layerNorm(x.f32, rows: t, dim: d, weight: layer.norm2Weight, bias: layer.norm2Bias, eps: eps, into: h.f32)
            try layer.fc1(h.f32, rows: t, out: mid.f32, mode: mode, adapter: adapter)
            Ops.geluTanh(mid.f32, count: t * ff)
            try layer.fc2(mid.f32, rows: t, out: h.f32, mode: mode, adapter: adapter)
            Ops.add(h.f32, into: x.f32, count: t * d)
        }
        Ops.layerNorm(x.f32, rows: t, dim: d, weight: postNormWeight, bias: postNormBias, eps: eps, into: x.f32)
        return x
    }
}

/// Gemma 3's projector: average-pool the patch grid to `mm_tokens_per_image` tokens, RMSNorm (1 + w),
/// then multiply by `mm_input_projection_weight` [vision hidden, text hidden].
public final class Gemma3MultimodalProjector: @unchecked Sendable {
    let tokensPerSide: Int
    let patchesPerSide: Int
    let visionHidden: Int
    let textHidden: Int
    let normWeight: [Float]
    let eps: Float
    /// [visionHidden, textHidden] in float32.
    let projection: Tensor

    init(settings: Gemma3VisionSettings, textHidden: Int, source: WeightSource, prefix: String) throws {
        let v = settings.vision
        tokensPerSide = Int(Double(settings.mmTokensPerImage).squareRoot().rounded())
        patchesPerSide = v.patchesPerSide
        visionHidden = v.hiddenSize
        self.textHidden = textHidden
        eps = v.layerNormEps
        normWeight = try source.vector(prefix + "mm_soft_emb_norm.weight", count: v.hiddenSize)
        projection = try source.tensor(prefix + "mm_input_projection_weight", shape: [v.hiddenSize, textHidden]).toFloat32()
    }

    /// [patches, visionHidden] → [tokens, textHidden].
    public func project(_ patches: Tensor) throws -> Tensor {
        let k = patchesPerSide / tokensPerSide, d = visionHidden
        let tokens = tokensPerSide * tokensPerSide
        let pooled = Tensor(zeros: [tokens, d])
        let src = patches.f32, dst = pooled.f32
        let inv = 1 / Float(k * k)
        for ty in 0..<tokensPerSide {
            for tx in 0..<tokensPerSide {
                let o = dst + (ty * tokensPerSide + tx) * d
                for dy in 0..<k {
                    for dx in 0..<k {
                        Ops.add(src + ((ty * k + dy) * patchesPerSide + tx * k + dx) * d, into: o, count: d)
                    }
                }
                Ops.scale(o, count: d, by: inv)
            }
        }
        Ops.rmsNorm(dst, rows: tokens, dim: d, weight: normWeight, eps: eps, into: dst)
        let out = Tensor(zeros: [tokens, textHidden])
        try MatMul.gemm(m: tokens, n: textHidden, k: d, a: dst, lda: d, b: projection.f32, ldb: textHidden, transB: false,
                        c: out.f32, ldc: textHidden)
        return out
    }
}
