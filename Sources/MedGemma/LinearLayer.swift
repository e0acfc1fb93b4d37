import Tensor

/// A low-rank update y += scale · B(Ax) of one linear layer (PEFT LoRA), kept in float32.
public struct LoRADelta: @unchecked Sendable {
    /// [rank, in]
    public let a: Tensor
    /// [out, rank]
    public let b: Tensor
    public let scale: Float
    public var rank: Int { a.shape[0] }

    public init(a: Tensor, b: Tensor, scale: Float) {
        self.a = a.dtype == .f32 ? a : a.toFloat32()
        self.b = b.dtype == .f32 ? b : b.toFloat32()
        self.scale = scale
    }

    /// out[rows, out] += scale · (x Aᵀ) Bᵀ
    func apply(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>, ldOut: Int) throws {
        let r = rank, inF = a.shape[1], outF = b.shape[0]
        let t = Tensor(zeros: [rows, r])
        try MatMul.gemm(m: rows, n: r, k: inF, a: x, lda: inF, b: a.f32, ldb: inF, transB: true, c: t.f32, ldc: r)
        try MatMul.gemm(m: rows, n: outF, k: r, alpha: scale, a: t.f32, lda: r, b: b.f32, ldb: r, transB: true,
                        beta: 1, c: out, ldc: ldOut)
    }

    /// The dense update scale · B·A [out, in] (for merging).
    public func denseUpdate() throws -> Tensor {
        let outF = b.shape[0], inF = a.shape[1]
        let w = Tensor(zeros: [outF, inF])
        try MatMul.gemm(m: outF, n: inF, k: rank, alpha: scale, a: b.f32, lda: rank, b: a.f32, ldb: inF, transB: false,
                        c: w.f32, ldc: inF)
        return w
    }
}

/// A linear layer of the model: the frozen base weight (any storage dtype, usually memory-mapped), an
/// optional bias, and the LoRA adapters attached to it by name. The base is never modified, so several
/// adapters and the bare base share one set of loaded weights.
public final class LinearLayer: @unchecked Sendable {
    /// Canonical module path, independent of the checkpoint layout (e.g. "language_model.layers.3.mlp.up_proj").
    public let module: String
    /// The checkpoint tensor this weight was read from (its name in the base model's own layout).
    public let sourceName: String
    /// [out, in]
    public let weight: Tensor
    public let bias: [Float]?
    public private(set) var adapters: [String: LoRADelta] = [:]
    /// The base weight quantised (int8 / NF4) when the model was loaded with quantisation; products then
    /// use it instead of `weight` (which stays a view of the checkpoint, memory-mapped and paged out).
    public private(set) var quantized: QuantizedMatrix?

    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }

    init(module: String, sourceName: String, weight: Tensor, bias: [Float]? = nil) {
        self.module = module
        self.sourceName = sourceName
        self.weight = weight
        self.bias = bias
    }

    /// Attaches `delta` under `adapter` (loading happens before inference; not concurrent with it).
    public func attach(_ adapter: String, _ delta: LoRADelta) { adapters[adapter] = delta }
    public func detach(_ adapter: String) { adapters[adapter] = nil }

    /// Replaces the base weight by its quantised form for all later products (loading happens before
    /// inference; not concurrent with it). The checkpoint's pages of the weight are released afterwards.
    public func quantize(_ scheme: QuantizationScheme) throws {
        guard scheme != .none, quantized == nil else { return }
        quantized = try QuantizedMatrix.quantize(weight, scheme: scheme)
        weight.releaseMappedPages()
    }

    /// out[rows, outFeatures] = x Wᵀ (+ bias) (+ the selected adapter's update).
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>, mode: ComputeMode,
                        adapter: String?) throws {
        if let quantized {
            try MatMul.linear(x, rows: rows, quantized: quantized, out: out, mode: mode)
        } else {
            try MatMul.linear(x, rows: rows, weight: weight, out: out, mode: mode)
        }
        if let bias { Ops.addBias(bias, into: out, rows: rows, cols: outFeatures) }
        if let adapter, let delta = adapters[adapter] {
            try delta.apply(x, rows: rows, out: out, ldOut: outFeatures)
        }
    }
}
