import Angiography
import Foundation
import TestSupport
import Triage
import XCTest

/// The default profile (compiled in and shipped) and profile validation.
final class TaskProfileTests: XCTestCase {
    static let shipped = TestPaths.packageRoot.appendingPathComponent("profiles/default-task-profile.json")

    func testShippedFileEqualsCompiledInDefault() throws {
        let file = try TaskProfile.load(path: Self.shipped.path)
        XCTAssertEqual(file, TaskProfile.standard)
        // Same JSON values, field for field (nothing the Codable type would drop).
        let a = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.shipped)) as? NSDictionary
        let b = try JSONSerialization.jsonObject(with: Data(TaskProfile.defaultJSON.utf8)) as? NSDictionary
        XCTAssertEqual(a, b)
        // And the encoder writes back the same values.
        let c = try JSONSerialization.jsonObject(with: try file.jsonData()) as? NSDictionary
        XCTAssertEqual(c, b)
    }

    func testDefaultFavoursSensitivity() {
        let p = TaskProfile.standard
        XCTAssertEqual(p.positiveLabel, "blocked")
        XCTAssertLessThan(p.threshold, 0.5, "the threshold on P(blocked) sits below 0.5: misses are the high-risk error")
        XCTAssertTrue(p.reviewBand[0] < p.threshold && p.threshold < p.reviewBand[1])
        XCTAssertEqual(p.labels.map(\.name), ["patent", "blocked"])
        XCTAssertEqual(p.negativeLabel, "patent")
        XCTAssertEqual(p.frameStrategy, "minip")
        XCTAssertEqual(p.generation.mode, "score")
    }

    func testNewThresholdAboveTheBandWidensTheBand() {
        let p = TaskProfile.standard  // threshold 0.35, band [0.2, 0.6]
        let (high, widened) = p.withThreshold(0.97)
        XCTAssertTrue(widened)
        XCTAssertEqual(high.threshold, 0.97)
        XCTAssertEqual(high.reviewBand, [0.2, 0.97])
        // P = 0.8 lies below the new threshold: without the wider band it would be called patent, unreviewed.
        let policy = DecisionPolicy(profile: high)
        XCTAssertTrue(policy.band.contains(0.8))
        XCTAssertFalse(policy.band.contains(0.98))
        let (inside, w2) = p.withThreshold(0.5)
        XCTAssertFalse(w2)
        XCTAssertEqual(inside.reviewBand, [0.2, 0.6])
        let (low, w3) = p.withThreshold(0.1)  // below the band: P in [0.1, 0.2) is called blocked, nothing to widen
        XCTAssertFalse(w3)
        XCTAssertEqual(low.reviewBand, [0.2, 0.6])
        XCTAssertEqual(low.threshold, 0.1)
    }

    func mutate(_ body: (inout [String: Any]) -> Void) throws -> Data {
        var d = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(TaskProfile.defaultJSON.utf8)) as? [String: Any])
        body(&d)
        return try JSONSerialization.data(withJSONObject: d)
    }

    func expectError(_ field: String, file: StaticString = #filePath, line: UInt = #line, _ body: (inout [String: Any]) -> Void) throws {
        let data = try mutate(body)
        XCTAssertThrowsError(try TaskProfile.decode(data, source: "my.json"), file: file, line: line) { e in
            let text = "\(e)"
            XCTAssertTrue(text.hasPrefix("task profile my.json: field \(field):"), text, file: file, line: line)
        }
    }

    func testValidationNamesTheField() throws {
        try expectError("threshold") { $0["threshold"] = 1.5 }
        try expectError("threshold") { $0["threshold"] = 0 }
        try expectError("review_band") { $0["review_band"] = [0.6, 0.2] }
        try expectError("review_band") { $0["review_band"] = [0.2] }
        try expectError("review_band") { $0["review_band"] = [-0.1, 0.5] }
        try expectError("positive_label") { $0["positive_label"] = "patent" }
        try expectError("frame_strategy") { $0["frame_strategy"] = "average" }
        try expectError("version") { $0["version"] = 2 }
        try expectError("prompt") { $0["prompt"] = "  " }
        try expectError("labels") { d in d["labels"] = [(d["labels"] as! [Any])[0]] }
        try expectError("labels") { d in
            var l = d["labels"] as! [[String: Any]]
            l[1]["name"] = "occluded"
            d["labels"] = l
        }
        try expectError("labels.blocked.accepted") { d in
            var l = d["labels"] as! [[String: Any]]
            l[1]["accepted"] = [String]()
            d["labels"] = l
        }
        try expectError("quality.min_frames") { d in
            var q = d["quality"] as! [String: Any]
            q["min_frames"] = 0
            d["quality"] = q
        }
        try expectError("generation.mode") { d in
            var g = d["generation"] as! [String: Any]
            g["mode"] = "fast"
            d["generation"] = g
        }
        // Missing fields and wrong types are named with their path.
        try expectError("threshold") { $0.removeValue(forKey: "threshold") }
        try expectError("quality.min_mean_gray") { d in
            var q = d["quality"] as! [String: Any]
            q["min_mean_gray"] = "dark"
            d["quality"] = q
        }
        XCTAssertThrowsError(try TaskProfile.decode(Data("{".utf8), source: "broken.json")) { e in
            XCTAssertTrue("\(e)".contains("broken.json"))
        }
        XCTAssertThrowsError(try TaskProfile.load(path: "/nonexistent/profile.json")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/profile.json"))
        }
    }

    func testAUserProfileLoads() throws {
        let data = try mutate { d in
            d["threshold"] = 0.25
            d["system"] = NSNull()
            d["frame_strategy"] = "every"
        }
        let p = try TaskProfile.decode(data, source: "user.json")
        XCTAssertEqual(p.threshold, 0.25)
        XCTAssertNil(p.system)
        XCTAssertEqual(p.strategy, .everyFrame)
    }
}
