import Foundation
import TestSupport
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor

/// Weight-only int8 and NF4 quantisation against tools/make_quantization_fixtures.py: NF4 codes, double-
/// quantised block scales and dequantised values of the NumPy recipe (checked there against bitsandbytes'
/// quantize_4bit), int8 codes and scales, tiled quantised products, and the tiny VLM's logits with
/// quantised bases against transformers run on the same dequantised weights.
final class QuantizationTests: XCTestCase {
    static let dir = Fixtures.url("quantization")

    func npy(_ f: String) throws -> NPYArray { try NPYFile.read(Self.dir.appendingPathComponent(f)) }
    func floats(_ f: String) throws -> [Float] { try npy(f).floats() }
    func bytes(_ f: String) throws -> [UInt8] {
        guard case .uint8(let a) = try npy(f).data else { XCTFail("\(f) is not uint8"); return [] }
        return a
    }

    func matrix(_ dtype: DType = .f32) throws -> Tensor {
        let t = try Tensor(try floats("matrix.npy"), shape: [96, 384])
        return dtype == .f32 ? t : t.converted(to: dtype)
    }

    func testCodeTables() throws {
        XCTAssertEqual(QuantizedMatrix.nf4Values, try floats("nf4_code.npy"))
        XCTAssertEqual(QuantizedMatrix.dynamicCode, try floats("dynamic_code.npy"))
    }

    func checkNF4(_ q: QuantizedMatrix, _ label: String) throws {
        let exp = try Fixtures.json("quantization/expected.json")
        let packed = try bytes("nf4_packed.npy")
        let stored = Array(UnsafeBufferPointer(start: q.codes.base.assumingMemoryBound(to: UInt8.self), count: q.codes.byteCount))
        XCTAssertEqual(stored, packed, "\(label): packed 4-bit codes")
        XCTAssertEqual(q.absmaxCodes, try bytes("nf4_absmax_codes.npy"), "\(label): 8-bit absmax codes")
        let s2 = try floats("nf4_absmax_scales.npy")
        XCTAssertEqual(q.absmaxScales.count, s2.count)
        for (a, b) in zip(q.absmaxScales, s2) { XCTAssertEqual(a, b, accuracy: 1e-6 * b, "\(label): second-level scale") }
        let offset = Float(truncating: try XCTUnwrap(exp["nf4_offset"] as? NSNumber))
        XCTAssertEqual(q.absmaxOffset, offset, accuracy: 1e-6 * offset)
        let deq = q.dequantized().floats()
        let (d, s) = maxAbsDiff(deq, try floats("nf4_dequantized.npy"))
        XCTAssertLessThanOrEqual(d, 1e-6 * s, "\(label): dequantised values")
        // bitsandbytes itself: the same 4-bit codes; its 8-bit absmax search takes the neighbouring code at a
        // near-tie in at most 1% of the blocks, which moves those blocks by under 1% of their absmax.
        let theirs = try bytes("nf4_absmax_codes_bitsandbytes.npy")
        let differ = zip(q.absmaxCodes, theirs).filter { $0 != $1 }
        XCTAssertLessThanOrEqual(differ.count, theirs.count / 100)
        XCTAssertTrue(differ.allSatisfy { abs(Int($0) - Int($1)) == 1 })
        let (db, sb) = maxAbsDiff(deq, try floats("nf4_dequantized_bitsandbytes.npy"))
        XCTAssertLessThanOrEqual(db, 0.01 * sb, "\(label): against bitsandbytes' dequantisation")
    }

    func testNF4MatchesReferenceFromFloat32() throws {
        try checkNF4(try QuantizedMatrix.quantize(try matrix(), scheme: .nf4), "f32 weight")
    }

    func testNF4MatchesReferenceFromBF16() throws {
        // The fixture's values are bf16-representable, so a bf16 weight quantises identically.
        try checkNF4(try QuantizedMatrix.quantize(try matrix(.bf16), scheme: .nf4), "bf16 weight")
    }

    func testNF4Layout() throws {
        let q = try QuantizedMatrix.quantize(try matrix(), scheme: .nf4)
        XCTAssertEqual(q.codes.byteCount, 96 * 384 / 2)
        XCTAssertEqual(q.absmaxCodes.count, 96 * 384 / 64)
        XCTAssertEqual(q.absmaxScales.count, 3)  // 576 blocks in groups of 256
        // 4 bits per weight + 8 bits per 64 weights + 32 bits per 16384 weights
        XCTAssertEqual(q.byteCount, 18432 + 576 + 12)
        // The all-zero block (row 10, columns 64..<128) dequantises to exact zeros.
        let deq = q.dequantized().floats()
        XCTAssertTrue(deq[(10 * 384 + 64)..<(10 * 384 + 128)].allSatisfy { $0 == 0 })
    }

    func testInt8MatchesReference() throws {
        let w = try matrix()
        let q = try QuantizedMatrix.quantize(w, scheme: .int8)
        let codes = Array(UnsafeBufferPointer(start: q.codes.base.assumingMemoryBound(to: Int8.self), count: 96 * 384)).map(Float.init)
        XCTAssertEqual(codes, try floats("int8_codes.npy"))
        XCTAssertEqual(q.rowScales, try floats("int8_scales.npy"))
        XCTAssertEqual(q.byteCount, 96 * 384 + 96 * 4)
        // Round trip: every element within half a step of its row (plus float rounding).
        let deq = q.dequantized().floats(), orig = w.floats()
        for r in 0..<96 {
            let step = q.rowScales[r]
            for c in 0..<384 {
                XCTAssertLessThanOrEqual(abs(deq[r * 384 + c] - orig[r * 384 + c]), 0.5 * step * (1 + 1e-5), "row \(r)")
            }
            // absmax is exact: the largest element maps to ±127 steps.
            XCTAssertEqual(orig[(r * 384)..<(r * 384 + 384)].map(abs).max()!, 127 * step, accuracy: 1e-6 * 127 * step)
        }
    }

