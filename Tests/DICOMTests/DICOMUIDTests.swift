import DICOM
import XCTest

/// Values from UID fields reach messages only when they have UID syntax (they cannot hold a name then).
final class DICOMUIDTests: XCTestCase {
    func testOnlyWellFormedUIDsAreQuoted() {
        XCTAssertTrue(DICOMUID.isWellFormed("1.2.840.10008.1.2.4.50"))
        XCTAssertFalse(DICOMUID.isWellFormed(""))
        XCTAssertFalse(DICOMUID.isWellFormed(String(repeating: "1", count: 65)))
        XCTAssertFalse(DICOMUID.isWellFormed("1.2.SMITH^JOHN"))
        let planted = DICOMError.unsupportedTransferSyntax(file: "x.dcm", uid: "SMITH^JOHN 19330303").description
        XCTAssertEqual(planted, "x.dcm: unsupported transfer syntax an invalid UID (19 characters)")
        XCTAssertTrue(DICOMError.unsupportedTransferSyntax(file: "x.dcm", uid: "1.2.3.4").description.contains("1.2.3.4"))
    }
}
