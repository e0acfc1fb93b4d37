import Tensor

/// What the backward of one linear layer needs from its forward: the LoRA branch input after dropout and
/// its projection h = x̃Aᵀ (nil when the layer carries no trainable update).
struct LinearActivations {
    /// Dropout multipliers mask/(1-p) [rows, in]; nil without dropout.
    var keep: Tensor?
    /// x̃ = x ∘ keep [rows, in]; nil without dropout (then x̃ = x).
    var dropped: Tensor?
    /// x̃ Aᵀ [rows, rank]
    var h: Tensor
}

/// LoRA dropout as peft applies it (nn.Dropout on the branch input): each element is kept with
/// probability 1 - p and scaled by 1/(1 - p); one `nextFloat()` per element, row-major.
enum LoRADropout {
    /// Multipliers [rows, cols]: 0 or 1/(1-p).
    static func mask(rows: Int, cols: Int, p: Float, rng: inout SplitMix64) -> Tensor {
        let m = Tensor(zeros: [rows, cols])
        let s = 1 / (1 - p)
        let o = m.f32
        for i in 0..<(rows * cols) { o[i] = rng.nextFloat() < p ? 0 : s }
        return m
    }
}

/// What a training pass trains: LoRA updates, every weight (`FullParameters`), or both.
struct Trainables {
    var lora: TrainableLoRA?
    var full: FullParameters?
    /// The model's compute mode (bf16: frozen-weight input gradients on the bf16 units too).
    var mode: ComputeMode = .f32

    var scale: Float { lora?.scale ?? 0 }
    var dropout: Float { lora?.dropout ?? 0 }
    func module(_ l: LinearLayer) -> TrainableLoRA.Module? { lora?[l.module] }
    func linear(_ l: LinearLayer) -> (w: Parameter, b: Parameter?)? { full?.linear(l) }
    /// The current values of a vector weight: the parameter's in full training, else the model's own.
    func vector(_ name: String, _ base: [Float]) -> [Float] { full?[name]?.value.floats() ?? base }
    /// Where the gradient of a vector weight goes (nil when it is frozen).
    func grad(_ name: String) -> UnsafeMutablePointer<Float>? { full?[name]?.grad.f32 }
    /// The current value of a matrix weight: the parameter's in full training, else the model's own.
    func matrix(_ name: String, _ base: Tensor) -> Tensor { full?[name]?.value ?? base }
}

extension LinearLayer {
    /// Training forward: out = x Wᵀ (+ bias) + scale · (x̃ Aᵀ) Bᵀ with the trainable update of this layer
    /// (the base product and the update are the inference products, in the same order); in full training W
    /// and the bias are the parameters' values. Returns what the backward needs (nil without a LoRA update).
    func trainingForward(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>, mode: ComputeMode,
                         trainables: Trainables, rng: inout SplitMix64) throws -> LinearActivations? {
        if let full = trainables.linear(self) {
            try MatMul.linear(x, rows: rows, weight: full.w.value, out: out, mode: mode)
            if let b = full.b { Ops.addBias(b.value.f32, into: out, rows: rows, cols: outFeatures) }
        } else {
            try self(x, rows: rows, out: out, mode: mode, adapter: nil)
        }
        guard let module = trainables.module(self) else { return nil }
        let r = module.a.shape[0], inF = inFeatures, dropout = trainables.dropout
        var act = LinearActivations(keep: nil, dropped: nil, h: Tensor(zeros: [rows, r]))
        var input = x
        if dropout > 0 {
            let keep = LoRADropout.mask(rows: rows, cols: inF, p: dropout, rng: &rng)
            let dropped = Tensor(zeros: [rows, inF])
            for i in 0..<(rows * inF) { dropped.f32[i] = x[i] * keep.f32[i] }
            act.keep = keep
            act.dropped = dropped
            input = UnsafePointer(dropped.f32)
        }
        try MatMul.gemm(m: rows, n: r, k: inF, a: input, lda: inF, b: module.a.value.f32, ldb: inF, transB: true, c: act.h.f32, ldc: r)
        try MatMul.gemm(m: rows, n: outFeatures, k: r, alpha: trainables.scale, a: act.h.f32, lda: r, b: module.b.value.f32, ldb: r,
                        transB: true, beta: 1, c: out, ldc: outFeatures)
        return act
    }

