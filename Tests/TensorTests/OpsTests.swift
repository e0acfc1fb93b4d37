import Foundation
import XCTest
@testable import Tensor

/// Tensor's operations (`Ops`, the transposed and bf16 products of `MatMul`) against plain double-precision
/// references on small inputs: each forward against its formula, each backward against central differences
/// of that formula (the gradient of L = Σ dy · f(x)).
final class OpsTests: XCTestCase {
    /// Deterministic values in [-1, 1).
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in rng.nextFloat() * 2 - 1 }
    }

    /// ∂/∂x of Σᵢ dy[i] · f(x)[i] by central differences in double precision.
    static func numericGradient(_ x: [Float], dy: [Float], _ f: ([Double]) -> [Double]) -> [Double] {
        let h = 1e-5
        var grad = [Double](repeating: 0, count: x.count)
        let base = x.map(Double.init)
        for j in 0..<x.count {
            var plus = base, minus = base
            plus[j] += h
            minus[j] -= h
            let fp = f(plus), fm = f(minus)
            var s = 0.0
            for i in 0..<fp.count { s += Double(dy[i]) * (fp[i] - fm[i]) }
            grad[j] = s / (2 * h)
        }
        return grad
    }

    func assertClose(_ a: [Float], _ b: [Double], _ tol: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let worst = zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThan(worst, tol, what, file: file, line: line)
    }

    // MARK: references

    static func rmsNormRef(_ x: [Double], rows: Int, dim: Int, w: [Double], addOne: Double, eps: Double) -> [Double] {
        var y = x
        for r in 0..<rows {
            let row = x[(r * dim)..<((r + 1) * dim)]
            let inv = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(dim) + eps).squareRoot()
            for i in 0..<dim { y[r * dim + i] = x[r * dim + i] * inv * (addOne + w[i]) }
        }
        return y
    }

    static func layerNormRef(_ x: [Double], rows: Int, dim: Int, w: [Double], b: [Double], eps: Double) -> [Double] {
        var y = x
        for r in 0..<rows {
            let row = Array(x[(r * dim)..<((r + 1) * dim)])
            let mean = row.reduce(0, +) / Double(dim)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(dim)
            let inv = 1 / (variance + eps).squareRoot()
            for i in 0..<dim { y[r * dim + i] = (row[i] - mean) * inv * w[i] + b[i] }
        }
        return y
    }

    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) }

    // MARK: norms

    func testRMSNormForwardAndBackward() {
        let rows = 3, dim = 37, eps: Float = 1e-6
        let x = Self.values(rows * dim, seed: 1), w = Self.values(dim, seed: 2), dy = Self.values(rows * dim, seed: 3)
        for addOne: Float in [1, 0] {
            var y = [Float](repeating: 0, count: rows * dim)
            Ops.rmsNorm(x, rows: rows, dim: dim, weight: w, addOne: addOne, eps: eps, into: &y)
            let ref = { (v: [Double]) in
                Self.rmsNormRef(v, rows: rows, dim: dim, w: w.map(Double.init), addOne: Double(addOne), eps: Double(eps))
            }
            assertClose(y, ref(x.map(Double.init)), 1e-5, "rmsNorm forward, addOne \(addOne)")

            var dx = [Float](repeating: 0, count: rows * dim)
            var dw = [Float](repeating: 0.5, count: dim)  // accumulated onto
            Ops.rmsNormBackward(x, dy: dy, rows: rows, dim: dim, weight: w, addOne: addOne, eps: eps, dx: &dx, dWeight: &dw)
            assertClose(dx, Self.numericGradient(x, dy: dy, ref), 1e-4, "rmsNorm dx, addOne \(addOne)")
            let dwRef = Self.numericGradient(w, dy: dy) { wv in
                Self.rmsNormRef(x.map(Double.init), rows: rows, dim: dim, w: wv, addOne: Double(addOne), eps: Double(eps))
            }
            assertClose(dw, dwRef.map { $0 + 0.5 }, 1e-4, "rmsNorm dw, addOne \(addOne)")
        }
    }

    func testRMSNormInPlaceAndWithoutWeightGradient() {
        let rows = 2, dim = 16
        let x = Self.values(rows * dim, seed: 4), w = Self.values(dim, seed: 5), dy = Self.values(rows * dim, seed: 6)
        var y = [Float](repeating: 0, count: rows * dim)
        Ops.rmsNorm(x, rows: rows, dim: dim, weight: w, eps: 1e-6, into: &y)
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { p in
            // Cannot fire: the array is not empty.
            Ops.rmsNorm(p.baseAddress!, rows: rows, dim: dim, weight: w, eps: 1e-6, into: p.baseAddress!)
        }
        XCTAssertEqual(inPlace, y)
        var dx = [Float](repeating: 0, count: rows * dim), dxAliased = dy
        Ops.rmsNormBackward(x, dy: dy, rows: rows, dim: dim, weight: w, eps: 1e-6, dx: &dx, dWeight: nil)
        dxAliased.withUnsafeMutableBufferPointer { p in
            // Cannot fire: the array is not empty.
            Ops.rmsNormBackward(x, dy: p.baseAddress!, rows: rows, dim: dim, weight: w, eps: 1e-6, dx: p.baseAddress!, dWeight: nil)
        }
        XCTAssertEqual(dxAliased, dx)
    }

    func testLayerNormForwardAndBackward() {
        let rows = 3, dim = 29, eps: Float = 1e-6
        let x = Self.values(rows * dim, seed: 7), w = Self.values(dim, seed: 8), b = Self.values(dim, seed: 9)
        let dy = Self.values(rows * dim, seed: 10)
        let ref = { (v: [Double]) in
            Self.layerNormRef(v, rows: rows, dim: dim, w: w.map(Double.init), b: b.map(Double.init), eps: Double(eps))
        }
        var y = [Float](repeating: 0, count: rows * dim)
        Ops.layerNorm(x, rows: rows, dim: dim, weight: w, bias: b, eps: eps, into: &y)
        assertClose(y, ref(x.map(Double.init)), 1e-5, "layerNorm forward")

        var dx = [Float](repeating: 0, count: rows * dim)
        var dw = [Float](repeating: 0, count: dim), db = [Float](repeating: 0, count: dim)
        Ops.layerNormBackward(x, dy: dy, rows: rows, dim: dim, weight: w, eps: eps, dx: &dx, dWeight: &dw, dBias: &db)
        assertClose(dx, Self.numericGradient(x, dy: dy, ref), 1e-4, "layerNorm dx")
        let dwRef = Self.numericGradient(w, dy: dy) { wv in
            Self.layerNormRef(x.map(Double.init), rows: rows, dim: dim, w: wv, b: b.map(Double.init), eps: Double(eps))
        }
        assertClose(dw, dwRef, 1e-4, "layerNorm dw")
        var dbRef = [Double](repeating: 0, count: dim)
        for r in 0..<rows { for i in 0..<dim { dbRef[i] += Double(dy[r * dim + i]) } }
        assertClose(db, dbRef, 1e-5, "layerNorm db")
    }

    // MARK: activations

    func testGeluTanhForwardAndBackward() {
        let n = 53
        let x = Self.values(n, seed: 11).map { $0 * 4 }, dy = Self.values(n, seed: 12)
        var y = x
        Ops.geluTanh(&y, count: n)
        assertClose(y, x.map { Self.gelu(Double($0)) }, 2e-6, "gelu forward")
        var dx = [Float](repeating: 0, count: n)
        Ops.geluTanhBackward(x, dy: dy, dx: &dx, count: n)
        assertClose(dx, Self.numericGradient(x, dy: dy) { $0.map(Self.gelu) }, 1e-4, "gelu backward")
    }

    func testGeluTanhMulForwardAndBackward() {
        let n = 41
        let gate = Self.values(n, seed: 13).map { $0 * 3 }, up = Self.values(n, seed: 14), dOut = Self.values(n, seed: 15)
        var out = [Float](repeating: 0, count: n)
        Ops.geluTanhMul(gate: gate, up: up, into: &out, count: n)
        assertClose(out, (0..<n).map { Self.gelu(Double(gate[$0])) * Double(up[$0]) }, 2e-6, "gelu·up forward")
        var dGate = [Float](repeating: 0, count: n), dUp = [Float](repeating: 0, count: n)
        Ops.geluTanhMulBackward(gate: gate, up: up, dOut: dOut, dGate: &dGate, dUp: &dUp, count: n)
        let dGateRef = Self.numericGradient(gate, dy: dOut) { g in (0..<n).map { Self.gelu(g[$0]) * Double(up[$0]) } }
        let dUpRef = Self.numericGradient(up, dy: dOut) { u in (0..<n).map { Self.gelu(Double(gate[$0])) * u[$0] } }
        assertClose(dGate, dGateRef, 1e-4, "gelu·up dGate")
        assertClose(dUp, dUpRef, 1e-4, "gelu·up dUp")
    }

    // MARK: rotary embedding

    func testRotaryForwardAndBackward() {
        let rows = 3, heads = 2, headDim = 8, half = headDim / 2, stride = heads * headDim + 3
        var cosT = [Float](), sinT = [Float]()
        for r in 0..<rows {
            for i in 0..<half {
                let angle = Float(r + 1) * powf(10_000, -Float(2 * i) / Float(headDim))
                cosT.append(cosf(angle))
                sinT.append(sinf(angle))
            }
        }
        let ref = { (v: [Double]) -> [Double] in
            var y = v
            for r in 0..<rows {
                for h in 0..<heads {
                    let o = r * stride + h * headDim
                    for i in 0..<half {
                        let c = Double(cosT[r * half + i]), s = Double(sinT[r * half + i])
                        y[o + i] = v[o + i] * c - v[o + i + half] * s
                        y[o + i + half] = v[o + i + half] * c + v[o + i] * s
                    }
                }
            }
            return y
        }
        let x = Self.values(rows * stride, seed: 16), dy = Self.values(rows * stride, seed: 17)
        var y = x
        Ops.rope(&y, rows: rows, heads: heads, headDim: headDim, cos: cosT, sin: sinT, rowStride: stride)
        assertClose(y, ref(x.map(Double.init)), 1e-6, "rope forward (padding past the heads untouched)")
        var dx = dy
        Ops.ropeBackward(&dx, rows: rows, heads: heads, headDim: headDim, cos: cosT, negatedSin: sinT.map { -$0 }, rowStride: stride)
        // The padding columns are not rotated: their gradient passes through unchanged, as the reference says.
        assertClose(dx, Self.numericGradient(x, dy: dy, ref), 1e-5, "rope backward")
    }

    // MARK: soft-capping and softmax

    func testSoftcapForwardAndBackward() {
        let n = 23, cap: Float = 5
        let x = Self.values(n, seed: 18).map { $0 * 20 }, dy = Self.values(n, seed: 19)
        let ref = { (v: [Double]) in v.map { Double(cap) * tanh($0 / Double(cap)) } }
        var capped = x
        Ops.softcap(&capped, count: n, cap: cap)
        assertClose(capped, ref(x.map(Double.init)), 2e-6, "softcap forward")
        var d = dy
        Ops.softcapBackward(capped: capped, dy: &d, count: n, cap: cap)
        assertClose(d, Self.numericGradient(x, dy: dy, ref), 1e-4, "softcap backward")
    }

    func testSoftmaxForwardAndBackward() {
        let rows = 3, cols = 19, stride = 21
        let x = Self.values(rows * stride, seed: 20).map { $0 * 4 }, dp = Self.values(rows * cols, seed: 21)
        let ref = { (v: [Double]) -> [Double] in
            var p = [Double](repeating: 0, count: rows * cols)
            for r in 0..<rows {
                let row = (0..<cols).map { v[r * stride + $0] }
                let m = row.max() ?? 0
                let e = row.map { exp($0 - m) }, s = e.reduce(0, +)
                for j in 0..<cols { p[r * cols + j] = e[j] / s }
            }
            return p
        }
        var p = x
        Ops.softmax(&p, rows: rows, cols: cols, rowStride: stride)
        let dense = (0..<rows).flatMap { r in (0..<cols).map { p[r * stride + $0] } }
        assertClose(dense, ref(x.map(Double.init)), 1e-6, "softmax forward")
        for r in 0..<rows { XCTAssertEqual(p[r * stride + cols], x[r * stride + cols], "entries past cols untouched") }
        var ds = [Float](repeating: 0, count: rows * cols)
        Ops.softmaxBackward(dense, dp: dp, ds: &ds, rows: rows, cols: cols)
        let numeric = Self.numericGradient(x, dy: dp, ref)
        let numericDense = (0..<rows).flatMap { r in (0..<cols).map { numeric[r * stride + $0] } }
        assertClose(ds, numericDense, 1e-5, "softmax backward")
    }

    // MARK: element-wise

    func testElementwiseOps() {
        let x = Self.values(10, seed: 22), y0 = Self.values(10, seed: 23)
        var y = y0
        Ops.add(x, into: &y, count: 10)
        XCTAssertEqual(y, zip(y0, x).map { $0 + $1 })
        var m = Self.values(6, seed: 24)
        let bias: [Float] = [1, -2, 0.5]
        let m0 = m
        Ops.addBias(bias, into: &m, rows: 2, cols: 3)
        XCTAssertEqual(m, (0..<6).map { m0[$0] + bias[$0 % 3] })
        var s = x
        Ops.scale(&s, count: 10, by: 0.25)
        XCTAssertEqual(s, x.map { $0 * 0.25 })
        XCTAssertEqual(Ops.argmax([1, 3, -1, 3, 2], count: 5), 1, "first maximum")
        XCTAssertEqual(Ops.argmax([.nan, -5, -1], count: 3), 2, "NaN never wins")
    }

    // MARK: products

    func testTransposedAndAccumulatingProducts() throws {
        let m = 5, n = 7, k = 6
        let a = Self.values(m * k, seed: 25), aT = (0..<(k * m)).map { a[($0 % m) * k + $0 / m] }  // aT [k, m]
        let b = Self.values(k * n, seed: 26), c0 = Self.values(m * n, seed: 27)
        var ref = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { ref[i * n + j] += Double(a[i * k + p]) * Double(b[p * n + j]) } } }
        // C = 0.5 · A B + C0 with A passed as its transpose [k, m] (`transA`): the form of dW += dYᵀ X.
        var c = c0
        try MatMul.gemm(transA: true, m: m, n: n, k: k, alpha: 0.5, a: aT, lda: m, b: b, ldb: n, transB: false, beta: 1, c: &c, ldc: n)
        assertClose(c, (0..<(m * n)).map { 0.5 * ref[$0] + Double(c0[$0]) }, 1e-5, "transposed-A accumulating product")
        var cp = [Float](repeating: 0, count: m * n)
        try MatMul.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, transB: false, c: &cp, ldc: n, insideParallelLoop: true)
        assertClose(cp, ref, 1e-5, "product inside a parallel loop")
    }

    func testBF16AccumulatingProduct() throws {
        let m = 5, n = 7, k = 6
        let a = Self.values(m * k, seed: 25), b = Self.values(k * n, seed: 26), c0 = Self.values(m * n, seed: 27)
        // bf16 operands: the reference multiplies the bf16-rounded values exactly.
        let ab = a.map(Convert.floatToBF16), bb = b.map(Convert.floatToBF16)
        var rb = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                for p in 0..<k { rb[i * n + j] += Double(Convert.bf16ToFloat(ab[i * k + p])) * Double(Convert.bf16ToFloat(bb[p * n + j])) }
            }
        }
        var cb = c0
        try MatMul.gemmBF16(m: m, n: n, k: k, a: ab, lda: k, b: bb, ldb: n, transB: false, beta: 1, c: &cb, ldc: n)
        assertClose(cb, (0..<(m * n)).map { rb[$0] + Double(c0[$0]) }, 1e-5, "bf16 accumulating product")
    }
}
