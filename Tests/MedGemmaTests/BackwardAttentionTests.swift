import Foundation
import XCTest
import Tensor
import struct Tensor.SplitMix64

/// `Attention.backward` against central finite differences of a float64 reference attention, on a problem
/// with several query blocks, grouped KV heads (the parallel path), sliding ranges and bidirectional blocks.
final class BackwardAttentionTests: XCTestCase {
    struct Problem {
        let t = 140, heads = 4, kvHeads = 2, hd = 16
        var q: [Float], k: [Float], v: [Float], r: [Float]
        var lo: [Int], hi: [Int]
        var softcap: Float?
        var scale: Float { 1 / Float(hd).squareRoot() }
    }

    func makeProblem(softcap: Float?) -> Problem {
        var rng = SplitMix64(seed: 17)
        func rand(_ n: Int) -> [Float] { (0..<n).map { _ in 2 * rng.nextFloat() - 1 } }
        let t = 140
        var lo = [Int](repeating: 0, count: t), hi = lo
        for i in 0..<t {
            lo[i] = max(0, i - 50 + 1)                          // sliding window 50
            hi[i] = (30..<46).contains(i) ? 46 : i + 1          // a bidirectional block 30..<46
        }
        return Problem(q: rand(t * 4 * 16), k: rand(t * 2 * 16), v: rand(t * 2 * 16), r: rand(t * 4 * 16), lo: lo, hi: hi, softcap: softcap)
    }

    /// L = Σ R ∘ attention(q, k, v) in float64.
    func reference(_ p: Problem, q: [Double], k: [Double], v: [Double]) -> Double {
        var total = 0.0
        let group = p.heads / p.kvHeads
        for h in 0..<p.heads {
            let g = h / group
            for i in 0..<p.t {
                var s = [Double](repeating: -.infinity, count: p.t)
                for j in p.lo[i]..<p.hi[i] {
                    var dot = 0.0
                    for c in 0..<p.hd { dot += q[i * p.heads * p.hd + h * p.hd + c] * k[j * p.kvHeads * p.hd + g * p.hd + c] }
                    dot *= Double(p.scale)
                    if let cap = p.softcap { dot = Double(cap) * tanh(dot / Double(cap)) }
                    s[j] = dot
                }
                let m = s.max() ?? 0
                let e = s.map { $0 == -.infinity ? 0 : exp($0 - m) }
                let z = e.reduce(0, +)
                for c in 0..<p.hd {
                    var o = 0.0
                    for j in p.lo[i]..<p.hi[i] { o += e[j] / z * v[j * p.kvHeads * p.hd + g * p.hd + c] }
                    total += o * Double(p.r[i * p.heads * p.hd + h * p.hd + c])
                }
            }
        }
        return total
    }

    /// Forward output and (dq, dk, dv) of `Attention` on the problem, with R as ∂L/∂out.
    func run(_ p: Problem, bf16: Bool = false) throws -> (out: [Float], dq: [Float], dk: [Float], dv: [Float]) {
        let t = p.t, qw = p.heads * p.hd, kw = p.kvHeads * p.hd
        var dq = [Float](repeating: 0, count: t * qw), dk = [Float](repeating: 0, count: t * kw), dv = dk
        var out = [Float](repeating: 0, count: t * qw)
        try p.q.withUnsafeBufferPointer { q in try p.k.withUnsafeBufferPointer { k in try p.v.withUnsafeBufferPointer { v in
            try out.withUnsafeMutableBufferPointer { o in
                var problem = AttentionProblem(queries: t, heads: p.heads, kvHeads: p.kvHeads, headDim: p.hd, q: q.baseAddress!, ldq: qw,
                                               k: k.baseAddress!, v: v.baseAddress!, ldk: kw, kvHeadStride: p.hd, out: o.baseAddress!, ldo: qw,
                                               keyLo: p.lo, keyHi: p.hi, scale: p.scale, softcap: p.softcap)
                problem.bf16Products = bf16
                try Attention.run(problem)
                try p.r.withUnsafeBufferPointer { r in
                    try dq.withUnsafeMutableBufferPointer { dq in try dk.withUnsafeMutableBufferPointer { dk in try dv.withUnsafeMutableBufferPointer { dv in
                        try Attention.backward(problem, dOut: r.baseAddress!, ldDOut: qw,
                                               grads: AttentionGradients(dq: dq.baseAddress!, dk: dk.baseAddress!, dv: dv.baseAddress!))
                    } } }
                }
            }
        } } }
        return (out, dq, dk, dv)
    }

    func check(softcap: Float?) throws {
        let p = makeProblem(softcap: softcap)
        let (out, dq, dk, dv) = try run(p)
        let q = p.q.map(Double.init), k = p.k.map(Double.init), v = p.v.map(Double.init)
        // The forward itself matches the float64 reference.
        let lRef = reference(p, q: q, k: k, v: v)
        var lOurs = 0.0
        for i in out.indices { lOurs += Double(out[i]) * Double(p.r[i]) }
        XCTAssertEqual(lOurs, lRef, accuracy: 1e-4 * max(1, abs(lRef)))
        var rng = SplitMix64(seed: 3)
        let h = 1e-5
        for which in 0..<3 {
            let count = which == 0 ? q.count : k.count
            for _ in 0..<12 {
                // Rows inside the bidirectional block or past it, in every query block.
                let idx = rng.next(below: count)
                // Central difference of the reference loss in entry idx of q, k or v (copies, so the three
                // arrays are never accessed while one of them is being modified).
                func fd(_ which: Int) -> Double {
                    var qq = q, kk = k, vv = v
                    func set(_ value: Double) {
                        switch which {
                        case 0: qq[idx] = value
                        case 1: kk[idx] = value
                        default: vv[idx] = value
                        }
                    }
                    let x0 = which == 0 ? q[idx] : which == 1 ? k[idx] : v[idx]
                    set(x0 + h)
                    let up = reference(p, q: qq, k: kk, v: vv)
                    set(x0 - h)
                    let down = reference(p, q: qq, k: kk, v: vv)
                    return (up - down) / (2 * h)
                }
                let numeric = fd(which)
                let analytic: Float = which == 0 ? dq[idx] : which == 1 ? dk[idx] : dv[idx]
                XCTAssertEqual(Double(analytic), numeric, accuracy: 1e-4 + 1e-4 * abs(numeric), "\(["dq", "dk", "dv"][which])[\(idx)] softcap \(String(describing: softcap))")
            }
        }
    }

    func testAttentionBackwardMatchesFiniteDifferences() throws { try check(softcap: nil) }

    /// With bf16 products (as the vision tower's forward in bf16 mode) the gradients stay within bf16
    /// rounding of the float32 ones.
    func testBF16ProductsBackwardIsCloseToFloat32() throws {
        let p = makeProblem(softcap: nil)
        let e = try run(p), h = try run(p, bf16: true)
        let exact = [e.dq, e.dk, e.dv], half = [h.dq, h.dk, h.dv]
        for (name, (a, b)) in zip(["dq", "dk", "dv"], zip(half, exact)) {
            var num = 0.0, den = 0.0
            for i in a.indices { num += Double(a[i] - b[i]) * Double(a[i] - b[i]); den += Double(b[i]) * Double(b[i]) }
            XCTAssertLessThan((num / den).squareRoot(), 2e-2, name)
            XCTAssertGreaterThan(num, 0, "\(name): the bf16 path really ran")
        }
    }

    func testSoftcappedAttentionBackwardMatchesFiniteDifferences() throws { try check(softcap: 0.5) }
}
