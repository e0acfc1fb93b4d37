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
        if w.scheme == .w8a8 {
            try linearW8A8(x, rows: m, weight: w, out: out, ldOut: ldc, accumulate: accumulate)
            return
        }
        try linearDequantizing(x, rows: m, quantized: w, out: out, ldOut: ldc, accumulate: accumulate, mode: mode)
    }

    /// Whether int8 products run on the int8 units (VNNI / AMX-INT8) here; elsewhere `w8a8` takes the exact
    /// float32 path (the same quantised values, multiplied in float32).
    public static var int8Native: Bool { ck_int8_vnni() != 0 }

    /// Columns of one int8 product at a time: the int32 sums of a tile stay within about 64 MB, and the
    /// tiles are of equal width (multiples of 64), so no call gets a thin remainder.
    static func w8a8Tile(rows m: Int, outputs n: Int) -> Int {
        let most = max(64, ((64 << 20) / max(m * 4, 1)) / 64 * 64)
        if n <= most { return n }
        let tiles = (n + most - 1) / most
        return min(most, ((n + tiles - 1) / tiles + 63) / 64 * 64)
    }

    /// `w8a8`: the rows of x quantised to int8 (absmax / 127 per row, round half to even, as the weights),
    /// int8 · int8ᵀ summed in int32, both scales applied. Without VNNI the quantised activations are
    /// dequantised and multiplied with the dequantised weight in float32: the same quantised operands, so the
    /// two paths differ only by float32 rounding of the sums.
    /// `native` and `tile` exist for the tests (both paths on every machine, several tiles at small sizes).
    static func linearW8A8(_ x: UnsafePointer<Float>, rows m: Int, weight w: QuantizedMatrix,
                           out: UnsafeMutablePointer<Float>, ldOut ldc: Int, accumulate: Bool,
                           native: Bool = int8Native, tile tileOverride: Int? = nil) throws {
        let n = w.rows, k = w.cols
        let xq = TensorStorage(uninitializedByteCount: m * k)
        let q = xq.base.assumingMemoryBound(to: Int8.self)
        var xs = [Float](repeating: 0, count: m)
        // Row ranges split over the cores (a few per core, so uneven progress evens out).
        let rowRanges = Parallel.cores * 4
        xs.withUnsafeMutableBufferPointer { sp in
            let scales = sp.baseAddress!
            Parallel.forEachRange(m, parts: rowRanges) { r0, rn in ck_int8_quantize_rows(x + r0 * k, Int64(rn), Int64(k), q + r0 * k, scales + r0) }
        }
        if !native {
            let xhat = TensorStorage(uninitializedByteCount: m * k * 4)
            let xf = xhat.base.assumingMemoryBound(to: Float.self)
            xs.withUnsafeBufferPointer { sp in ck_int8_dequantize_rows(q, sp.baseAddress!, Int64(m), Int64(k), xf) }
            try linearDequantizing(UnsafePointer(xf), rows: m, quantized: w, out: out, ldOut: ldc, accumulate: accumulate, mode: .f32)
            return
        }
        let beta: Float = accumulate ? 1 : 0
        let tile = tileOverride ?? w8a8Tile(rows: m, outputs: n)
        let acc = TensorStorage(uninitializedByteCount: m * tile * 4)
        let a = acc.base.assumingMemoryBound(to: Int32.self)
        let wq = w.codes.base.assumingMemoryBound(to: Int8.self)
        try xs.withUnsafeBufferPointer { xsp in
            try w.rowScales.withUnsafeBufferPointer { wsp in
                let rowScales = xsp.baseAddress!, colScales = wsp.baseAddress!
                var j0 = 0
                while j0 < n {
                    let nj = min(tile, n - j0)
                    try check(ck_gemm_s8s8s32_nt(Int64(m), Int64(nj), Int64(k), q, Int64(k), wq + j0 * k, Int64(k), a, Int64(nj)),
                              "int8 matmul")
                    let start = j0
                    Parallel.forEachRange(m, parts: rowRanges) { r0, rn in
                        ck_w8a8_rescale(a + r0 * nj, Int64(rn), Int64(nj), Int64(nj), rowScales + r0, colScales + start,
                                        beta, out + r0 * ldc + start, Int64(ldc))
                    }
                    j0 += nj
                }
            }
        }
    }

    /// Weight-only schemes: W dequantised tile by tile into the ordinary GEMM.
    static func linearDequantizing(_ x: UnsafePointer<Float>, rows m: Int, quantized w: QuantizedMatrix,
                                   out: UnsafeMutablePointer<Float>, ldOut ldc: Int, accumulate: Bool, mode: ComputeMode) throws {
        let n = w.rows, k = w.cols
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
            let start = r0
            Parallel.forEachRange(rn) { a, c in
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