    /// Training backward: given dOut [rows, out], adds ∂/∂A and ∂/∂B into the LoRA gradients, ∂/∂W and
    /// ∂/∂bias in full training, and, when `dx` is given, ∂/∂x [rows, in] (through the base and the update).
    func trainingBackward(_ x: UnsafePointer<Float>, rows: Int, dOut: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                          trainables: Trainables, activations: LinearActivations?) throws {
        let inF = inFeatures, outF = outFeatures
        if let full = trainables.linear(self) {
            if let dx {
                try MatMul.gemm(m: rows, n: inF, k: outF, a: dOut, lda: outF, b: full.w.value.f32, ldb: inF, transB: false, beta: 1,
                                c: dx, ldc: inF, operation: "input gradient")
            }
            // dW += dOutᵀ x ; db += Σ_rows dOut
            try MatMul.gemm(transA: true, m: outF, n: inF, k: rows, a: dOut, lda: outF, b: x, ldb: inF, transB: false, beta: 1,
                            c: full.w.grad.f32, ldc: inF, operation: "weight gradient")
            if let b = full.b {
                for r in 0..<rows { for o in 0..<outF { b.grad.f32[o] += dOut[r * outF + o] } }
            }
        } else if let dx {
            try accumulateInputGradient(dOut, rows: rows, into: dx, mode: trainables.mode)
        }
        guard let module = trainables.module(self), let act = activations else { return }
        let r = module.a.shape[0], scale = trainables.scale
        let input = act.dropped.map { UnsafePointer($0.f32) } ?? x
        // dB += scale · dOutᵀ h
        try MatMul.gemm(transA: true, m: outF, n: r, k: rows, alpha: scale, a: dOut, lda: outF, b: act.h.f32, ldb: r, transB: false,
                        beta: 1, c: module.b.grad.f32, ldc: r, operation: "LoRA dB")
        // dh = scale · dOut B
        let dh = Tensor(zeros: [rows, r])
        try MatMul.gemm(m: rows, n: r, k: outF, alpha: scale, a: dOut, lda: outF, b: module.b.value.f32, ldb: r, transB: false,
                        c: dh.f32, ldc: r)
        // dA += dhᵀ x̃
        try MatMul.gemm(transA: true, m: r, n: inF, k: rows, a: dh.f32, lda: r, b: input, ldb: inF, transB: false, beta: 1,
                        c: module.a.grad.f32, ldc: inF, operation: "LoRA dA")
        guard let dx else { return }
        // dx += (dh A) ∘ keep
        if let keep = act.keep {
            let t = Tensor(zeros: [rows, inF])
            try MatMul.gemm(m: rows, n: inF, k: r, a: dh.f32, lda: r, b: module.a.value.f32, ldb: inF, transB: false, c: t.f32, ldc: inF)
            for i in 0..<(rows * inF) { dx[i] += t.f32[i] * keep.f32[i] }
        } else {
            try MatMul.gemm(m: rows, n: inF, k: r, a: dh.f32, lda: r, b: module.a.value.f32, ldb: inF, transB: false,
                            beta: 1, c: dx, ldc: inF)
        }
    }

    /// dx [rows, in] += dOut [rows, out] · W through the frozen base (float32, 16-bit or quantised); in bf16
    /// compute mode the product runs on the bf16 units as the forward's does.
    func accumulateInputGradient(_ dOut: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>,
                                 mode: ComputeMode) throws {
        if let quantized {
            try FrozenWeight.accumulateInputGradient(dOut, rows: rows, quantized: quantized, into: dx, mode: mode)
        } else {
            try FrozenWeight.accumulateInputGradient(dOut, rows: rows, weight: weight, into: dx, mode: mode)
        }
    }
}

/// Input gradients through frozen weights W [out, in]: dx += dY · W. 16-bit and quantised weights are
/// widened / dequantised a tile of rows at a time (never the whole matrix), each tile adding its share; in
/// bf16 compute mode bf16 weights multiply bf16-rounded dY directly, and quantised tiles are rounded to bf16.
enum FrozenWeight {
    /// Rows of W per tile: about 8 MB of float32.
    static func tileRows(out: Int, cols: Int) -> Int { min(out, max(64, (8 << 20) / max(cols * 4, 1))) }

    /// Row counts up to which the bf16 units are not worth the rounding (memory-bound products).
    static let smallRows = 4

    static func accumulateInputGradient(_ dy: UnsafePointer<Float>, rows: Int, weight: Tensor, into dx: UnsafeMutablePointer<Float>,
                                        mode: ComputeMode = .f32, tile: Int? = nil) throws {
        let outF = weight.shape[0], inF = weight.shape[1]
        if rows == 0 || outF == 0 { return }
        if weight.dtype == .f32 {
            try MatMul.gemm(m: rows, n: inF, k: outF, a: dy, lda: outF, b: weight.f32, ldb: inF, transB: false, beta: 1, c: dx, ldc: inF,
                            operation: "input gradient")
            return
        }
        if weight.dtype == .bf16 && mode == .bf16 && rows > smallRows {
            let dyb = TensorStorage(uninitializedByteCount: rows * outF * 2)
            let dyp = dyb.base.assumingMemoryBound(to: UInt16.self)
            Convert.fromFloat(dy, into: dyp, dtype: .bf16, count: rows * outF)
            try MatMul.gemmBF16(m: rows, n: inF, k: outF, a: dyp, lda: outF, b: weight.raw.assumingMemoryBound(to: UInt16.self), ldb: inF,
                                transB: false, beta: 1, c: dx, ldc: inF, operation: "bf16 input gradient")
            return
        }
        try tiled(dy, rows: rows, outF: outF, inF: inF, into: dx, bf16: false, tile: tile) { r0, rn, buf in
            Convert.toFloat(from: weight.raw + r0 * inF * weight.dtype.byteSize, dtype: weight.dtype, into: buf, count: rn * inF)
        }
    }

