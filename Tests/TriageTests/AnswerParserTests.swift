import Triage
import XCTest

/// The strict reading of generated answers with the default profile's vocabulary.
final class AnswerParserTests: XCTestCase {
    let parser = AnswerParser(profile: TaskProfile.standard)

    func check(_ text: String, _ want: ParsedAnswer.Verdict, file: StaticString = #filePath, line: UInt = #line) {
        let got = parser.parse(text)
        XCTAssertEqual(got.verdict, want, "\"\(text)\" → \(got.verdict) (\(got.reason))", file: file, line: line)
    }

    func testPlainLabels() {
        check("patent", .patent)
        check("Patent.", .patent)
        check("PATENT", .patent)
        check("blocked", .blocked)
        check("Blocked.", .blocked)
        check("  blocked\n", .blocked)
        check("The vessel is patent.", .patent)
        check("The vessel is blocked.", .blocked)
        check("Occluded", .blocked)
        check("occlusion of the M1 segment", .blocked)
        check("Abrupt cut-off of the left MCA", .blocked)
        check("cutoff", .blocked)
        check("There is a filling defect in the basilar artery.", .blocked)
        check("Normal filling of the intracranial vessels.", .patent)
        check("The artery is open and unobstructed.", .patent)
    }

    func testNegationMeansTheOtherLabel() {
        check("no occlusion", .patent)
        check("No occlusion.", .patent)
        check("not blocked", .patent)
        check("The vessel is not blocked.", .patent)
        check("no evidence of stenosis", .patent)
        check("There is no evidence of occlusion.", .patent)
        check("Without occlusion", .patent)
        check("negative for thrombus", .patent)
        check("free of obstruction", .patent)
        check("Absence of occlusion.", .patent)
        check("Occlusion is not seen.", .patent)
        check("occlusion not identified", .patent)
        check("stenosis absent", .patent)
        check("occlusion ruled out", .patent)
        check("non-occlusive", .patent)
        check("not patent", .blocked)
        check("The vessel is not patent.", .blocked)
        check("isn't patent", .blocked)
        check("no stenosis or occlusion", .patent)
    }

    func testNegationStaysInsideItsClause() {
        // The "no" of the first clause does not reach the second.
        check("No stenosis. Complete occlusion of the ICA.", .blocked)
        check("No stenosis, but an occlusion distally", .blocked)
        // Too far away to negate.
        check("no contrast reflux into the proximal segment and then occlusion", .blocked)
        // An affirmed finding outweighs a negated one of the other label.
        check("no occlusion, but blocked", .blocked)
        check("No stenosis; the ICA is occluded.", .blocked)
    }

    func testHedgesAreUnclear() {
        check("possibly blocked", .unclear)
        check("Probably patent.", .unclear)
        check("likely occluded", .unclear)
        check("Occlusion cannot be excluded.", .unclear)
        check("may be blocked", .unclear)
        check("suspicious for occlusion", .unclear)
        check("blocked?", .unclear)
        check("Indeterminate.", .unclear)
        check("Non-diagnostic study.", .unclear)
        check("I think it is patent", .unclear)
        check("either patent or blocked", .unclear)
    }

    func testBothNeitherAndEmptyAreUnclear() {
        check("patent or blocked", .unclear)
        check("Patent, blocked", .unclear)
        check("The vessel is patent. Blocked.", .unclear)
        check("patent but occluded", .unclear)
        check("not patent, patent", .unclear)
        check("", .unclear)
        check("   \n ", .unclear)
        check("...", .unclear)
        check("The image shows the circle of Willis.", .unclear)
        check("yes", .unclear)
        check("no", .unclear)
        check("<unused12><unused12>", .unclear)
    }

    func testReasonsNameWhatWasFound() {
        XCTAssertEqual(parser.parse("no occlusion").reason, "says \"no occlusion\"")
        XCTAssertEqual(parser.parse("not blocked").reason, "says negated \"blocked\"")
        XCTAssertEqual(parser.parse("").reason, "empty answer")
        XCTAssertTrue(parser.parse("maybe").reason.contains("hedged"))
        XCTAssertTrue(parser.parse("hello").reason.contains("neither"))
    }

    func testCustomVocabulary() {
        let p = AnswerParser(positive: ["LVO"], negative: ["clear"])
        XCTAssertEqual(p.parse("LVO present").verdict, .blocked)
        XCTAssertEqual(p.parse("no lvo").verdict, .patent)
        XCTAssertEqual(p.parse("clear").verdict, .patent)
        XCTAssertEqual(p.parse("blocked").verdict, .unclear)
    }
}
