import Foundation
import Tensor
import XCTest

/// Speed of one vision-tower attention (4096 patches, 16 heads of 72, bidirectional) on the fused kernel and
/// on the score-matrix path, when `DSA_ATTENTION_BENCH` is set; skipped otherwise. Prints milliseconds per
/// layer and GFLOP/s (best of five each). PyTorch's figure for the same shape: `tools/bench_torch_attention.py`.
final class AttentionSpeedTests: XCTestCase {
    func testVisionAttentionSpeed() throws {
        guard ProcessInfo.processInfo.environment["DSA_ATTENTION_BENCH"] != nil else {
            throw XCTSkip("set DSA_ATTENTION_BENCH=1 to measure")
        }
        let t = 4096, heads = 16, hd = 72, width = heads * hd
        var g = TestRandom(s: 11)
        let q = (0..<(t * width)).map { _ in g.next() }
        let k = (0..<(t * width)).map { _ in g.next() }
        let v = (0..<(t * width)).map { _ in g.next() }
        var results: [Bool: [Float]] = [:]
        for fused in [true, false] {
            var out = [Float](repeating: 0, count: t * width)
            var best = Double.infinity
            for _ in 0..<5 {
                try q.withUnsafeBufferPointer { qp in try k.withUnsafeBufferPointer { kp in try v.withUnsafeBufferPointer { vp in
                    try out.withUnsafeMutableBufferPointer { op in
                        var p = AttentionProblem(queries: t, heads: heads, kvHeads: heads, headDim: hd, q: qp.baseAddress!, ldq: width,
                                                 k: kp.baseAddress!, v: vp.baseAddress!, ldk: width, kvHeadStride: hd,
                                                 out: op.baseAddress!, ldo: width, keyLo: [Int](repeating: 0, count: t),
                                                 keyHi: [Int](repeating: t, count: t), scale: 1 / Float(hd).squareRoot(), softcap: nil)
                        p.allowFused = fused
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        try Attention.run(p)
                        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                    }
                }}}
            }
            let flop = 4.0 * Double(t) * Double(t) * Double(hd) * Double(heads)
            let path = fused ? (Attention.fusedAvailable(headDim: hd) ? "fused" : "fused (unavailable: score matrix)") : "score matrix"
            print(String(format: "vision attention, %@: %.1f ms per layer, %.0f GFLOP/s, x27 = %.2f s",
                         path, best * 1e3, flop / best / 1e9, 27 * best))
            results[fused] = out
        }
        let a = results[true]!, b = results[false]!
        XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max()!, 1e-5)
    }
}
