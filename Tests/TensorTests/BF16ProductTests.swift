import Tensor
import XCTest

/// bf16 products on CPUs without oneDNN bf16 kernels (AVX2 only) are widened to float32 panel by panel.
/// Both paths must give the product of the bf16 operands with float32 accumulation, for every operand
/// layout the engine uses (transposed or not), with and without accumulation into C, across panel edges.
final class BF16ProductTests: XCTestCase {
    private func bf16(_ x: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: x.count)
        Convert.fromFloat(x, into: &out, dtype: .bf16, count: x.count)
        return out
    }

    private func widen(_ x: [UInt16]) -> [Double] {
        x.map { Double(Float(bitPattern: UInt32($0) << 16)) }
    }

    /// C = op(A)·op(B) (+ C) with op(A) [m, k], op(B) [k, n], in double precision from the bf16 values.
    private func reference(_ a: [UInt16], _ b: [UInt16], m: Int, n: Int, k: Int, transA: Bool, transB: Bool,
                           c0: [Float], beta: Float) -> [Double] {
        let ad = widen(a), bd = widen(b)
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? ad[p * m + i] : ad[i * k + p]
                    let bv = transB ? bd[j * k + p] : bd[p * n + j]
                    s += av * bv
                }
                out[i * n + j] = s + Double(beta) * Double(c0[i * n + j])
            }
        }
        return out
    }

    private func run(widened: Bool, _ a: [UInt16], _ b: [UInt16], m: Int, n: Int, k: Int, transA: Bool,
                     transB: Bool, c0: [Float], beta: Float) -> (Int32, [Float]) {
        BF16Products.forceWidened(widened)
        defer { BF16Products.forceWidened(false) }
        var c = c0
        let lda = transA ? m : k, ldb = transB ? k : n
        do {
            try MatMul.gemmBF16(transA: transA, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, transB: transB,
                                beta: beta, c: &c, ldc: n)
        } catch let error as GEMMError {
            return (error.status, c)
        } catch {
            return (-1, c)
        }
        return (0, c)
    }

    func testWidenedProductsMatchTheReferenceAndTheNativeKernels() throws {
        var g = TestRandom(s: 11)
        // The last two shapes cross the widened path's panels (4 Mi floats per operand): rows of A, then
        // columns of B, split into several panels.
        let shapes = [(1, 37, 64), (5, 9, 130), (33, 70, 17), (1500, 3, 3000), (2, 1500, 3000)]
        for (m, n, k) in shapes {
            let a = bf16((0..<(m * k)).map { _ in g.next() })
            let b = bf16((0..<(k * n)).map { _ in g.next() })
            let c0 = (0..<(m * n)).map { _ in g.next() }
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta: Float in [0, 1] {
                        let ref = reference(a, b, m: m, n: n, k: k, transA: transA, transB: transB, c0: c0, beta: beta)
                        let scale = sqrt(Double(k))
                        let (wrc, wide) = run(widened: true, a, b, m: m, n: n, k: k, transA: transA, transB: transB,
                                              c0: c0, beta: beta)
                        XCTAssertEqual(wrc, 0)
                        let werr = zip(wide, ref).map { abs(Double($0) - $1) }.max() ?? 0
                        // float32 accumulation of k exact products: error a few ulps of √k-sized sums.
                        XCTAssertLessThan(werr, 2e-6 * scale * Double(k).squareRoot() + 1e-5,
                                          "widened \(m)x\(n)x\(k) tA \(transA) tB \(transB) beta \(beta)")
                        let (nrc, nat) = run(widened: false, a, b, m: m, n: n, k: k, transA: transA, transB: transB,
                                             c0: c0, beta: beta)
                        XCTAssertEqual(nrc, 0, "native path (or its fallback) on this CPU")
                        let nerr = zip(nat, wide).map { abs($0 - $1) }.max() ?? 0
                        XCTAssertLessThan(Double(nerr), 2e-6 * scale * Double(k).squareRoot() + 1e-5,
                                          "native vs widened \(m)x\(n)x\(k) tA \(transA) tB \(transB) beta \(beta)")
                    }
                }
            }
        }
        print("bf16 products on this CPU: \(BF16Products.native ? "native oneDNN kernels" : "widened to float32")")
    }
}
