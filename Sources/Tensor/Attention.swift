import CKernels

/// Scaled dot-product attention over blocks of queries, each query seeing one contiguous key range.
///
/// A contiguous range per query expresses every mask the Gemma 3 family needs: causal, sliding window,
/// and bidirectional image blocks. Scores are formed one block of queries at a time, so no full
/// queries × keys matrix is ever held.
public struct AttentionProblem {
    public var queries: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    /// Query row stride (elements); head h starts at column h·headDim.
    public var q: UnsafePointer<Float>
    public var ldq: Int
    /// Keys and values: key row j of kv-head g is at `k + g·kvHeadStride + j·ldk`.
    public var k: UnsafePointer<Float>
    public var v: UnsafePointer<Float>
    public var ldk: Int
    public var kvHeadStride: Int
    /// Output rows (same layout as q).
    public var out: UnsafeMutablePointer<Float>
    public var ldo: Int
    /// Visible keys of query i are keyLo[i] ..< keyHi[i].
    public var keyLo: [Int]
    public var keyHi: [Int]
    public var scale: Float
    public var softcap: Float?
    /// Form scores and weighted sums on the bf16 units (inputs rounded to bf16, float32 accumulation and
    /// softmax); false keeps every product in float32.
    public var bf16Products = false
    /// Let a problem whose queries all see the same keys take the fused kernel (`Attention.runFused`) where the
    /// CPU has one; false forces the score-matrix path (the tests compare the two).
    public var allowFused = true

    public init(queries: Int, heads: Int, kvHeads: Int, headDim: Int,
                q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ldk: Int, kvHeadStride: Int,
                out: UnsafeMutablePointer<Float>, ldo: Int, keyLo: [Int], keyHi: [Int], scale: Float, softcap: Float?) {
        self.queries = queries; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.q = q; self.ldq = ldq; self.k = k; self.v = v; self.ldk = ldk; self.kvHeadStride = kvHeadStride
        self.out = out; self.ldo = ldo; self.keyLo = keyLo; self.keyHi = keyHi; self.scale = scale; self.softcap = softcap
    }
}

extension AttentionProblem {
    /// Checks the layout the forward and backward rely on: one key range per query, query heads a multiple of
    /// the key/value heads.
    public func validate() throws {
        guard keyLo.count == queries, keyHi.count == queries else {
            throw TensorError.shapeMismatch("attention: \(keyLo.count)/\(keyHi.count) key ranges for \(queries) queries")
        }
        guard kvHeads > 0, heads % kvHeads == 0 else {
            throw TensorError.shapeMismatch("attention: \(heads) query heads are not a multiple of \(kvHeads) key/value heads")
        }
    }
}

public enum Attention {
    /// Queries per block: small blocks for short prompts, larger ones for long bidirectional problems
    /// (the vision tower) where per-call overhead and K=head_dim products dominate.
    public static func blockRows(queries: Int) -> Int { queries >= 1024 ? 256 : 64 }

    public static func run(_ p: AttentionProblem) throws {
        try p.validate()
        if try runFused(p) { return }
        let blockRows = Self.blockRows(queries: p.queries)
        let blocks = (p.queries + blockRows - 1) / blockRows
        let tasks = blocks * p.heads
        let group = p.heads / p.kvHeads
        var failure: Error?
        let lock = SpinLock()
        // Small problems (decode steps) run serially with the library's own threading.
        let work = p.queries * (p.keyHi.max() ?? 0) * p.heads * p.headDim
        let parallel = tasks > 1 && work > 1 << 20
        let half = p.bf16Products ? BF16Operands(p) : nil
        let body: (Int) -> Void = { t in
            let h = t % p.heads, b = t / p.heads
            let r0 = b * blockRows, rn = min(blockRows, p.queries - r0)
            var kStart = Int.max, kEnd = 0
            for i in r0..<(r0 + rn) {
                kStart = min(kStart, p.keyLo[i])
                kEnd = max(kEnd, p.keyHi[i])
            }
            let outBase = p.out + r0 * p.ldo + h * p.headDim
            if kEnd <= kStart {
                for i in 0..<rn { (outBase + i * p.ldo).update(repeating: 0, count: p.headDim) }
                return
            }
            let kLen = kEnd - kStart
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: rn * kLen)
            defer { scores.deallocate() }
            let g = h / group
            let kBase = p.k + g * p.kvHeadStride + kStart * p.ldk
            let vBase = p.v + g * p.kvHeadStride + kStart * p.ldk
            do {
                if let half {
                    let qh = half.q.base.assumingMemoryBound(to: UInt16.self) + r0 * p.ldq + h * p.headDim
                    let kh = half.k.base.assumingMemoryBound(to: UInt16.self) + g * p.kvHeadStride + kStart * p.ldk
                    try MatMul.check(ck_gemm_bf16(0, 1, Int64(rn), Int64(kLen), Int64(p.headDim), 1, qh, Int64(p.ldq),
                                                  kh, Int64(p.ldk), 0, scores, Int64(kLen)), "bf16 attention scores")
                    ck_scale(scores, rn * kLen, p.scale)
                } else {
                    try MatMul.gemm(m: rn, n: kLen, k: p.headDim, alpha: p.scale, a: p.q + r0 * p.ldq + h * p.headDim, lda: p.ldq,
                                    b: kBase, ldb: p.ldk, transB: true, c: scores, ldc: kLen, insideParallelLoop: parallel)
                }
                if let cap = p.softcap { ck_softcap(scores, rn * kLen, cap) }
                maskedSoftmax(scores, p, firstQuery: r0, rows: rn, kStart: kStart, kLen: kLen)
                if let half {
                    let probs = UnsafeMutablePointer<UInt16>.allocate(capacity: rn * kLen)
                    defer { probs.deallocate() }
                    ck_f32_to_bf16(scores, probs, rn * kLen)
                    let vh = half.v.base.assumingMemoryBound(to: UInt16.self) + g * p.kvHeadStride + kStart * p.ldk
                    try MatMul.check(ck_gemm_bf16(0, 0, Int64(rn), Int64(p.headDim), Int64(kLen), 1, probs, Int64(kLen),
                                                  vh, Int64(p.ldk), 0, outBase, Int64(p.ldo)), "bf16 attention values")
                } else {
                    try MatMul.gemm(m: rn, n: p.headDim, k: kLen, a: scores, lda: kLen, b: vBase, ldb: p.ldk, transB: false,
                                    c: outBase, ldc: p.ldo, insideParallelLoop: parallel)
                }
            } catch {
                lock.withLock { failure = error }
            }
        }
        if parallel { Parallel.forEach(tasks, body) } else { for t in 0..<tasks { body(t) } }
        if let failure { throw failure }
    }
}

