import CKernels

/// How products with 16-bit weights are computed.
public enum ComputeMode: String, Sendable, CaseIterable {
    /// Every product in float32: 16-bit weights are widened tile by tile (exact reference arithmetic).
    case f32
    /// bf16 weights multiply bf16-rounded activations on the bf16 units, accumulating in float32.
    case bf16
}

/// Failure of the underlying GEMM library.
public struct GEMMError: Error, CustomStringConvertible {
    public let status: Int32
    public let operation: String
    public var description: String { "matrix product failed in \(operation) (library status \(status))" }
}

/// Matrix products through oneDNN / OpenBLAS. All matrices are row-major.
public enum MatMul {
    /// The library of float32 products, process-wide (OpenBLAS unless `--compute auto` measured oneDNN faster).
    public static var sgemmLibrary: SGEMMLibrary {
        get { ck_get_sgemm_backend() == 0 ? .onednn : .openblas }
        set { ck_set_sgemm_backend(newValue == .onednn ? 0 : 1) }
    }

    /// Rows of weight widened to float32 per tile when the weight is 16-bit and the product runs in float32.
    static let tileRows = 256

    /// out[M, N] (+)= x[M, K] · Wᵀ where `weight` is [N, K] (PyTorch `Linear` layout) in any storage dtype.
    /// `ldOut` is the row stride of `out` (defaults to N) so results can land inside a wider buffer.
    public static func linear(_ x: UnsafePointer<Float>, rows m: Int, weight: Tensor, out: UnsafeMutablePointer<Float>,
                              ldOut: Int? = nil, accumulate: Bool = false, mode: ComputeMode = .f32) throws {
        guard weight.rank == 2 else { throw TensorError.shapeMismatch("linear weight must be 2-D, got \(weight.shape)") }
        let n = weight.shape[0], k = weight.shape[1]
        let ldc = ldOut ?? n
        if m == 0 || n == 0 { return }
        let beta: Float = accumulate ? 1 : 0
        switch (weight.dtype, mode) {
        case (.bf16, _) where m <= smallRows && gemvBF16:
            // Decoding and label scoring: memory-bound, so each core streams its share of the bf16 weight
            // once and widens it in registers (float32 products, as the widened path).
            let w = weight.raw.assumingMemoryBound(to: UInt16.self)
            var status: Int32 = 0
            let lock = SpinLock()
            Parallel.forEachRange(n) { lo, count in
                let st = ck_gemv_bf16(x, Int64(m), Int64(k), w, Int64(lo), Int64(lo + count), out, Int64(ldc), beta)
                if st != 0 { lock.withLock { status = st } }
            }
            try check(status, "bf16 matrix-vector product")
        case (.bf16, _) where m <= smallRows, (.f16, _) where m <= smallRows:
            try widenedTiles(x, rows: m, weight: weight, out: out, ldc: ldc, beta: beta)
        case (.f32, _):
            try check(ck_sgemm(0, 1, Int64(m), Int64(n), Int64(k), 1, x, Int64(k), weight.f32, Int64(k), beta, out, Int64(ldc)), "sgemm")
        case (.bf16, .bf16):
            let xb = TensorStorage(uninitializedByteCount: m * k * 2)
            let xbp = xb.base.assumingMemoryBound(to: UInt16.self)
            ck_f32_to_bf16(x, xbp, m * k)
            try check(ck_gemm_bf16(0, 1, Int64(m), Int64(n), Int64(k), 1, xbp, Int64(k),
                                   weight.raw.assumingMemoryBound(to: UInt16.self), Int64(k), beta, out, Int64(ldc)), "bf16 matmul")
        case (.bf16, _) where m < sharedTileRowsFrom, (.f16, _) where m < sharedTileRowsFrom:
            // Each core widens its own 256-row tiles and multiplies them alone: no core waits while another
            // widens, and the activations are small enough to be packed again per tile.
            try widenedTiles(x, rows: m, weight: weight, out: out, ldc: ldc, beta: beta, tileRows: tileRows)
        default:
            // Many rows (the vision tower): tiles of up to 16 MB of widened weight, widened by every core
            // together, each multiplied by the library on all cores; large tiles pack the activations fewer times.
            let tile = min(n, max(tileRows, sharedTileFloats / max(k, 1)))
            let scratch = TensorStorage(uninitializedByteCount: tile * k * 4)
            let w = scratch.base.assumingMemoryBound(to: Float.self)
            var r0 = 0
            while r0 < n {
                let rn = min(tile, n - r0)
                let src = weight.raw + r0 * k * weight.dtype.byteSize, es = weight.dtype.byteSize
                Parallel.forEachRange(rn * k) { lo, count in
                    Convert.toFloat(from: src + lo * es, dtype: weight.dtype, into: w + lo, count: count)
                }
                try check(ck_sgemm(0, 1, Int64(m), Int64(rn), Int64(k), 1, x, Int64(k), w, Int64(k), beta, out + r0, Int64(ldc)), "sgemm")
                r0 += rn
            }
        }
    }

