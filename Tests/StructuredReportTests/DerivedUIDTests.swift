import StructuredReport
import XCTest

final class DerivedUIDTests: XCTestCase {
    func testSameKeySameUIDDifferentKeysDiffer() {
        let a = DerivedUID.uid(for: "job-1", purpose: .sopInstance)
        XCTAssertEqual(a, DerivedUID.uid(for: "job-1", purpose: .sopInstance))
        XCTAssertNotEqual(a, DerivedUID.uid(for: "job-2", purpose: .sopInstance))
        XCTAssertNotEqual(a, DerivedUID.uid(for: "job-1", purpose: .series))
        XCTAssertTrue(a.hasPrefix("2.25."))
        XCTAssertLessThanOrEqual(a.count, 44)
    }
}
