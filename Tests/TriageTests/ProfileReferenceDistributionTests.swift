import Foundation
import ModelFiles
import TestSupport
@testable import Triage
import XCTest

/// The optional `reference_distribution` key of a task profile: old profiles stay valid and keep their
/// identity (content hash), a reference round-trips, and a bad one is refused naming the field.
final class ProfileReferenceDistributionTests: XCTestCase {
    /// SHA-256 of the shipped default profile's canonical JSON, computed outside Swift (Python's json.dumps
    /// with indent 2, sorted keys and " : " separators, as JSONEncoder's pretty, sorted output): the hash job
    /// keys and SRs carried before the key existed.
    static let defaultProfileHash = "ee5634f704a9af429791da1709e3975f43b64c3180ddaf5bdeee9cc515ea2e23"

    func testProfilesWithoutAReferenceKeepTheirHash() throws {
        let shipped = try TaskProfile.load(path: TestPaths.packageRoot.appendingPathComponent("profiles/default-task-profile.json").path)
        XCTAssertNil(shipped.referenceDistribution)
        XCTAssertEqual(try shipped.contentHash(), Self.defaultProfileHash)
        XCTAssertEqual(try TaskProfile.standard.contentHash(), Self.defaultProfileHash)
        XCTAssertFalse(String(decoding: try shipped.jsonData(), as: UTF8.self).contains("reference_distribution"))
        // The hash is the whole canonical JSON's, as before.
        XCTAssertEqual(try shipped.contentHash(), SHA256Hasher.hex(of: try shipped.jsonData()))
    }

    func testAReferenceRoundTripsAndLeavesTheHashAlone() throws {
        var p = TaskProfile.standard
        p.referenceDistribution = ProfileReferenceDistribution(source: "evaluation run", pBlocked: [0.1, 0.42, 0.9], meanGray: [101.5, 99],
                                                               dynamicRange: [180, 200], frameCount: [12, 30])
        let data = try p.jsonData()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let ref = try XCTUnwrap(object["reference_distribution"] as? [String: Any])
        XCTAssertEqual(Set(ref.keys), ["source", "p_blocked", "mean_gray", "dynamic_range", "frame_count"])
        XCTAssertEqual(ref["p_blocked"] as? [Double], [0.1, 0.42, 0.9])
        let back = try TaskProfile.decode(data, source: "written.json")
        XCTAssertEqual(back, p)
        XCTAssertEqual(try back.contentHash(), Self.defaultProfileHash, "a reference changes no decision, so not the profile's identity")
        XCTAssertNotEqual(SHA256Hasher.hex(of: data), Self.defaultProfileHash)
        // An explicit null is the same as no key.
        var text = String(decoding: try TaskProfile.standard.jsonData(), as: UTF8.self)
        text.removeLast()  // the closing brace
        text += ", \"reference_distribution\": null}"
        XCTAssertNil(try TaskProfile.decode(Data(text.utf8), source: "null.json").referenceDistribution)
    }

    func testABadReferenceIsRefusedNamingTheField() throws {
        func load(_ reference: String) -> String {
            var text = String(decoding: (try? TaskProfile.standard.jsonData()) ?? Data(), as: UTF8.self)
            text.removeLast()
            text += ", \"reference_distribution\": \(reference)}"
            do {
                _ = try TaskProfile.decode(Data(text.utf8), source: "p.json")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let cases: [(String, String)] = [
            (#"{"p_blocked": [0.2, 1.4]}"#, "reference_distribution.p_blocked"),
            (#"{"p_blocked_bins": [3]}"#, "reference_distribution.p_blocked_bins"),
            (#"{"mean_gray": [300]}"#, "reference_distribution.mean_gray"),
            (#"{"frame_count": [0]}"#, "reference_distribution.frame_count"),
            (#"{"skipped_share": 0.7, "unreadable_share": 0.4}"#, "reference_distribution.skipped_share"),
            (#"{"p_blocekd": [0.2]}"#, "did you mean \"p_blocked\""),
            (#"{"p_blocked": "0.2"}"#, "reference_distribution.p_blocked"),
            (#"[0.2]"#, "reference_distribution"),
        ]
        for (reference, expected) in cases {
            let message = load(reference)
            XCTAssertTrue(message.contains(expected), "\(reference): \(message)")
            XCTAssertTrue(message.contains("p.json"), "\(reference): \(message)")
        }
        XCTAssertEqual(load(#"{"source": "run", "p_blocked_bins": [3, 0, 5], "skipped_share": 0.02, "series_count": 40}"#), "accepted")
    }
}
