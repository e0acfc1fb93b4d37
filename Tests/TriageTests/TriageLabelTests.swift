import Triage
import XCTest

final class TriageLabelTests: XCTestCase {
    func testRawValuesAreTheOutputVocabulary() {
        XCTAssertEqual(TriageLabel.allCases.map(\.rawValue), ["patent", "blocked", "manual_review"])
    }
}