extension Attention {
    /// Query rows per task of the fused kernel.
    static let fusedBlockRows = 256

    /// Whether the fused kernel runs on this CPU for heads of this size (AVX-512, head size up to 80).
    public static func fusedAvailable(headDim: Int) -> Bool { ck_attention_fused_available(Int64(headDim)) == 1 }

    /// The fused float32 kernel (scores, online softmax and the weighted sum per cache-sized key block; CKernels
    /// attention.c) for problems where every query sees the same key range, as in the vision tower. Each
    /// key/value head is packed once and shared by all blocks of queries. Returns false, having done nothing,
    /// when the problem or the CPU does not qualify (bf16 products, soft-capping, per-query ranges, no AVX-512,
    /// head size over 80, fewer than 64 queries).
    static func runFused(_ p: AttentionProblem) throws -> Bool {
        guard p.allowFused, !p.bf16Products, p.softcap == nil, p.queries >= 64,
              fusedAvailable(headDim: p.headDim),
              let lo = p.keyLo.first, let hi = p.keyHi.first, hi > lo,
              p.keyLo.allSatisfy({ $0 == lo }), p.keyHi.allSatisfy({ $0 == hi }) else { return false }
        let keys = Int64(hi - lo), hd = Int64(p.headDim)
        let ktCount = Int(ck_attention_packed_keys_floats(keys, hd))
        let perHead = ktCount + Int(ck_attention_packed_values_floats(keys, hd))
        let packed = TensorStorage(uninitializedByteCount: p.kvHeads * perHead * 4)
        let base = packed.base.assumingMemoryBound(to: Float.self)
        Parallel.forEach(p.kvHeads) { g in
            let kt = base + g * perHead
            ck_attention_pack(p.k + g * p.kvHeadStride + lo * p.ldk, p.v + g * p.kvHeadStride + lo * p.ldk, Int64(p.ldk),
                              keys, hd, kt, kt + ktCount)
        }
        let blocks = (p.queries + fusedBlockRows - 1) / fusedBlockRows
        let group = p.heads / p.kvHeads
        var status: Int32 = 0
        let lock = SpinLock()
        // Consecutive tasks share a head, so its packed keys and values stay in cache between them.
        Parallel.forEach(blocks * p.heads) { t in
            let h = t / blocks, r0 = (t % blocks) * fusedBlockRows
            let kt = base + (h / group) * perHead
            let st = ck_attention_fused(p.q + r0 * p.ldq + h * p.headDim, Int64(p.ldq), kt, kt + ktCount, keys, hd, p.scale,
                                        p.out + r0 * p.ldo + h * p.headDim, Int64(p.ldo), Int64(min(fusedBlockRows, p.queries - r0)))
            if st != 0 { lock.withLock { status = st } }
        }
        withExtendedLifetime(packed) {}
        if status != 0 {
            throw GEMMError(status: status, operation: status == 2 ? "fused attention (no memory for its work buffers)" : "fused attention")
        }
        return true
    }
}

/// bf16 copies of q, k and v for `Attention.run` with `bf16Products`.
struct BF16Operands {
    let q: TensorStorage, k: TensorStorage, v: TensorStorage

    init(_ p: AttentionProblem) {
        let qCount = (p.queries - 1) * p.ldq + p.heads * p.headDim
        let maxHi = p.keyHi.max() ?? 0
        let kvCount = maxHi == 0 ? 0 : (p.kvHeads - 1) * p.kvHeadStride + (maxHi - 1) * p.ldk + p.headDim
        q = TensorStorage(uninitializedByteCount: qCount * 2)
        k = TensorStorage(uninitializedByteCount: kvCount * 2)
        v = TensorStorage(uninitializedByteCount: kvCount * 2)
        ck_f32_to_bf16(p.q, q.base.assumingMemoryBound(to: UInt16.self), qCount)
        ck_f32_to_bf16(p.k, k.base.assumingMemoryBound(to: UInt16.self), kvCount)
        ck_f32_to_bf16(p.v, v.base.assumingMemoryBound(to: UInt16.self), kvCount)
    }
}
