import Foundation
import Tensor
import TestSupport
import XCTest

/// `--compute auto` through the command: a bf16 copy of the demo model gets the arithmetic measured on its
/// shapes (named with the rates by `triage --verbose`), the second run reads the cached choice and decides the
/// same; a forced `--compute` and float32 weights say so.
final class ComputeAutoTests: XCTestCase {
    static let demo = TestPaths.packageRoot.appendingPathComponent("models/demo")

    /// The demo model with every float32 tensor narrowed to bf16 (round to nearest even), other files copied.
    static func bf16Copy(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: demo.path) where name != "model.safetensors" {
            try FileManager.default.copyItem(at: demo.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let data = try Data(contentsOf: demo.appendingPathComponent("model.safetensors"))
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
        let body = data.subdata(in: (8 + headerLength)..<data.count)
        var newHeader: [String: Any] = [:]
        var newBody = Data()
        for name in header.keys.sorted() where name != "__metadata__" {
            let entry = try XCTUnwrap(header[name] as? [String: Any])
            let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
            var bytes = body.subdata(in: offsets[0]..<offsets[1])
            var dtype = try XCTUnwrap(entry["dtype"] as? String)
            if dtype == "F32" {
                let floats = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                bytes = floats.map(Convert.floatToBF16).withUnsafeBufferPointer { Data(buffer: $0) }
                dtype = "BF16"
            }
            newHeader[name] = ["dtype": dtype, "shape": entry["shape"] ?? [], "data_offsets": [newBody.count, newBody.count + bytes.count]]
            newBody.append(bytes)
        }
        if let meta = header["__metadata__"] { newHeader["__metadata__"] = meta }
        var json = try JSONSerialization.data(withJSONObject: newHeader, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(newBody)
        try out.write(to: folder.appendingPathComponent("model.safetensors"))
    }

    func testAutoMeasuresOnceThenUsesTheCachedChoice() throws {
        let dir = ExternalTool.temporaryPath("compute-auto")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("demo-bf16")
        try Self.bf16Copy(to: model)
        let cache = dir.appendingPathComponent("choice.json")
        let env = ["DSA_TRIAGE_COMPUTE_CACHE": cache.path]
        let input = TestPaths.packageRoot.appendingPathComponent("samples/angiograms/dicom/case_0001_native.dcm").path

        let first = try CLI.run(["triage", "--model", model.path, "--verbose", input], environment: env)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("(auto: f32/openblas "), first.stderr)
        XCTAssertTrue(first.stderr.contains(", f32/onednn "), first.stderr)
        XCTAssertTrue(first.stderr.contains("GFLOP/s on the model's shapes; measured now)"), first.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache.path))
        let chosen = try XCTUnwrap(["f32", "bf16"].flatMap { m in ["openblas", "onednn"].map { "\(m) with float32 products through \($0)" } }
            .first { first.stderr.contains("compute \($0) (auto:") }, first.stderr)

        let second = try CLI.run(["triage", "--model", model.path, "--verbose", input], environment: env)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("compute \(chosen) (auto:"), second.stderr)
        XCTAssertTrue(second.stderr.contains("; cached)"), second.stderr)
        func decision(_ out: String) throws -> String? {
            (try JSONSerialization.jsonObject(with: Data(out.split(separator: "\n")[0].utf8)) as? [String: Any])?["decision"] as? String
        }
        XCTAssertEqual(try decision(first.stdout), try decision(second.stdout))

        let forced = try CLI.run(["triage", "--model", model.path, "--verbose", "--compute", "bf16", input], environment: env)
        XCTAssertTrue(forced.stderr.contains("compute bf16 (forced by --compute)"), forced.stderr)
        let f32Weights = try CLI.run(["triage", "--model", Self.demo.path, "--verbose", input], environment: env)
        XCTAssertTrue(f32Weights.stderr.contains("compute f32 (the weights' dtype)"), f32Weights.stderr)
        // The opt-in int8 path is named with what runs it on this CPU, and decides as float32 does on a sample.
        let w8a8 = try CLI.run(["triage", "--model", Self.demo.path, "--verbose", "--quantize", "w8a8", input], environment: env)
        XCTAssertEqual(w8a8.status, 0, w8a8.stderr)
        let unit = MatMul.int8Native ? "int32 sums on the int8 units" : "multiplied in float32: this CPU has no VNNI"
        XCTAssertTrue(w8a8.stderr.contains("compute f32 (the weights' dtype); linear layers: w8a8 (int8 weights and activations, \(unit))"),
                      w8a8.stderr)
        XCTAssertEqual(try decision(w8a8.stdout), try decision(f32Weights.stdout))
        let bad = try CLI.run(["triage", "--model", model.path, "--compute", "fast", input], environment: env)
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("--compute must be auto, f32 or bf16"), bad.stderr)
    }
}
