import Angiography
import XCTest

final class SOPClassTests: XCTestCase {
    func testXAClassUIDs() {
        XCTAssertEqual(AngiographySOPClass.xRayAngiographicImageStorage, "1.2.840.10008.5.1.4.1.1.12.1")
        XCTAssertEqual(AngiographySOPClass.enhancedXAImageStorage, "1.2.840.10008.5.1.4.1.1.12.1.1")
    }
}
