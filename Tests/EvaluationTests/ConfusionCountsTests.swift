import Evaluation
import XCTest

final class ConfusionCountsTests: XCTestCase {
    func testTotals() {
        let c = ConfusionCounts(tp: 3, fp: 2, tn: 10, fn: 1)
        XCTAssertEqual(c.total, 16)
        XCTAssertEqual(c.positives, 4)
        XCTAssertEqual(c.negatives, 12)
    }
}
