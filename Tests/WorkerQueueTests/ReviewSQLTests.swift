import Foundation
import XCTest
@testable import WorkerQueue

/// The review SQL's pure helpers: the frames-used parser against Foundation's JSON decoder, and the merged
/// scanner list.
final class ReviewSQLTests: XCTestCase {
    func testFramesUsedParserAgreesWithJSONDecoder() throws {
        let valid = ["[0, 3, 7]", "[]", " [ ] ", "[-1,2]", "[ 12 ,\t34\n]", "[9223372036854775807]", "[0]", "\n[5, 6]\n"]
        for text in valid {
            let expected = try JSONDecoder().decode([Int].self, from: Data(text.utf8))
            XCTAssertEqual(try ReviewSQL.integers(fromJSON: text, location: "t"), expected, text)
        }
    }

    func testFramesUsedParserRefusesWhatIsNotAnArrayOfIntegers() {
        // "[1,]" too, though Foundation's decoder tolerates the trailing comma: the writer never makes one.
        let strictOnly = "[1,]"
        XCTAssertThrowsError(try ReviewSQL.integers(fromJSON: strictOnly, location: "cases.db"))
        let invalid = ["", "1,2", "[,1]", "[a]", "[1 2]", "[1]x", "[1", "1]", "[99999999999999999999]", "[-]", "[1.5]",
                       "[\"1\"]", "[[1]]", "[1,,2]"]
        for text in invalid {
            // Foundation agrees these are not arrays of integers.
            XCTAssertNil(try? JSONDecoder().decode([Int].self, from: Data(text.utf8)), "fixture \(text) is valid JSON [Int]")
            XCTAssertThrowsError(try ReviewSQL.integers(fromJSON: text, location: "cases.db"), text) { error in
                XCTAssertTrue("\(error)".contains("cases.db"), "\(error)")
            }
        }
    }

    func testScannerListMergesManufacturersAndModelsOnce() {
        XCTAssertEqual(ReviewSQL.mergedScanners([["Siemens", "GE"], ["Artis Q", "Siemens"]]), ["Artis Q", "GE", "Siemens"])
        XCTAssertEqual(ReviewSQL.mergedScanners([[], []]), [])
    }
}