    static func accumulateInputGradient(_ dy: UnsafePointer<Float>, rows: Int, quantized w: QuantizedMatrix,
                                        into dx: UnsafeMutablePointer<Float>, mode: ComputeMode = .f32, tile: Int? = nil) throws {
        if rows <= smallRows && tile == nil {
            try tiledFewRows(dy, rows: rows, outF: w.rows, inF: w.cols, into: dx) { r0, rn, buf in w.dequantize(rows: r0, count: rn, into: buf) }
            return
        }
        try tiled(dy, rows: rows, outF: w.rows, inF: w.cols, into: dx, bf16: mode == .bf16 && rows > smallRows, tile: tile) { r0, rn, buf in
            // Split the tile's dequantisation over the cores (each row range is independent).
            let parts = min(Parallel.cores, rn), per = (rn + parts - 1) / parts
            let cols = w.cols
            Parallel.forEach(parts) { p in
                let a = p * per, c = min(per, rn - a)
                if c > 0 { w.dequantize(rows: r0 + a, count: c, into: buf + a * cols) }
            }
        }
    }

    /// `fill(r0, rn, buf)` writes rows r0 ..< r0+rn of W as float32 into buf; with `bf16` each tile is then
    /// rounded and multiplied on the bf16 units. `tile` overrides the rows per tile (tests).
    static func tiled(_ dy: UnsafePointer<Float>, rows: Int, outF: Int, inF: Int, into dx: UnsafeMutablePointer<Float>, bf16: Bool,
                      tile: Int?, fill: (Int, Int, UnsafeMutablePointer<Float>) -> Void) throws {
        if rows == 0 || outF == 0 { return }
        if rows <= smallRows && tile == nil && !bf16 {
            try tiledFewRows(dy, rows: rows, outF: outF, inF: inF, into: dx) { r0, rn, buf in fill(r0, rn, buf) }
            return
        }
        let tile = max(1, min(outF, tile ?? tileRows(out: outF, cols: inF)))
        let scratch = TensorStorage(uninitializedByteCount: tile * inF * 4)
        let buf = scratch.base.assumingMemoryBound(to: Float.self)
        var half: (dy: TensorStorage, w: TensorStorage)?
        if bf16 {
            let d = TensorStorage(uninitializedByteCount: rows * outF * 2)
            Convert.fromFloat(dy, into: d.base.assumingMemoryBound(to: UInt16.self), dtype: .bf16, count: rows * outF)
            half = (d, TensorStorage(uninitializedByteCount: tile * inF * 2))
        }
        var r0 = 0
        while r0 < outF {
            let rn = min(tile, outF - r0)
            fill(r0, rn, buf)
            if let half {
                let wb = half.w.base.assumingMemoryBound(to: UInt16.self)
                Convert.fromFloat(buf, into: wb, dtype: .bf16, count: rn * inF)
                try MatMul.gemmBF16(m: rows, n: inF, k: rn, a: half.dy.base.assumingMemoryBound(to: UInt16.self) + r0, lda: outF, b: wb,
                                    ldb: inF, transB: false, beta: 1, c: dx, ldc: inF, operation: "bf16 input gradient")
            } else {
                try MatMul.gemm(m: rows, n: inF, k: rn, a: dy + r0, lda: outF, b: buf, ldb: inF, transB: false, beta: 1, c: dx, ldc: inF,
                                operation: "input gradient")
            }
            r0 += rn
        }
    }

    /// Few rows of dY (the output layer at a handful of targets): memory-bound, so each core widens its own
    /// small tiles in cache and accumulates into a private dx, summed at the end.
    static func tiledFewRows(_ dy: UnsafePointer<Float>, rows: Int, outF: Int, inF: Int, into dx: UnsafeMutablePointer<Float>,
                             fill: (Int, Int, UnsafeMutablePointer<Float>) -> Void) throws {
        let tile = max(16, min(256, (64 * 1024) / max(inF, 1)))
        let tiles = (outF + tile - 1) / tile
        let workers = min(Parallel.cores, tiles)
        let scratch = TensorStorage(uninitializedByteCount: workers * (tile + rows) * inF * 4)
        let base = scratch.base.assumingMemoryBound(to: Float.self)
        var failure: Error?
        let lock = SpinLock()
        Parallel.forEach(workers) { w in
            let buf = base + w * (tile + rows) * inF, acc = buf + tile * inF
            acc.update(repeating: 0, count: rows * inF)
            var t = w
            while t < tiles {
                let r0 = t * tile, rn = min(tile, outF - r0)
                fill(r0, rn, buf)
                do {
                    try MatMul.gemm(m: rows, n: inF, k: rn, a: dy + r0, lda: outF, b: buf, ldb: inF, transB: false,
                                    beta: 1, c: acc, ldc: inF, insideParallelLoop: true, operation: "input gradient")
                } catch {
                    lock.withLock { failure = error }
                }
                t += workers
            }
        }
        if let failure { throw failure }
        for w in 0..<workers { Ops.add(base + w * (tile + rows) * inF + tile * inF, into: dx, count: rows * inF) }
    }
}

