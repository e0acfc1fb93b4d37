import Foundation
import Tensor
import XCTest

/// The fused attention kernel (every query sees the same keys: the vision tower) against a float64 reference
/// and against the score-matrix path, on shapes that exercise its edges: key counts that are not a multiple
/// of its 64-key chunks, query counts that are not a multiple of its 16-row groups, several key blocks whose
/// maxima grow (the online softmax's rescaling), grouped key/value heads and a key range that starts late.
final class FusedAttentionTests: XCTestCase {
    struct Case {
        var queries: Int, heads: Int, kvHeads: Int, headDim: Int, keyLo: Int, keyHi: Int, keyCount: Int
        /// Keys grow along the sequence by this factor per key (later blocks have larger scores).
        var growth: Float = 0
        var magnitude: Float = 1
    }

    func run(_ c: Case, fused: Bool, q: [Float], k: [Float], v: [Float]) throws -> [Float] {
        let width = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        var out = [Float](repeating: .nan, count: c.queries * width)
        try q.withUnsafeBufferPointer { qp in try k.withUnsafeBufferPointer { kp in try v.withUnsafeBufferPointer { vp in
            try out.withUnsafeMutableBufferPointer { op in
                var p = AttentionProblem(queries: c.queries, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
                                         q: qp.baseAddress!, ldq: width, k: kp.baseAddress!, v: vp.baseAddress!, ldk: kvWidth,
                                         kvHeadStride: c.headDim, out: op.baseAddress!, ldo: width,
                                         keyLo: [Int](repeating: c.keyLo, count: c.queries),
                                         keyHi: [Int](repeating: c.keyHi, count: c.queries),
                                         scale: 1 / Float(c.headDim).squareRoot(), softcap: nil)
                p.allowFused = fused
                try Attention.run(p)
            }
        }}}
        return out
    }

    func reference(_ c: Case, q: [Float], k: [Float], v: [Float]) -> [Double] {
        let width = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        let scale = Double(1 / Float(c.headDim).squareRoot())
        var out = [Double](repeating: 0, count: c.queries * width)
        for i in 0..<c.queries {
            for h in 0..<c.heads {
                let g = h / (c.heads / c.kvHeads)
                var scores = [Double]()
                for j in c.keyLo..<c.keyHi {
                    var s = 0.0
                    for d in 0..<c.headDim { s += Double(q[i * width + h * c.headDim + d]) * Double(k[j * kvWidth + g * c.headDim + d]) }
                    scores.append(s * scale)
                }
                let m = scores.max()!
                let e = scores.map { Foundation.exp($0 - m) }
                let z = e.reduce(0, +)
                for (n, j) in (c.keyLo..<c.keyHi).enumerated() {
                    for d in 0..<c.headDim { out[i * width + h * c.headDim + d] += e[n] / z * Double(v[j * kvWidth + g * c.headDim + d]) }
                }
            }
        }
        return out
    }

    func testFusedMatchesReferenceAndScoreMatrixPath() throws {
        let cases = [
            Case(queries: 300, heads: 4, kvHeads: 4, headDim: 72, keyLo: 0, keyHi: 300, keyCount: 300),
            Case(queries: 77, heads: 4, kvHeads: 2, headDim: 72, keyLo: 13, keyHi: 700, keyCount: 700, growth: 0.004),
            Case(queries: 64, heads: 2, kvHeads: 1, headDim: 16, keyLo: 0, keyHi: 1000, keyCount: 1000, growth: 0.003, magnitude: 3),
            Case(queries: 129, heads: 2, kvHeads: 2, headDim: 80, keyLo: 0, keyHi: 65, keyCount: 65),
            Case(queries: 100, heads: 3, kvHeads: 3, headDim: 40, keyLo: 0, keyHi: 520, keyCount: 520, magnitude: 4),
        ]
        for c in cases {
            var g = TestRandom(s: UInt64(c.queries * 31 + c.headDim))
            let q = (0..<(c.queries * c.heads * c.headDim)).map { _ in g.next() * c.magnitude }
            var k = [Float](), v = [Float]()
            for j in 0..<c.keyCount {
                for _ in 0..<(c.kvHeads * c.headDim) {
                    k.append(g.next() * c.magnitude * (1 + c.growth * Float(j)))
                    v.append(g.next())
                }
            }
            let expected = reference(c, q: q, k: k, v: v)
            let fused = try run(c, fused: true, q: q, k: k, v: v)
            let matrix = try run(c, fused: false, q: q, k: k, v: v)
            var worstFused = 0.0, worstMatrix = 0.0, worstBetween: Float = 0
            for i in expected.indices {
                worstFused = max(worstFused, abs(Double(fused[i]) - expected[i]))
                worstMatrix = max(worstMatrix, abs(Double(matrix[i]) - expected[i]))
                worstBetween = max(worstBetween, abs(fused[i] - matrix[i]))
            }
            XCTAssertLessThan(worstFused, 2e-5, "fused vs float64, \(c)")
            XCTAssertLessThan(worstMatrix, 2e-5, "score matrix vs float64, \(c)")
            XCTAssertLessThan(worstBetween, 2e-5, "fused vs score matrix, \(c)")
            XCTAssertFalse(fused.contains { !$0.isFinite }, "\(c)")
        }
    }

    /// Where the CPU has the fused kernel, the vision-tower shape takes it (and the same problem with per-query
    /// ranges does not): the two paths are told apart by the bits of their results.
    func testVisionShapeTakesTheFusedPathWhereAvailable() throws {
        let c = Case(queries: 256, heads: 2, kvHeads: 2, headDim: 72, keyLo: 0, keyHi: 512, keyCount: 512, growth: 0.002)
        var g = TestRandom(s: 5)
        let q = (0..<(c.queries * c.heads * c.headDim)).map { _ in g.next() }
        let k = (0..<(c.keyCount * c.heads * c.headDim)).map { _ in g.next() }
        let v = (0..<(c.keyCount * c.heads * c.headDim)).map { _ in g.next() }
        let fused = try run(c, fused: true, q: q, k: k, v: v)
        let matrix = try run(c, fused: false, q: q, k: k, v: v)
        if Attention.fusedAvailable(headDim: 72) {
            XCTAssertNotEqual(fused, matrix, "the fused kernel sums in another order, so some bits differ")
        } else {
            XCTAssertEqual(fused, matrix, "without the fused kernel both requests take the score-matrix path")
        }
        XCTAssertFalse(Attention.fusedAvailable(headDim: 256), "heads over 80 wide keep the score-matrix path")
    }
}
