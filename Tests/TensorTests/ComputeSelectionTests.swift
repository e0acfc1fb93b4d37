import Foundation
@testable import Tensor
import XCTest

/// `--compute auto`: the choice follows the measured rates (float32 kept on near-ties), is cached per
/// machine and shape set, survives a corrupt cache, and the measured rates are real products' rates.
final class ComputeSelectionTests: XCTestCase {
    private var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("compute-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testChoiceFollowsTheRatesAndPrefersExactOnNearTies() {
        func m(_ blas: Double, _ dnnl: Double, _ bf16: Double) -> [ComputeMeasurement] {
            [ComputeMeasurement(mode: .f32, library: .openblas, gflops: blas, perShape: [blas]),
             ComputeMeasurement(mode: .f32, library: .onednn, gflops: dnnl, perShape: [dnnl]),
             ComputeMeasurement(mode: .bf16, library: .onednn, gflops: bf16, perShape: [bf16])]
        }
        func pick(_ x: [ComputeMeasurement]) -> String {
            let (mode, library) = ComputeAutoSelector.choose(x, exactPreference: 1.05)
            return "\(mode.rawValue)/\(library.rawValue)"
        }
        XCTAssertEqual(pick(m(100, 90, 104)), "f32/openblas")
        XCTAssertEqual(pick(m(100, 90, 106)), "bf16/openblas")
        XCTAssertEqual(pick(m(80, 286, 145)), "f32/onednn")
        XCTAssertEqual(pick(m(68, 60, 140)), "bf16/openblas")
    }

    func testSelectionIsMeasuredOnceThenCachedPerShapeSet() throws {
        let cache = dir.appendingPathComponent("choice.json")
        let shapes = [GEMMShape(rows: 64, outputs: 96, inputs: 128), GEMMShape(rows: 64, outputs: 128, inputs: 96)]
        let first = try ComputeAutoSelector(cacheFile: cache, secondsPerShape: 0.02).select(shapes: shapes)
        XCTAssertFalse(first.fromCache)
        XCTAssertEqual(first.measurements.map(\.family), ["f32/openblas", "f32/onednn", "bf16"])
        XCTAssertTrue(first.measurements.allSatisfy { $0.gflops > 0.01 && $0.perShape.count == shapes.count })
        let (mode, library) = ComputeAutoSelector.choose(first.measurements, exactPreference: 1.05)
        XCTAssertEqual(first.mode, mode)
        XCTAssertEqual(first.sgemmLibrary, library)
        XCTAssertEqual(MatMul.sgemmLibrary, .openblas, "measuring leaves the process's library as it was")
        XCTAssertTrue(first.machine.contains("oneDNN"), first.machine)
        XCTAssertTrue(first.summary.contains("measured now"))

        let selector = ComputeAutoSelector(cacheFile: cache, secondsPerShape: 0.02)
        let again = try selector.select(shapes: shapes)
        XCTAssertTrue(again.fromCache)
        XCTAssertEqual(again.mode, first.mode)
        XCTAssertEqual(again.measurements, first.measurements)
        XCTAssertEqual(selector.lastSelection?.mode, first.mode)
        XCTAssertTrue(again.summary.contains("cached"))

        let other = try selector.select(shapes: [GEMMShape(rows: 32, outputs: 64, inputs: 64)])
        XCTAssertFalse(other.fromCache, "another shape set is measured")
        let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: cache)) as? [String: Any]
        XCTAssertEqual(stored?.count, 2)
    }

    func testCorruptOrUnwritableCacheOnlyCostsAMeasurement() throws {
        let cache = dir.appendingPathComponent("choice.json")
        try Data("{not json".utf8).write(to: cache)
        let shapes = [GEMMShape(rows: 16, outputs: 32, inputs: 32)]
        let s = try ComputeAutoSelector(cacheFile: cache, secondsPerShape: 0.01).select(shapes: shapes)
        XCTAssertFalse(s.fromCache)
        XCTAssertTrue(try ComputeAutoSelector(cacheFile: cache, secondsPerShape: 0.01).select(shapes: shapes).fromCache, "rewritten")
        let blocked = dir.appendingPathComponent("file-not-folder")
        try Data().write(to: blocked)
        let u = try ComputeAutoSelector(cacheFile: blocked.appendingPathComponent("choice.json"), secondsPerShape: 0.01).select(shapes: shapes)
        XCTAssertFalse(u.fromCache)
    }

    /// The rate is the products' rate: timing the same shape by hand in float32 gives the same order of magnitude.
    func testMeasuredRateMatchesAHandTiming() throws {
        let shape = GEMMShape(rows: 128, outputs: 256, inputs: 256)
        let measured = try ComputeAutoSelector.measure(mode: .f32, library: .openblas, shapes: [shape], seconds: 0.05)
        let weight = Tensor(zeros: [256, 256], dtype: .bf16)
        let x = [Float](repeating: 0.25, count: 128 * 256)
        var out = [Float](repeating: 0, count: 128 * 256)
        let reps = 20
        let start = Date()
        for _ in 0..<reps { try x.withUnsafeBufferPointer { xp in try out.withUnsafeMutableBufferPointer { op in
            try MatMul.linear(xp.baseAddress!, rows: 128, weight: weight, out: op.baseAddress!, mode: .f32) } } }
        let hand = shape.flops * Double(reps) / Date().timeIntervalSince(start) / 1e9
        XCTAssertGreaterThan(measured.gflops, hand / 10)
        XCTAssertLessThan(measured.gflops, hand * 10)
    }
}
