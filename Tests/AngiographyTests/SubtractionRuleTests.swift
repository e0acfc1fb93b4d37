import Angiography
import DICOM
import Foundation
import XCTest

/// The subtraction rules on 1×2 runs, against values worked out by hand.
final class SubtractionRuleTests: XCTestCase {
    func frames(_ values: [[UInt16]]) -> [PixelFrame] {
        values.map { PixelFrame(rows: 1, columns: $0.count, samplesPerPixel: 1, photometricInterpretation: "MONOCHROME2", samples: .uint16($0)) }
    }

    func run(_ values: [[UInt16]], _ items: [MaskSubtractionItem], relationship: PixelIntensityRelationship = .linear,
             sign: Int = 1, lut: ModalityLUT = .identity) throws -> SubtractedRun {
        let a = AngiogramAttributes(source: "hand", numberOfFrames: values.count, pixelIntensityRelationship: relationship,
                                    pixelIntensitySign: sign, modalityLUTs: [lut], maskSubtraction: items)
        return try MaskSubtraction().run(frames: frames(values), attributes: a)
    }

    func testLinearIsLogRatio() throws {
        let r = try run([[100, 100], [100, 50], [0, 200]], [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [1])])
        XCTAssertEqual(r.frameNumbers, [2, 3])
        XCTAssertEqual(r.values[0][0], 0)
        XCTAssertEqual(r.values[0][1], Float(log(0.5)), accuracy: 1e-6)
        // ln(max(0, 1)) − ln(100) and ln(200) − ln(100).
        XCTAssertEqual(r.values[1][0], Float(-log(100.0)), accuracy: 1e-5)
        XCTAssertEqual(r.values[1][1], Float(log(2.0)), accuracy: 1e-6)
    }

    func testSignMinusOneNegates() throws {
        let r = try run([[100, 100], [100, 50]], [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [1])], sign: -1)
        XCTAssertEqual(r.values[0][1], Float(-log(0.5)), accuracy: 1e-6)
    }

    func testLogIsScaledDifference() throws {
        // (50 − 100) / 4095 with 12 bits stored; the rescale (×2 + 10) applies first: (110 − 210) / 4095.
        let r = try run([[100, 100], [100, 50]], [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [1])],
                        relationship: .logarithmic, lut: ModalityLUT(kind: .rescale(slope: 2, intercept: 10)))
        XCTAssertEqual(r.values[0][0], 0)
        XCTAssertEqual(r.values[0][1], Float(-100.0 / 4095), accuracy: 1e-7)
    }

    func testMaskAveragingHappensBeforeTheLog() throws {
        // Masks 100 and 300 average to 200 (not the geometric mean): ln(100) − ln(200).
        let r = try run([[100], [300], [100]], [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [1, 2])])
        XCTAssertEqual(r.frameNumbers, [3])
        XCTAssertEqual(r.values[0][0], Float(log(0.5)), accuracy: 1e-6)
    }

    func testContrastFrameAveraging() throws {
        // Frames 2 and 3 averaged: (100 + 300) / 2 = 200 against mask 100; frame 3 has no follower: 300 alone.
        let r = try run([[100], [100], [300]], [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [1], contrastFrameAveraging: 2)])
        XCTAssertEqual(r.frameNumbers, [2, 3])
        XCTAssertEqual(r.values[0][0], Float(log(2.0)), accuracy: 1e-6)
        XCTAssertEqual(r.values[1][0], Float(log(3.0)), accuracy: 1e-6)
    }

    func testTimeIntervalDifferencing() throws {
        // Offset 2: frame 3 − frame 1, frame 4 − frame 2; frames 1 and 2 have no partner.
        let r = try run([[10], [20], [40], [80]], [MaskSubtractionItem(operation: .timeIntervalDifferencing, tidOffset: 2)])
        XCTAssertEqual(r.frameNumbers, [3, 4])
        XCTAssertEqual(r.record.maskFrames, [1, 2])
        XCTAssertEqual(r.values[0][0], Float(log(4.0)), accuracy: 1e-6)
        XCTAssertEqual(r.values[1][0], Float(log(4.0)), accuracy: 1e-6)
    }

    func testApplicableFrameRangesPickTheItem() throws {
        // Item 1 (mask 1) applies to frames 2–3, item 2 (mask 4) to frames 5–6; nothing applies to frame 7.
        let items = [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [1], applicableFrameRanges: [2...3]),
                     MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [4], applicableFrameRanges: [5...6])]
        let r = try run([[10], [20], [40], [100], [50], [200], [1]], items)
        XCTAssertEqual(r.frameNumbers, [2, 3, 5, 6])
        XCTAssertEqual(r.record.maskFrames, [1, 4])
        XCTAssertEqual(r.values.map { $0[0] }, [log(2), log(4), log(0.5), log(2)].map(Float.init))
        XCTAssertEqual(r.record.notes.filter { $0.contains("1 frame(s) outside") }.count, 1, "\(r.record.notes)")
    }

    func testNothingLeftToSubtractIsAnError() {
        XCTAssertThrowsError(try run([[1], [2]], [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [1, 2])])) {
            XCTAssertTrue("\($0)".contains("hand"), "\($0)")
            XCTAssertTrue("\($0)".contains("no frame to subtract"), "\($0)")
        }
    }

    func testColourAndMismatchedFramesAreRejected() {
        let rgb = PixelFrame(rows: 1, columns: 1, samplesPerPixel: 3, photometricInterpretation: "RGB", samples: .uint8([1, 2, 3]))
        let a = AngiogramAttributes(source: "hand", numberOfFrames: 1)
        XCTAssertThrowsError(try MaskSubtraction().run(frames: [rgb], attributes: a)) { XCTAssertTrue("\($0)".contains("grayscale"), "\($0)") }
        let f = frames([[1, 2], [3]])
        XCTAssertThrowsError(try MaskSubtraction().run(frames: f, attributes: AngiogramAttributes(source: "hand", numberOfFrames: 2))) {
            XCTAssertTrue("\($0)".contains("frame 2"), "\($0)")
        }
    }
}
