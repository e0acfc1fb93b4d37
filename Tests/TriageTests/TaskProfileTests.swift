import Angiography
import Foundation
import TestSupport
@testable import Triage
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

    func message(_ data: Data) -> String {
        do { _ = try TaskProfile.decode(data, source: "my.json"); return "(loaded)" } catch { return "\(error)" }
    }

    /// A misspelt key was silently ignored (the default threshold stayed in force): now it is an error naming
    /// the key path and the nearest known key, at every level.
    func testUnknownKeysAreRejectedWithTheNearestKnownKey() throws {
        let top = message(try mutate { d in d.removeValue(forKey: "threshold"); d["treshold"] = 0.5 })
        XCTAssertEqual(top, #"task profile my.json: field treshold: unknown key "treshold" at the top level; did you mean "threshold"?"#)
        // An extra key beside a correct one is refused too (it would have been ignored).
        XCTAssertTrue(message(try mutate { $0["reviewband"] = [0.1, 0.2] }).contains(#"unknown key "reviewband" at the top level; did you mean "review_band"?"#))
        let nested = message(try mutate { d in
            var q = d["quality"] as! [String: Any]
            q["min_frame"] = 3
            d["quality"] = q
        })
        XCTAssertEqual(nested, #"task profile my.json: field quality.min_frame: unknown key "min_frame" in quality; did you mean "min_frames"?"#)
        let inArray = message(try mutate { d in
            var l = d["labels"] as! [[String: Any]]
            l[1]["acepted"] = ["x"]
            d["labels"] = l
        })
        XCTAssertTrue(inArray.contains(#"field labels[1].acepted: unknown key "acepted" in labels[1]; did you mean "accepted"?"#), inArray)
        let generation = message(try mutate { d in
            var g = d["generation"] as! [String: Any]
            g["max_tokens"] = 3
            d["generation"] = g
        })
        XCTAssertTrue(generation.contains(#"did you mean "max_new_tokens"?"#), generation)
    }

    /// A wrong type names the field path, the expected type and the value (it said "field -: not valid JSON").
    func testTypeErrorsNameThePathTheExpectedTypeAndTheValue() throws {
        func quality(_ key: String, _ value: Any) throws -> String {
            message(try mutate { d in
                var q = d["quality"] as! [String: Any]
                q[key] = value
                d["quality"] = q
            })
        }
        XCTAssertEqual(try quality("min_frames", 2.5), "task profile my.json: field quality.min_frames: expected an integer, got 2.5")
        XCTAssertEqual(try quality("min_mean_gray", "dark"),
                       #"task profile my.json: field quality.min_mean_gray: expected a number, got the string "dark""#)
        XCTAssertEqual(message(try mutate { $0["threshold"] = "0.35" }),
                       #"task profile my.json: field threshold: expected a number, got the string "0.35""#)
        XCTAssertEqual(message(try mutate { $0["include_radiofluoroscopy"] = 1 }),
                       "task profile my.json: field include_radiofluoroscopy: expected true or false, got 1")
        XCTAssertEqual(message(try mutate { $0["review_band"] = [0.2, "high"] }),
                       #"task profile my.json: field review_band[1]: expected a number, got the string "high""#)
        XCTAssertEqual(message(try mutate { $0["labels"] = "patent,blocked" }),
                       #"task profile my.json: field labels: expected an array of objects, got the string "patent,blocked""#)
        XCTAssertEqual(message(try mutate { $0["system"] = 3 }), "task profile my.json: field system: expected a string or null, got 3")
        XCTAssertEqual(message(try mutate { $0.removeValue(forKey: "prompt") }),
                       #"task profile my.json: field prompt: missing key "prompt" at the top level (expected a string)"#)
        // A whole number written as 2.0 is still an integer.
        XCTAssertEqual(try quality("min_frames", 2.0), "(loaded)")
    }

    func testEditDistanceAndNearestKey() {
        XCTAssertEqual(ConfigShape.editDistance("treshold", "threshold"), 1)
        XCTAssertEqual(ConfigShape.editDistance("kitten", "sitting"), 3)
        XCTAssertEqual(ConfigShape.editDistance("", "abc"), 3)
        XCTAssertEqual(ConfigShape.nearest(to: "min_frame", among: ["min_frames", "min_mean_gray", "min_std_gray"]), "min_frames")
    }

    /// Every shipped profile and every profile a test fixture or the docs carry still loads under the strict
    /// shape, and so does what the tool writes (`jsonData`, used by `--write-profile`).
    func testShippedAndWrittenProfilesLoad() throws {
        let root = TestPaths.packageRoot
        var found = 0
        for dir in ["profiles", "Tests/Fixtures"] {
            let base = root.appendingPathComponent(dir)
            guard let walker = FileManager.default.enumerator(atPath: base.path) else { continue }
            for case let sub as String in walker where sub.hasSuffix(".json") {
                let url = base.appendingPathComponent(sub)
                guard let text = try? String(contentsOf: url, encoding: .utf8), text.contains("\"review_band\"") else { continue }
                XCTAssertNoThrow(try TaskProfile.load(path: url.path), url.path)
                found += 1
            }
        }
        XCTAssertGreaterThanOrEqual(found, 1)
        var p = TaskProfile.standard
        p.system = "custom"
        p.threshold = 0.3
        XCTAssertEqual(try TaskProfile.decode(try p.jsonData(), source: "written.json"), p)
        p.system = nil
        XCTAssertEqual(try TaskProfile.decode(try p.jsonData(), source: "written.json"), p)
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
