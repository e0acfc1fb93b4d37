import Foundation
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

    /// The derivation is pinned: a changed formula would give every resent report a new identity, and the PACS
    /// would then hold duplicates. Reference values computed independently (Python's hashlib and int).
    func testDerivationMatchesTheDocumentedFormula() {
        XCTAssertEqual(DerivedUID.uid(for: "job-1", purpose: .sopInstance), "2.25.219992788961108306800343058225162615360")
        XCTAssertEqual(DerivedUID.uuidBytes(for: "job-1", purpose: .sopInstance).map { String(format: "%02x", $0) }.joined(),
                       "a58111ea4572839485dd78f267d7fa40")
        XCTAssertEqual(SRCodes.privateSchemeUID, "2.25.201440302098362621612414341679657256003")
        XCTAssertEqual(DerivedUID.uuidBytes(for: "x", purpose: .series)[6] >> 4, 8, "UUID version 8")
        XCTAssertEqual(DerivedUID.uuidBytes(for: "x", purpose: .series)[8] >> 6, 2, "RFC 9562 variant")
        XCTAssertEqual(Set(DerivedUID.Purpose.allCases.map { DerivedUID.uid(for: "k", purpose: $0) }).count, DerivedUID.Purpose.allCases.count)
    }
}
