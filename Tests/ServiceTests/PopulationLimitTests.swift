import DICOM
import Foundation
@testable import Service
import TestSupport
import XCTest

/// The population limit reads PatientAge or birth date against study date, and says only adult / under
/// age / unknown.
final class PopulationLimitTests: XCTestCase {
    func testAgeStringsInEveryUnit() {
        XCTAssertEqual(PopulationLimit.parseAgeString("045Y"), 45)
        XCTAssertEqual(PopulationLimit.parseAgeString("018M"), 1.5)
        XCTAssertEqual(PopulationLimit.parseAgeString("052W")!, 52 * 7 / 365.25, accuracy: 1e-9)
        XCTAssertEqual(PopulationLimit.parseAgeString("010D")!, 10 / 365.25, accuracy: 1e-9)
        XCTAssertNil(PopulationLimit.parseAgeString("45Y"))
        XCTAssertNil(PopulationLimit.parseAgeString("045X"))
        XCTAssertNil(PopulationLimit.parseAgeString(""))
    }

    func testDatesIncludingTheBirthdayItself() {
        XCTAssertNotNil(PopulationLimit.parseDate("20050101"))
        XCTAssertNotNil(PopulationLimit.parseDate("2005.01.01"))
        XCTAssertNil(PopulationLimit.parseDate("20051301"))
        XCTAssertNil(PopulationLimit.parseDate("2005"))
    }

    func testVerdictsFromRealHeaders() throws {
        let dir = try ServiceFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let limit = PopulationLimit(minimumAgeYears: 18)
        func verdict(_ args: [String]) throws -> PopulationLimit.Verdict {
            let url = dir.appendingPathComponent(UUID().uuidString + ".dcm")
            try ServiceFixtures.sample("case_0001_subtracted.dcm", to: url, dcmodify: args)
            return limit.check(try DICOMFile(url: url).dataset)
        }
        // The sample's study date is 2011-09-14 and it has no age and an empty birth date.
        XCTAssertEqual(try verdict([]), .unknown)
        XCTAssertEqual(try verdict(["-i", "(0010,0030)=19930914"]), .adult, "18 on the study day")
        XCTAssertEqual(try verdict(["-i", "(0010,0030)=19930915"]), .underAge, "one day short of 18")
        XCTAssertEqual(try verdict(["-i", "(0010,1010)=017Y", "-i", "(0010,0030)=19500101"]), .underAge, "PatientAge wins")
        XCTAssertEqual(try verdict(["-i", "(0010,1010)=070Y"]), .adult)
        XCTAssertEqual(try verdict(["-i", "(0010,0030)=20200101"]), .unknown, "a birth date after the study is not an age")
    }
}