    /// Row counts from which a widened product shares each (large) tile among the cores instead of giving each
    /// core its own tiles. Measured on the 4B shapes (2-core Xeon): per-core tiles raised the language model's
    /// 280-row products from about 230 to 260 GFLOP/s; the vision tower's 4096-row products do as well or
    /// better with shared tiles.
    static let sharedTileRowsFrom = 1024
    /// Widened floats per shared tile (16 MB).
    static let sharedTileFloats = 4 << 20

    /// Row counts up to which a 16-bit weight is widened in parallel tiles instead of multiplied on the
    /// bf16 units: one-row products are memory-bound, and streaming the 16-bit weight once while each core
    /// widens its own tiles in cache beats the library's bf16 path there.
    public static let smallRows = 4

    /// Whether few-row products with bf16 weights use the register-widening kernel (AVX-512 CPUs) instead
    /// of widened tiles and sgemm. Tests switch it off to compare the two.
    nonisolated(unsafe) public static var gemvBF16 = ck_cpu_has_avx512f() != 0

    static func widenedTiles(_ x: UnsafePointer<Float>, rows m: Int, weight: Tensor, out: UnsafeMutablePointer<Float>,
                             ldc: Int, beta: Float, tileRows forced: Int? = nil) throws {
        let n = weight.shape[0], k = weight.shape[1]
        // One-row products: tiles of 64 k floats, which stay in L2 while widened and read.
        let tile = max(1, min(n, forced ?? max(16, min(tileRows, (64 * 1024) / max(k, 1)))))
        let tiles = (n + tile - 1) / tile
        let workers = min(Parallel.cores, tiles)
        let scratch = TensorStorage(uninitializedByteCount: workers * tile * k * 4)
        var failure: Error?
        let lock = SpinLock()
        let wbase = scratch.base.assumingMemoryBound(to: Float.self)
        let es = weight.dtype.byteSize
        Parallel.forEach(workers) { w in
            let buf = wbase + w * tile * k
            var t = w
            while t < tiles {
                let r0 = t * tile, rn = min(tile, n - r0)
                Convert.toFloat(from: weight.raw + r0 * k * es, dtype: weight.dtype, into: buf, count: rn * k)
                let st = ck_sgemm_dnnl(0, 1, Int64(m), Int64(rn), Int64(k), 1, x, Int64(k), buf, Int64(k), beta, out + r0, Int64(ldc))
                if st != 0 { lock.withLock { failure = GEMMError(status: st, operation: "sgemm") } }
                t += workers
            }
        }
        if let failure { throw failure }
    }

    /// C[M, N] = alpha · op(A) · op(B) + beta · C, float32, with explicit leading dimensions.
    /// `transA` false: A is [M, K]; true: A is [K, M] (gradients of weights: dW += dYᵀ X).
    /// `transB` false: B is [K, N]; true: B is [N, K].
    /// `beta` 1 accumulates into C (gradient sums); 0 overwrites it.
    /// `insideParallelLoop`: called from a `Parallel.forEach` worker, so use the library whose threading
    /// follows the worker's one-thread limit.
    /// `operation` names the product in the error when the library fails.
    public static func gemm(transA: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, insideParallelLoop: Bool = false,
                            operation: String = "sgemm") throws {
        let f = insideParallelLoop ? ck_sgemm_dnnl : ck_sgemm
        try check(f(transA ? 1 : 0, transB ? 1 : 0, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc)),
                  operation)
    }

    /// C[M, N] = op(A) · op(B) + beta · C with bf16 operands (raw bf16 bits, e.g. from
    /// `Convert.fromFloat(_:into:dtype:count:)`) multiplied on the bf16 units, accumulating in float32.
    /// Shapes and flags as in `gemm`; `beta` is 0 or 1. On CPUs without bf16 kernels the operands are
    /// widened to float32 panel by panel (`BF16Products`).
    public static func gemmBF16(transA: Bool = false, m: Int, n: Int, k: Int,
                                a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, transB: Bool,
                                beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, operation: String = "bf16 matmul") throws {
        try check(ck_gemm_bf16(transA ? 1 : 0, transB ? 1 : 0, Int64(m), Int64(n), Int64(k), 1, a, Int64(lda), b, Int64(ldb),
                               beta, c, Int64(ldc)), operation)
    }

    @inline(__always)
    static func check(_ status: Int32, _ op: String) throws {
        if status != 0 { throw GEMMError(status: status, operation: op) }
    }
}
