import XCTest
@testable import Tensor

/// The tensor layer against plain double-precision reference computations.
final class TensorKernelTests: XCTestCase {
    struct LCG {
        var s: UInt64
        mutating func next() -> Float {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: s >> 11) % 2_000_001) / 1_000_000 - 1
        }
    }

    func testBF16AndF16RoundToNearestEven() {
        // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to even (1).
        XCTAssertEqual(Convert.bf16ToFloat(Convert.floatToBF16(1 + 0x1p-8)), 1)
        XCTAssertEqual(Convert.bf16ToFloat(Convert.floatToBF16(1 + 3 * 0x1p-8)), 1 + 0x1p-6)
        XCTAssertTrue(Convert.bf16ToFloat(Convert.floatToBF16(.nan)).isNaN)
        XCTAssertEqual(Convert.bf16ToFloat(Convert.floatToBF16(.infinity)), .infinity)
        // f16: exhaustive round trip of every non-NaN bit pattern.
        for bits in 0..<UInt16.max where (bits & 0x7c00) != 0x7c00 || (bits & 0x3ff) == 0 {
            let f = Convert.f16ToFloat(bits)
            let back = Convert.floatToF16(f)
            XCTAssertEqual(back, bits, "f16 bits \(bits)")
            if back != bits { break }
        }
        XCTAssertEqual(Convert.f16ToFloat(0x3c00), 1)
        XCTAssertEqual(Convert.f16ToFloat(0x0001), 0x1p-24)
        XCTAssertEqual(Convert.floatToF16(70000), 0x7c00, "overflow to infinity")
    }

    func reference(_ x: [Float], rows: Int, _ w: [Float], out n: Int, in k: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * n)
        for r in 0..<rows { for o in 0..<n { var s = 0.0; for i in 0..<k { s += Double(x[r * k + i]) * Double(w[o * k + i]) }; y[r * n + o] = s } }
        return y
    }

    func testLinearForEveryWeightTypeAndMode() throws {
        var g = LCG(s: 1)
        for (rows, n, k) in [(1, 300, 70), (3, 17, 64), (40, 513, 96)] {
            let x = (0..<(rows * k)).map { _ in g.next() }
            let wf = (0..<(n * k)).map { _ in g.next() }
            let w32 = try Tensor(wf, shape: [n, k])
            for dtype in DType.allCases {
                let w = w32.converted(to: dtype)
                let ref = reference(x, rows: rows, w.floats(), out: n, in: k)
                for mode in ComputeMode.allCases {
                    var out = [Float](repeating: 0, count: rows * n)
                    try x.withUnsafeBufferPointer { xp in
                        try out.withUnsafeMutableBufferPointer { op in
                            try MatMul.linear(xp.baseAddress!, rows: rows, weight: w, out: op.baseAddress!, mode: mode)
                        }
                    }
                    let err = zip(out, ref).map { abs(Double($0) - $1) }.max()!
                    // bf16 arithmetic rounds the activations too (rows > smallRows); float32 is exact to 1e-5.
                    let bound = (mode == .bf16 && dtype == .bf16 && rows > MatMul.smallRows) ? 0.05 : 1e-4
                    XCTAssertLessThan(err, bound, "\(dtype) \(mode) \(rows)x\(n)x\(k)")
                }
            }
        }
    }

    /// The widened float32 paths for 16-bit weights at the sizes that pick them: per-core 256-row tiles (tens of
    /// rows) and shared 16 MB tiles (from 1024 rows; this weight needs two), accumulating into a wider output.
    /// Entries are sampled against a float64 reference.
    func testWidenedProductsAccumulateIntoWiderOutput() throws {
        var g = LCG(s: 3)
        let n = 2100, k = 2048, ld = n + 5
        let wf = (0..<(n * k)).map { _ in g.next() }
        for rows in [40, 1030] {
            XCTAssertGreaterThan(rows, MatMul.smallRows)
            let x = (0..<(rows * k)).map { _ in g.next() }
            for dtype in [DType.bf16, .f16] {
                let w = try Tensor(wf, shape: [n, k]).converted(to: dtype)
                let wr = w.floats()
                let start = (0..<(rows * ld)).map { Float($0 % 7) }
                var out = start
                try x.withUnsafeBufferPointer { xp in
                    try out.withUnsafeMutableBufferPointer { op in
                        try MatMul.linear(xp.baseAddress!, rows: rows, weight: w, out: op.baseAddress!, ldOut: ld, accumulate: true, mode: .f32)
                    }
                }
                var worst = 0.0, checked = 0
                for r in stride(from: 0, to: rows, by: 13) {
                    for o in stride(from: r % 11, to: n, by: 37) {
                        var s = Double(start[r * ld + o])
                        for i in 0..<k { s += Double(x[r * k + i]) * Double(wr[o * k + i]) }
                        worst = max(worst, abs(Double(out[r * ld + o]) - s))
                        checked += 1
                    }
                }
                XCTAssertGreaterThan(checked, 200)
                XCTAssertLessThan(worst, 1e-3, "\(dtype) \(rows) rows")
                // The padding columns between rows are left alone.
                for r in 0..<rows { for c in n..<ld { XCTAssertEqual(out[r * ld + c], start[r * ld + c]) } }
            }
        }
    }

    /// One to four rows times a bf16 weight (decoding, label scoring): the register-widening kernel on AVX-512
    /// CPUs, against a float64 reference and against the widened-tile sgemm it replaces, with inner sizes off
    /// the 16-lane step, output counts off the 4-row step, a wider output and accumulation.
    func testFewRowBF16ProductsMatchReferenceAndWidenedPath() throws {
        var g = LCG(s: 5)
        let usesKernel = MatMul.gemvBF16
        defer { MatMul.gemvBF16 = usesKernel }
        for (n, k) in [(13, 37), (1030, 2560), (7, 16), (262, 1)] {
            let w = try Tensor((0..<(n * k)).map { _ in g.next() }, shape: [n, k]).converted(to: .bf16)
            let wr = w.floats()
            let ld = n + 3
            for rows in 1...MatMul.smallRows {
                let x = (0..<(rows * k)).map { _ in g.next() }
                let start = (0..<(rows * ld)).map { Float($0 % 5) - 2 }
                for accumulate in [false, true] {
                    var results: [[Float]] = []
                    for kernel in [true, false] {
                        MatMul.gemvBF16 = kernel && usesKernel
                        var out = start
                        try x.withUnsafeBufferPointer { xp in
                            try out.withUnsafeMutableBufferPointer { op in
                                try MatMul.linear(xp.baseAddress!, rows: rows, weight: w, out: op.baseAddress!, ldOut: ld,
                                                  accumulate: accumulate, mode: .f32)
                            }
                        }
                        var worst = 0.0
                        for r in 0..<rows {
                            for o in 0..<n {
                                var s = accumulate ? Double(start[r * ld + o]) : 0
                                for i in 0..<k { s += Double(x[r * k + i]) * Double(wr[o * k + i]) }
                                worst = max(worst, abs(Double(out[r * ld + o]) - s))
                            }
                            for c in n..<ld { XCTAssertEqual(out[r * ld + c], start[r * ld + c], "padding \(r) \(c)") }
                        }
                        XCTAssertLessThan(worst, 1e-3 * max(1, Double(k).squareRoot() / 16), "\(rows)x\(n)x\(k) kernel \(kernel) accumulate \(accumulate)")
                        results.append(out)
                    }
                    let apart = zip(results[0], results[1]).map { abs($0 - $1) }.max()!
                    XCTAssertLessThan(apart, 1e-3, "kernel against widened tiles, \(rows)x\(n)x\(k)")
                }
            }
        }
    }

    func testBlockedAttentionWithRangesMatchesNaive() throws {
        var g = LCG(s: 7)
        let t = 150, heads = 4, kvHeads = 2, hd = 16
        let q = (0..<(t * heads * hd)).map { _ in g.next() }
        let k = (0..<(t * kvHeads * hd)).map { _ in g.next() }
        let v = (0..<(t * kvHeads * hd)).map { _ in g.next() }
        // Sliding window 20 plus a bidirectional block 30..<90 (the image-token pattern), one empty row.
        var lo = [Int](), hi = [Int]()
        for i in 0..<t {
            lo.append(max(0, i - 19))
            hi.append((30..<90).contains(i) ? 90 : i + 1)
        }
        lo[5] = 5; hi[5] = 5
        for bf16 in [false, true] {
            var out = [Float](repeating: 1, count: t * heads * hd)
            try q.withUnsafeBufferPointer { qp in try k.withUnsafeBufferPointer { kp in try v.withUnsafeBufferPointer { vp in
                try out.withUnsafeMutableBufferPointer { op in
                    var p = AttentionProblem(queries: t, heads: heads, kvHeads: kvHeads, headDim: hd, q: qp.baseAddress!, ldq: heads * hd,
                                             k: kp.baseAddress!, v: vp.baseAddress!, ldk: kvHeads * hd, kvHeadStride: hd,
                                             out: op.baseAddress!, ldo: heads * hd, keyLo: lo, keyHi: hi, scale: 0.25, softcap: nil)
                    p.bf16Products = bf16
                    try Attention.run(p)
                }
            }}}
            var worst = 0.0
            for i in 0..<t {
                for h in 0..<heads {
                    let kvh = h / (heads / kvHeads)
                    var ref = [Double](repeating: 0, count: hd)
                    if lo[i] < hi[i] {
                        var scores = [Double]()
                        for j in lo[i]..<hi[i] {
                            var s = 0.0
                            for d in 0..<hd { s += Double(q[i * heads * hd + h * hd + d]) * Double(k[j * kvHeads * hd + kvh * hd + d]) }
                            scores.append(s * 0.25)
                        }
                        let m = scores.max()!
                        let e = scores.map { exp($0 - m) }
                        let z = e.reduce(0, +)
                        for (n, j) in (lo[i]..<hi[i]).enumerated() {
                            for d in 0..<hd { ref[d] += e[n] / z * Double(v[j * kvHeads * hd + kvh * hd + d]) }
                        }
                    }
                    for d in 0..<hd { worst = max(worst, abs(Double(out[i * heads * hd + h * hd + d]) - ref[d])) }
                }
            }
            XCTAssertLessThan(worst, bf16 ? 2e-2 : 1e-5, "bf16 products: \(bf16)")
        }
    }

    func testSoftmaxAndElementwiseKernels() {
        var row: [Float] = [1, 2, -.infinity, 3] + [Float](repeating: 0.5, count: 29)
        Ops.softmax(&row, rows: 1, cols: row.count, rowStride: row.count)
        XCTAssertEqual(row[2], 0)
        XCTAssertEqual(Double(row.reduce(0, +)), 1, accuracy: 1e-6)
        let denom = exp(1.0) + exp(2.0) + exp(3.0) + 29 * exp(0.5)
        XCTAssertEqual(Double(row[3]), exp(3.0) / denom, accuracy: 1e-6)
        var masked: [Float] = [-.infinity, -.infinity]
        Ops.softmax(&masked, rows: 1, cols: 2, rowStride: 2)
        XCTAssertEqual(masked, [0, 0])
        var xs: [Float] = stride(from: -6, through: 6, by: 0.37).map { Float($0) }
        let expected = xs.map { x -> Double in
            let xd = Double(x)
            return 0.5 * xd * (1 + tanh(0.7978845608028654 * (xd + 0.044715 * xd * xd * xd)))
        }
        Ops.geluTanh(&xs, count: xs.count)
        for (a, b) in zip(xs, expected) { XCTAssertEqual(Double(a), b, accuracy: 2e-6) }
        var capped: [Float] = [-100, -1, 0, 1, 100]
        Ops.softcap(&capped, count: 5, cap: 3)
        XCTAssertEqual(Double(capped[4]), 3, accuracy: 1e-6)
        XCTAssertEqual(Double(capped[3]), 3 * tanh(1.0 / 3), accuracy: 1e-6)
    }
}
