import Foundation
import XCTest

/// `dsa-triage merge`: keeps the base's dtypes unless told otherwise, says so when told to narrow, and
/// needs no tokenizer.json in the base.
final class MergeCommandTests: XCTestCase {
    let base = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3-vlm/model")
    let adapter = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/lora/qv-rslora")

    func testDefaultKeepsTheBaseDTypesWithoutATokenizer() throws {
        let out = try CLI.tempDir().appendingPathComponent("merged")
        let r = try CLI.run(["merge", "--model", base.path, "--adapter", adapter.path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("narrows"), r.stderr)
        // The fixture stores embeddings as bf16 and everything else as float32; both stay.
        XCTAssertTrue(r.stdout.contains("\"dtype\":\"bf16,f32\""), r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("preprocessor_config.json").path))
    }

    func testNarrowingIsAnnounced() throws {
        let out = try CLI.tempDir().appendingPathComponent("merged")
        let r = try CLI.run(["merge", "--model", base.path, "--adapter", adapter.path, "--out", out.path, "--dtype", "bf16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("note: --dtype bf16 narrows"), r.stderr)
        // Widening (or keeping) is silent.
        let out2 = try CLI.tempDir().appendingPathComponent("merged")
        let r2 = try CLI.run(["merge", "--model", base.path, "--adapter", adapter.path, "--out", out2.path, "--dtype", "f32"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(r2.stderr, "")
    }
}
