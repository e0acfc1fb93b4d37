import Foundation
import LoRA
import TestSupport
import Triage
import XCTest

/// Fingerprints equal the merge command's and are reused only while the weight files are unchanged.
final class ModelFingerprintTests: XCTestCase {
    func testCachedFingerprintFollowsTheFiles() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("fp-\(UUID().uuidString)")
        let model = root.appendingPathComponent("model"), cache = root.appendingPathComponent("cache")
        try fm.createDirectory(at: model, withIntermediateDirectories: true)
        try fm.copyItem(at: TestPaths.fixture("gemma3-vlm/model/model.safetensors"), to: model.appendingPathComponent("model.safetensors"))
        let reference = try AdapterMerger.fingerprint(modelDirectory: model)
        XCTAssertEqual(try ModelFingerprint.of(path: model.path, cacheDirectory: cache), reference)
        let entries = try fm.contentsOfDirectory(atPath: cache.path)
        XCTAssertEqual(entries.count, 1)
        // The stored entry is what a second run returns (proved by planting a different value).
        let entryURL = cache.appendingPathComponent(entries[0])
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: entryURL)) as? [String: Any])
        json["fingerprint"] = "planted"
        try JSONSerialization.data(withJSONObject: json).write(to: entryURL)
        XCTAssertEqual(try ModelFingerprint.of(path: model.path, cacheDirectory: cache), "planted")
        // Touching a weight file invalidates it.
        try fm.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: model.appendingPathComponent("model.safetensors").path)
        XCTAssertEqual(try ModelFingerprint.of(path: model.path, cacheDirectory: cache), reference)
        // No cache: computed every time; a missing model is an error naming it.
        XCTAssertEqual(try ModelFingerprint.of(path: model.path, cacheDirectory: nil), reference)
        XCTAssertThrowsError(try ModelFingerprint.of(path: "/nonexistent/model", cacheDirectory: cache)) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/model"))
        }
    }
}
