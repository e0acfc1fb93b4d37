import CKernels

/// Where `Attention.backward` adds the gradients of q, k and v (same layouts as the problem's q, k, v).
public struct AttentionGradients {
    public var dq: UnsafeMutablePointer<Float>
    public var dk: UnsafeMutablePointer<Float>
    public var dv: UnsafeMutablePointer<Float>

    public init(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        self.dq = dq; self.dk = dk; self.dv = dv
    }
}

extension Attention {
    /// Backward of `run`: adds ∂L/∂q, ∂L/∂k, ∂L/∂v into `grads` given ∂L/∂out (`dOut`, laid out like `out`).
    ///
    /// Probabilities are recomputed one block of queries at a time exactly as the forward forms them (the
    /// block's scores, soft-cap, key-range mask, row softmax), so no queries × keys matrix of all heads is
    /// ever held; per block: dP = dO·Vᵀ, dS = P∘(dP − rowsum(P∘dP)), dQ += s·dS·K, dK += s·dSᵀ·Q, dV += Pᵀ·dO.
    /// Work is split by KV head so that each worker owns its heads' dK/dV rows. With `bf16Products` every
    /// product runs on the bf16 units like the forward's (dS and P rounded to bf16, float32 accumulation).
    public static func backward(_ p: AttentionProblem, dOut: UnsafePointer<Float>, ldDOut: Int, grads: AttentionGradients) throws {
        try p.validate()
        let blockRows = Self.blockRows(queries: p.queries)
        let blocks = (p.queries + blockRows - 1) / blockRows
        let group = p.heads / p.kvHeads
        let work = p.queries * (p.keyHi.max() ?? 0) * p.heads * p.headDim
        let parallel = p.kvHeads > 1 && work > 1 << 20
        let gemm = parallel ? ck_sgemm_dnnl : ck_sgemm
        var failure: Error?
        let lock = SpinLock()
        let hd = p.headDim
        // bf16 products (as the forward's): q, k, v and dO rounded once; dS and P rounded per block.
        let half = p.bf16Products ? BF16Operands(p) : nil
        var halfDOut: TensorStorage?
        if p.bf16Products {
            let n = (p.queries - 1) * ldDOut + p.heads * hd
            let s = TensorStorage(uninitializedByteCount: n * 2)
            ck_f32_to_bf16(dOut, s.base.assumingMemoryBound(to: UInt16.self), n)
            halfDOut = s
        }
        let body: (Int) -> Void = { g in
            do {
                for h in (g * group)..<((g + 1) * group) {
                    for b in 0..<blocks {
                        let r0 = b * blockRows, rn = min(blockRows, p.queries - r0)
                        var kStart = Int.max, kEnd = 0
                        for i in r0..<(r0 + rn) {
                            kStart = min(kStart, p.keyLo[i])
                            kEnd = max(kEnd, p.keyHi[i])
                        }
                        if kEnd <= kStart { continue }
                        let kLen = kEnd - kStart
                        let probs = UnsafeMutablePointer<Float>.allocate(capacity: rn * kLen)
                        let dp = UnsafeMutablePointer<Float>.allocate(capacity: rn * kLen)
                        defer { probs.deallocate(); dp.deallocate() }
                        let qBlock = p.q + r0 * p.ldq + h * hd
                        let dqBlock = grads.dq + r0 * p.ldq + h * hd
                        let doBlock = dOut + r0 * ldDOut + h * hd
                        let kBase = p.k + g * p.kvHeadStride + kStart * p.ldk
                        let vBase = p.v + g * p.kvHeadStride + kStart * p.ldk
                        let dkBase = grads.dk + g * p.kvHeadStride + kStart * p.ldk
                        let dvBase = grads.dv + g * p.kvHeadStride + kStart * p.ldk
                        // Scores and probabilities, as the forward forms them.
                        var h16: (q: UnsafeMutablePointer<UInt16>, k: UnsafeMutablePointer<UInt16>, v: UnsafeMutablePointer<UInt16>,
                                  dO: UnsafeMutablePointer<UInt16>)?
                        if let half, let halfDOut {
                            h16 = (half.q.base.assumingMemoryBound(to: UInt16.self) + r0 * p.ldq + h * hd,
                                   half.k.base.assumingMemoryBound(to: UInt16.self) + g * p.kvHeadStride + kStart * p.ldk,
                                   half.v.base.assumingMemoryBound(to: UInt16.self) + g * p.kvHeadStride + kStart * p.ldk,
                                   halfDOut.base.assumingMemoryBound(to: UInt16.self) + r0 * ldDOut + h * hd)
                        }
                        if let h16 {
                            try check(ck_gemm_bf16(0, 1, Int64(rn), Int64(kLen), Int64(hd), 1, h16.q, Int64(p.ldq), h16.k, Int64(p.ldk),
                                                   0, probs, Int64(kLen)), "bf16 attention backward scores")
                            ck_scale(probs, rn * kLen, p.scale)
                        } else {
                            try check(gemm(0, 1, Int64(rn), Int64(kLen), Int64(hd), p.scale, qBlock, Int64(p.ldq), kBase, Int64(p.ldk),
                                           0, probs, Int64(kLen)), "attention backward scores")
                        }
                        if let cap = p.softcap {
                            ck_softcap(probs, rn * kLen, cap)
                            dp.update(from: probs, count: rn * kLen)  // capped scores, for the cap's slope below
                        }
                        maskedSoftmax(probs, p, firstQuery: r0, rows: rn, kStart: kStart, kLen: kLen)
                        // dP = dO · Vᵀ  (the capped scores, when kept, move to `ds` first)
                        let ds = UnsafeMutablePointer<Float>.allocate(capacity: rn * kLen)
                        defer { ds.deallocate() }
                        if p.softcap != nil { ds.update(from: dp, count: rn * kLen) }
                        if let h16 {
                            try check(ck_gemm_bf16(0, 1, Int64(rn), Int64(kLen), Int64(hd), 1, h16.dO, Int64(ldDOut), h16.v, Int64(p.ldk),
                                                   0, dp, Int64(kLen)), "bf16 attention backward dP")
                        } else {
                            try check(gemm(0, 1, Int64(rn), Int64(kLen), Int64(hd), 1, doBlock, Int64(ldDOut), vBase, Int64(p.ldk),
                                           0, dp, Int64(kLen)), "attention backward dP")
                        }
                        if p.softcap != nil {
                            // ds holds the capped scores: the cap's slope multiplies the softmax backward.
                            let capped = UnsafeMutablePointer<Float>.allocate(capacity: rn * kLen)
                            defer { capped.deallocate() }
                            capped.update(from: ds, count: rn * kLen)
                            ck_softmax_backward_rows(probs, dp, ds, Int64(rn), Int64(kLen))
                            ck_softcap_backward(capped, ds, rn * kLen, p.softcap ?? 1)
                        } else {
                            ck_softmax_backward_rows(probs, dp, ds, Int64(rn), Int64(kLen))
                        }
                        // dQ += s · dS · K ;  dK += s · dSᵀ · Q ;  dV += Pᵀ · dO
                        if let h16 {
                            // The bf16 primitive takes alpha 1: the scale goes into dS before rounding.
                            ck_scale(ds, rn * kLen, p.scale)
                            let dsh = UnsafeMutablePointer<UInt16>.allocate(capacity: rn * kLen)
                            let ph = UnsafeMutablePointer<UInt16>.allocate(capacity: rn * kLen)
                            defer { dsh.deallocate(); ph.deallocate() }
                            ck_f32_to_bf16(ds, dsh, rn * kLen)
                            ck_f32_to_bf16(probs, ph, rn * kLen)
                            try check(ck_gemm_bf16(0, 0, Int64(rn), Int64(hd), Int64(kLen), 1, dsh, Int64(kLen), h16.k, Int64(p.ldk),
                                                   1, dqBlock, Int64(p.ldq)), "bf16 attention backward dQ")
                            try check(ck_gemm_bf16(1, 0, Int64(kLen), Int64(hd), Int64(rn), 1, dsh, Int64(kLen), h16.q, Int64(p.ldq),
                                                   1, dkBase, Int64(p.ldk)), "bf16 attention backward dK")
                            try check(ck_gemm_bf16(1, 0, Int64(kLen), Int64(hd), Int64(rn), 1, ph, Int64(kLen), h16.dO, Int64(ldDOut),
                                                   1, dvBase, Int64(p.ldk)), "bf16 attention backward dV")
                            continue
                        }
                        try check(gemm(0, 0, Int64(rn), Int64(hd), Int64(kLen), p.scale, ds, Int64(kLen), kBase, Int64(p.ldk),
                                       1, dqBlock, Int64(p.ldq)), "attention backward dQ")
                        try check(gemm(1, 0, Int64(kLen), Int64(hd), Int64(rn), p.scale, ds, Int64(kLen), qBlock, Int64(p.ldq),
                                       1, dkBase, Int64(p.ldk)), "attention backward dK")
                        try check(gemm(1, 0, Int64(kLen), Int64(hd), Int64(rn), 1, probs, Int64(kLen), doBlock, Int64(ldDOut),
                                       1, dvBase, Int64(p.ldk)), "attention backward dV")
                    }
                }
            } catch {
                lock.withLock { failure = error }
            }
        }
        if parallel { Parallel.forEach(p.kvHeads, body) } else { for g in 0..<p.kvHeads { body(g) } }
        if let failure { throw failure }
    }

    /// Scores [rows, kLen] of queries firstQuery ..< +rows over keys kStart ..< +kLen → probabilities: keys
    /// outside each query's range are masked, then each row is soft-maxed (the forward's and the backward's
    /// recomputation share this step, so both form the same probabilities).
    static func maskedSoftmax(_ scores: UnsafeMutablePointer<Float>, _ p: AttentionProblem, firstQuery r0: Int, rows rn: Int,
                              kStart: Int, kLen: Int) {
        for i in 0..<rn {
            let row = scores + i * kLen
            let lo = p.keyLo[r0 + i] - kStart, hi = p.keyHi[r0 + i] - kStart
            if lo > 0 { row.update(repeating: -.infinity, count: min(lo, kLen)) }
            if hi < kLen { (row + max(hi, 0)).update(repeating: -.infinity, count: kLen - max(hi, 0)) }
        }
        ck_softmax_rows(scores, Int64(rn), Int64(kLen), Int64(kLen))
    }

    @inline(__always)
    static func check(_ status: Int32, _ op: String) throws {
        if status != 0 { throw GEMMError(status: status, operation: op) }
    }
}