    func testNoneIsRefused() {
        XCTAssertThrowsError(try QuantizedMatrix.quantize(Tensor(zeros: [4, 64]), scheme: .none))
        XCTAssertThrowsError(try QuantizedMatrix.quantize(Tensor(zeros: [64]), scheme: .nf4))
    }

    /// The tiled quantised product equals the dense product of the dequantised matrix, for one-row (parallel
    /// tiles) and many-row (threaded GEMM per tile) shapes, in float32 and bf16.
    func testQuantizedProductMatchesDense() throws {
        let w = try matrix()
        var rng = SplitMix64(seed: 8)
        for scheme in [QuantizationScheme.int8, .nf4] {
            let q = try QuantizedMatrix.quantize(w, scheme: scheme)
            let dense = q.dequantized()
            for m in [1, 3, 5, 70] {
                let x = try Tensor((0..<(m * 384)).map { _ in rng.nextFloat() * 2 - 1 }, shape: [m, 384])
                let ref = Tensor(zeros: [m, 96])
                try MatMul.linear(x.f32, rows: m, weight: dense, out: ref.f32, mode: .f32)
                for mode in ComputeMode.allCases {
                    let out = Tensor(zeros: [m, 96])
                    try MatMul.linear(x.f32, rows: m, quantized: q, out: out.f32, mode: mode)
                    let (d, s) = maxAbsDiff(out.floats(), ref.floats())
                    let bound: Float = mode == .f32 || m <= MatMul.smallRows ? 1e-5 : 1e-2
                    XCTAssertLessThanOrEqual(d, bound * s, "\(scheme) m=\(m) \(mode)")
                }
            }
        }
    }

    /// The tiny VLM with quantised bases (float32 arithmetic) against transformers on the same dequantised
    /// weights: logits at every prompt position on the probe ids within 1e-3 relative.
    func testTinyModelLogitsWithQuantisedBase() throws {
        let dirURL = try TestPaths.modelWithTokenizer(Fixtures.url("gemma3-vlm/model"))
        let exp = try Fixtures.json("quantization/expected.json")
        let results = try XCTUnwrap((exp["vlm"] as? [String: Any])?["results"] as? [String: [String: Any]])
        let plain = try ModelLoader.load(path: dirURL.path, computeMode: .f32)
        let plainLogits = try probeLogits(plain)
        for scheme in [QuantizationScheme.int8, .nf4] {
            let m = try ModelLoader.load(path: dirURL.path, computeMode: .f32, quantization: scheme)
            let layers = m.linearLayers.values
            XCTAssertEqual(layers.filter { $0.quantized?.scheme == scheme }.count,
                           (results[scheme.rawValue]?["quantised_linear_layers"] as? NSNumber)?.intValue)
            XCTAssertTrue(layers.allSatisfy { $0.quantized != nil })
            let logits = try probeLogits(m)
            let (d, s) = maxAbsDiff(logits, try floats("vlm_\(scheme.rawValue)_logits_probe.npy"))
            XCTAssertLessThanOrEqual(d, 1e-3 * s, "\(scheme): probe logits (max |Δ| \(d))")
            // The quantisation error itself (large for this 32-wide random model; see docs/QUANTIZATION.md): the
            // distance from the unquantised model is transformers' own distance between its two runs.
            let (dq, _) = maxAbsDiff(logits, plainLogits)
            let refPlain = try NPYFile.read(Fixtures.url("gemma3-vlm/at-size/logits_probe.npy")).floats()
            let (dRef, sRef) = maxAbsDiff(try floats("vlm_\(scheme.rawValue)_logits_probe.npy"), refPlain)
            XCTAssertGreaterThan(dq, 0, "\(scheme): quantisation changed nothing")
            XCTAssertEqual(dq, dRef, accuracy: 2e-3 * sRef, "\(scheme): distance from the unquantised logits")
        }
    }

    func probeLogits(_ m: LoadedModel) throws -> [Float] {
        let caseExp = try Fixtures.json("gemma3-vlm/at-size/expected.json")
        let ids = ints(caseExp["input_ids"])
        let vision = try XCTUnwrap(m.vision)
        let pixels = try NPYFile.read(Fixtures.url("gemma3-vlm/at-size/pixel_values.npy")).floats()
        let feats = try vision.imageTokens(pixelValues: pixels)
        let prompt = try m.model.promptInput(ids: ids, imageTokens: [feats], imageTokenID: vision.settings.imageTokenID)
        let cache = try m.model.makeCache(tokens: ids.count)
        let h = try m.model.forward(embeddings: prompt.embeddings, cache: cache, extraVisible: prompt.extraVisible)
        let probe = ints(caseExp["probe_ids"])
        let selected = try m.model.logits(h, forTokens: probe).floats()
        // The full-vocabulary product (sliced over the output layer for quantised models) agrees on those ids.
        let full = try m.model.logits(try h.rows((ids.count - 1)..<ids.count)).floats()
        XCTAssertEqual(m.model.releasesOutputLayerPages, m.linearLayers.values.first?.quantized != nil)
        let lastRow = Array(selected[((ids.count - 1) * probe.count)...])
        let (d, s) = maxAbsDiff(probe.map { full[$0] }, lastRow)
        XCTAssertLessThanOrEqual(d, 1e-5 * max(s, 1), "full-vocabulary logits")
        return selected
    }
}
