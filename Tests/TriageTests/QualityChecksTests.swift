import Triage
import XCTest

/// Quality checks on hand-made gray images.
final class QualityChecksTests: XCTestCase {
    let checks = QualityChecks(settings: TaskProfile.Quality(minFrames: 2, minMeanGray: 20, minStdGray: 3, minDynamicRange: 24))

    func testGoodImagePasses() {
        // Light background (200) with a dark vessel band (40) on a quarter of the pixels.
        var g = [UInt8](repeating: 200, count: 100)
        for i in 0..<25 { g[i] = 40 }
        let r = checks.check(gray: g, frames: 6)
        XCTAssertEqual(r.meanGray, 160, accuracy: 1e-9)
        XCTAssertEqual(r.stdGray, (0.25 * 0.75).squareRoot() * 160, accuracy: 1e-9)
        XCTAssertEqual(r.dynamicRange, 160)
        XCTAssertTrue(r.passed, "\(r.issues)")
    }

    func testTooDarkFlatNoContrastAndFrames() {
        let dark = checks.check(gray: [UInt8](repeating: 5, count: 64), frames: 1)
        XCTAssertEqual(dark.issues, ["too few frames (1 < 2)", "too dark (mean gray 5.0 < 20.0)",
                                     "too flat (gray standard deviation 0.0 < 3.0)",
                                     "no contrast (1st–99th percentile range 0.0 < 24.0)"])
        // Uniform mid gray with 1 % outliers: not dark, flat by range only.
        var g = [UInt8](repeating: 128, count: 1000)
        for i in 0..<5 { g[i] = 0 }
        for i in 5..<10 { g[i] = 255 }
        let r = checks.check(gray: g, frames: nil)
        XCTAssertEqual(r.dynamicRange, 0, "outliers beyond the 1st and 99th percentiles do not count")
        XCTAssertTrue(r.issues.contains { $0.hasPrefix("no contrast") })
        XCTAssertFalse(r.issues.contains { $0.hasPrefix("too few frames") }, "pictures have no frame count")
        XCTAssertEqual(checks.check(gray: [], frames: nil).issues, ["empty image"])
    }
}
