import Foundation
@testable import Tensor
import XCTest

/// `--quantize w8a8` products against an exact reference written here: activations quantised per row to int8
/// (absmax / 127, round half to even), weights per output row likewise, integer sums in Int64, both scales
/// applied in Double. The int8 units' path (where this CPU has VNNI) and the float32 fallback path (every
/// CPU) must both match it, across column tiles, with and without accumulation, into a wider output.
final class W8A8ProductTests: XCTestCase {
    private func quantizeRow(_ row: ArraySlice<Float>) -> (codes: [Int64], scale: Double) {
        let absmax = row.map { abs($0) }.max() ?? 0
        let scale = absmax / 127
        guard scale > 0 else { return (row.map { _ in 0 }, 0) }
        return (row.map { Int64(min(127, max(-127, ($0 / scale).rounded(.toNearestOrEven)))) }, Double(scale))
    }

    private func reference(x: [Float], w: [Float], m: Int, n: Int, k: Int) -> [Double] {
        let xs = (0..<m).map { quantizeRow(x[($0 * k)..<(($0 + 1) * k)]) }
        let ws = (0..<n).map { quantizeRow(w[($0 * k)..<(($0 + 1) * k)]) }
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum: Int64 = 0
                for p in 0..<k { sum += xs[i].codes[p] * ws[j].codes[p] }
                out[i * n + j] = Double(sum) * xs[i].scale * ws[j].scale
            }
        }
        return out
    }

    private func check(m: Int, n: Int, k: Int, native: Bool, tile: Int?, accumulate: Bool, ld extra: Int = 0,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        var r = TestRandom(s: UInt64(m * 1_000_003 + n * 101 + k))
        // Rows of very different magnitudes (per-token scales matter), one all-zero row.
        let x = (0..<(m * k)).map { i -> Float in i / k == 1 ? 0 : r.next() * Float(1 + (i / k) % 5) * 3 }
        let wv = (0..<(n * k)).map { _ in r.next() * 0.05 }
        let weight = try Tensor(wv, shape: [n, k]).converted(to: .bf16)
        let wf = weight.floats()  // the bf16-rounded weights the quantiser sees
        let q = try QuantizedMatrix.quantize(weight, scheme: .w8a8)
        XCTAssertEqual(q.scheme, .w8a8)
        let expected = reference(x: x, w: wf, m: m, n: n, k: k)
        let ldc = n + extra
        var out = (0..<(m * ldc)).map { Float($0 % 7) - 3 }
        let before = out
        try x.withUnsafeBufferPointer { xp in
            try out.withUnsafeMutableBufferPointer { op in
                try MatMul.linearW8A8(xp.baseAddress!, rows: m, weight: q, out: op.baseAddress!, ldOut: ldc, accumulate: accumulate,
                                      native: native, tile: tile)
            }
        }
        var worst = 0.0, scale = 0.0
        for i in 0..<m {
            for j in 0..<ldc {
                let got = Double(out[i * ldc + j])
                if j >= n {
                    XCTAssertEqual(out[i * ldc + j], before[i * ldc + j], "column \(j) beyond the output was written", file: file, line: line)
                    continue
                }
                let want = expected[i * n + j] + (accumulate ? Double(before[i * ldc + j]) : 0)
                worst = max(worst, abs(got - want))
                scale = max(scale, abs(want))
            }
        }
        // Exact integer sums on the int8 units leave float32 rounding of the scaling only; the float32 path
        // rounds the sums too (k ≤ 300 products of |q| ≤ 127: far below float32's 2^24 exact range here).
        XCTAssertLessThanOrEqual(worst, 2e-6 * max(scale, 1), "m \(m) n \(n) k \(k) native \(native) tile \(tile ?? 0)", file: file, line: line)
    }

    func testFallbackPathMatchesTheExactReference() throws {
        for (m, n, k) in [(1, 33, 70), (7, 130, 64), (65, 96, 300)] {
            try check(m: m, n: n, k: k, native: false, tile: nil, accumulate: false)
            try check(m: m, n: n, k: k, native: false, tile: nil, accumulate: true, ld: 5)
        }
    }

    func testInt8UnitsMatchTheExactReference() throws {
        try XCTSkipUnless(MatMul.int8Native, "this CPU has no VNNI (AVX-512 VNNI, AVX-VNNI or AMX-INT8): only the float32 path runs here")
        for (m, n, k) in [(1, 33, 70), (7, 130, 64), (65, 96, 300), (300, 200, 129)] {
            try check(m: m, n: n, k: k, native: true, tile: nil, accumulate: false)
            try check(m: m, n: n, k: k, native: true, tile: 64, accumulate: true, ld: 3)
        }
    }

    /// Through the public entry point (`MatMul.linear(quantized:)`), whichever path this CPU takes.
    func testPublicEntryPointIsTheW8A8Product() throws {
        let m = 9, n = 40, k = 48
        var r = TestRandom(s: 7)
        let x = (0..<(m * k)).map { _ in r.next() }
        let w = try Tensor((0..<(n * k)).map { _ in r.next() * 0.1 }, shape: [n, k])
        let q8 = try QuantizedMatrix.quantize(w, scheme: .int8)
        let qa = try QuantizedMatrix.quantize(w, scheme: .w8a8)
        XCTAssertEqual(q8.rowScales, qa.rowScales, "w8a8 keeps int8's weights")
        var viaLinear = [Float](repeating: 0, count: m * n), weightOnly = viaLinear
        try x.withUnsafeBufferPointer { xp in
            try viaLinear.withUnsafeMutableBufferPointer { try MatMul.linear(xp.baseAddress!, rows: m, quantized: qa, out: $0.baseAddress!) }
            try weightOnly.withUnsafeMutableBufferPointer { try MatMul.linear(xp.baseAddress!, rows: m, quantized: q8, out: $0.baseAddress!) }
        }
        let expected = reference(x: x, w: w.floats(), m: m, n: n, k: k)
        for i in 0..<(m * n) { XCTAssertEqual(Double(viaLinear[i]), expected[i], accuracy: 2e-6 * max(abs(expected[i]), 1)) }
        // Quantising the activations moves the product, but only by about their quantisation step.
        let moved = zip(viaLinear, weightOnly).map { abs($0 - $1) }.max() ?? 0
        XCTAssertGreaterThan(moved, 0, "w8a8 quantises the activations")
        XCTAssertLessThan(moved, 0.05)
    }

    func testTileCoversTheOutputsWithinItsBudget() {
        XCTAssertEqual(MatMul.w8a8Tile(rows: 1, outputs: 10240), 10240)
        XCTAssertEqual(MatMul.w8a8Tile(rows: 1024, outputs: 4304), 4304, "64 MB of int32 sums hold it whole")
        // The vision tower's fc1 (4096 patches × 4304): two equal tiles, not 4096 + 208.
        let t = MatMul.w8a8Tile(rows: 4096, outputs: 4304)
        XCTAssertEqual(t, 2176)
        XCTAssertEqual(t % 64, 0)
        XCTAssertLessThanOrEqual(4096 * t * 4, 64 << 20)
        XCTAssertEqual(MatMul.w8a8Tile(rows: 10_000_000, outputs: 500), 64, "never fewer than 64 columns")
    }
}
