import Foundation
import ModelFiles
import Tensor
import XCTest

/// `generate` on broken inputs: a clear message naming the file or tensor, a non-zero exit, no trap.
final class GenerateBadInputTests: XCTestCase {
    let fixture = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3-text/sliding-gqa")

    /// A copy of the tiny fixture model that a test may break.
    func modelCopy() throws -> URL {
        let dir = try CLI.tempDir()
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        return dir
    }

    func expectFailure(_ args: [String], mentioning needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLI.run(args)
        XCTAssertNotEqual(r.status, 0, "expected a failure exit, got 0; stdout: \(r.stdout)", file: file, line: line)
        XCTAssertLessThan(r.status, 128, "terminated by a signal (trap): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stdout.isEmpty, "no JSON on failure: \(r.stdout)", file: file, line: line)
        for n in needles {
            XCTAssertTrue(r.stderr.contains(n), "stderr should mention '\(n)': \(r.stderr)", file: file, line: line)
        }
    }

    func testMissingModel() throws {
        try expectFailure(["generate", "--model", "/nonexistent/model-dir", "--prompt", "hi"], mentioning: ["/nonexistent/model-dir"])
    }

    func testMissingConfig() throws {
        let dir = try modelCopy()
        try FileManager.default.removeItem(at: dir.appendingPathComponent("config.json"))
        try expectFailure(["generate", "--model", dir.path, "--prompt", "hi"], mentioning: ["config.json"])
    }

    func testUnknownArchitecture() throws {
        let dir = try modelCopy()
        let url = dir.appendingPathComponent("config.json")
        var cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        cfg["model_type"] = "llama"
        try JSONSerialization.data(withJSONObject: cfg).write(to: url)
        try expectFailure(["generate", "--model", dir.path, "--prompt", "hi"], mentioning: ["llama", "config.json"])
    }

    func testTruncatedSafetensors() throws {
        let dir = try modelCopy()
        let url = dir.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        try expectFailure(["generate", "--model", dir.path, "--prompt", "hi"], mentioning: ["model.safetensors"])
    }

    func testHeaderThatLiesAboutOffsets() throws {
        let dir = try modelCopy()
        let url = dir.appendingPathComponent("model.safetensors")
        try writeRawSafetensors(url, header: #"{"model.embed_tokens.weight":{"dtype":"F32","shape":[512,64],"data_offsets":[0,99999999]}}"#,
                                dataBytes: 512 * 64 * 4)
        try expectFailure(["generate", "--model", dir.path, "--prompt", "hi"], mentioning: ["model.safetensors", "model.embed_tokens.weight"])
    }

    /// A safetensors file with a hand-written header followed by `dataBytes` zero bytes.
    func writeRawSafetensors(_ url: URL, header: String, dataBytes: Int) throws {
        var bytes = Data()
        var n = UInt64(header.utf8.count).littleEndian
        bytes.append(Data(bytes: &n, count: 8))
        bytes.append(Data(header.utf8))
        bytes.append(Data(count: dataBytes))
        try bytes.write(to: url)
    }

    /// Rewrites the fixture with one tensor replaced.
    func rewrite(_ dir: URL, replacing name: String, with tensor: Tensor) throws {
        let url = dir.appendingPathComponent("model.safetensors")
        let src = try SafeTensorsFile(url: fixture.appendingPathComponent("model.safetensors"))
        var list: [(name: String, tensor: Tensor)] = []
        for n in src.names { list.append((n, n == name ? tensor : try src.tensor(n))) }
        try SafeTensorsWriter.write(list, to: url)
    }

    func testTensorOfWrongShape() throws {
        let dir = try modelCopy()
        try rewrite(dir, replacing: "model.layers.1.self_attn.q_proj.weight", with: Tensor(zeros: [100, 64]))
        try expectFailure(["generate", "--model", dir.path, "--prompt", "hi"],
                          mentioning: ["model.layers.1.self_attn.q_proj.weight", "[128, 64]", "[100, 64]"])
    }

    func testTensorOfUnsupportedDType() throws {
        let dir = try modelCopy()
        let url = dir.appendingPathComponent("model.safetensors")
        try writeRawSafetensors(url, header: #"{"model.embed_tokens.weight":{"dtype":"I8","shape":[512,64],"data_offsets":[0,32768]}}"#,
                                dataBytes: 32768)
        try expectFailure(["generate", "--model", dir.path, "--prompt", "hi"], mentioning: ["model.embed_tokens.weight", "I8"])
    }

    func testUnreadableTokenizer() throws {
        let dir = try modelCopy()
        try Data("{\"model\": {\"type\": \"BPE\", \"vocab\": ".utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        try expectFailure(["generate", "--model", dir.path, "--prompt", "hi"], mentioning: ["tokenizer.json"])
    }

    func testMissingTokenizer() throws {
        let dir = try modelCopy()
        try expectFailure(["generate", "--model", dir.path, "--prompt", "hi"], mentioning: ["tokenizer.json"])
    }

    func testNotAGGUF() throws {
        let dir = try CLI.tempDir()
        let f = dir.appendingPathComponent("model.gguf")
        try Data("this is not a model".utf8).write(to: f)
        try expectFailure(["generate", "--model", f.path, "--prompt", "hi"], mentioning: ["model.gguf"])
    }

    func testNegativeTokenLimitIsRejected() throws {
        try expectFailure(["generate", "--model", fixture.path, "--prompt", "hi", "--max-new-tokens", "-3"], mentioning: ["max-new-tokens"])
    }
}
