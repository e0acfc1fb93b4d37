import CKernels

extension MatMul {
    /// out[M, N] (+)= x[M, K] · Wᵀ for a quantised W [N, K]: W is dequantised tile by tile (float32, or
    /// bf16 for the bf16 units) and each tile goes through the ordinary GEMM; only one tile per core exists
    /// dense at a time.
    public static func linear(_ x: UnsafePointer<Float>, rows m: Int, quantized w: QuantizedMatrix,
                              out: UnsafeMutablePointer<Float>, ldOut: Int? = nil, accumulate: Bool = false,
                              mode: ComputeMode = .f32) throws {
        let n = w.rows, k = w.cols
        let ldc = ldOut ?? n
        if m == 0 || n == 0 { return }
        let beta: Float = accumulate ? 1 : 0
        if m <= smallRows {
            // Memory-bound: each core dequantises its own tiles in cache and multiplies them.
            let tile = max(16, min(tileRows, (64 * 1024) / max(k, 1)))
            let tiles = (n + tile - 1) / tile
            let workers = min(Parallel.cores, tiles)
            let scratch = TensorStorage(uninitializedByteCount: workers * tile * k * 4)
            let wbase = scratch.base.assumingMemoryBound(to: Float.self)
            var failure: Error?
            let lock = SpinLock()
            Parallel.forEach(workers) { worker in
                let buf = wbase + worker * tile * k
                var t = worker
                while t < tiles {
                    let r0 = t * tile, rn = min(tile, n - r0)
                    w.dequantize(rows: r0, count: rn, into: buf)
                    let st = ck_sgemm_dnnl(0, 1, Int64(m), Int64(rn), Int64(k), 1, x, Int64(k), buf, Int64(k), beta, out + r0, Int64(ldc))
                    if st != 0 { lock.withLock { failure = GEMMError(status: st, operation: "sgemm") } }
                    t += workers
                }
            }
            if let failure { throw failure }
            return
        }
        // Compute-bound: dequantise a tile of rows (split over the cores), then one threaded GEMM per tile.
        let tile = min(n, max(64, (8 << 20) / max(k * 4, 1)))
        let scratch = TensorStorage(uninitializedByteCount: tile * k * 4)
        let buf = scratch.base.assumingMemoryBound(to: Float.self)
        var xb: TensorStorage?
        if mode == .bf16 {
            let s = TensorStorage(uninitializedByteCount: m * k * 2)
            ck_f32_to_bf16(x, s.base.assumingMemoryBound(to: UInt16.self), m * k)
            xb = s
        }
        let wbStorage = mode == .bf16 ? TensorStorage(uninitializedByteCount: tile * k * 2) : nil
        let wb = wbStorage?.base.assumingMemoryBound(to: UInt16.self)
        var r0 = 0
        while r0 < n {
            let rn = min(tile, n - r0)
            let parts = min(Parallel.cores, rn)
            let per = (rn + parts - 1) / parts
            let start = r0
            Parallel.forEach(parts) { p in
                let a = p * per, c = min(per, rn - a)
                if c <= 0 { return }
                w.dequantize(rows: start + a, count: c, into: buf + a * k)
                if let wb { ck_f32_to_bf16(buf + a * k, wb + a * k, c * k) }
            }
            if let xb, let wb {
                try check(ck_gemm_bf16(0, 1, Int64(m), Int64(rn), Int64(k), 1, xb.base.assumingMemoryBound(to: UInt16.self), Int64(k),
                                       wb, Int64(k), beta, out + r0, Int64(ldc)), "bf16 matmul")
            } else {
                try check(ck_sgemm(0, 1, Int64(m), Int64(rn), Int64(k), 1, x, Int64(k), buf, Int64(k), beta, out + r0, Int64(ldc)), "sgemm")
            }
            r0 += rn
        }
    }
}
