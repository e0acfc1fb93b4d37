@testable import Angiography
import DICOM
import XCTest

/// The display stages against values worked out by hand from PS3.3 and the documented rules.
final class DisplayStageTests: XCTestCase {
    func render(_ w: VOIWindow, _ xs: [Float], invert: Bool = false) -> [Int] { w.render(xs, invert: invert).map(Int.init) }

    func testLinearWindow() {
        // c = 100, w = 11: 0 at or below 94.5, 255 above 104.5, else ((x − 99.5)/10 + ½)·255.
        let w = VOIWindow(source: .file, center: 100, width: 11, function: .linear)
        XCTAssertEqual(render(w, [94.5, 95, 100, 104.5, 104.6, 200, -5]), [0, 13, 140, 255, 255, 255, 0])
        XCTAssertEqual(render(w, [95, 100], invert: true), [242, 115])
        // Width 1: a step at c − ½.
        let step = VOIWindow(source: .file, center: 10, width: 1, function: .linear)
        XCTAssertEqual(render(step, [9.5, 9.6, 10]), [0, 255, 255])
    }

    func testLinearExactWindow() {
        // c = 100, w = 10: 0 at or below 95, 255 above 105, else ((x − 100)/10 + ½)·255.
        let w = VOIWindow(source: .file, center: 100, width: 10, function: .linearExact)
        XCTAssertEqual(render(w, [95, 96, 100, 102, 105, 106]), [0, 26, 128, 179, 255, 255])
    }

    func testSigmoidWindow() {
        // 255 / (1 + exp(−4 (x − c)/w)), c = 0, w = 4: x = 0 → 127.5, x = 1 → 186.38, x = −1 → 68.62.
        let w = VOIWindow(source: .file, center: 0, width: 4, function: .sigmoid)
        XCTAssertEqual(render(w, [0, 1, -1, 100, -100]), [128, 186, 69, 255, 0])
    }

    func testPercentileWindowInterpolatesLikeNumpy() {
        // 0…100 shuffled: the 0.5th percentile is 0.5 and the 99.5th 99.5 (linear interpolation).
        var values = (0...100).map(Float.init)
        values.shuffle()
        let w = VOIWindow.percentile(of: values)
        XCTAssertEqual(w.source, .percentile)
        XCTAssertEqual(w.center, 50, accuracy: 1e-9)
        XCTAssertEqual(w.width, 99, accuracy: 1e-9)
        // Against a full sort on random data.
        var rng = SystemRandomNumberGenerator()
        let random = (0..<10_007).map { _ in Float.random(in: -3...5, using: &rng) }
        let sorted = random.sorted()
        func reference(_ p: Double) -> Double {
            let pos = p / 100 * Double(sorted.count - 1)
            let k = Int(pos)
            return Double(sorted[k]) + (Double(sorted[min(k + 1, sorted.count - 1)]) - Double(sorted[k])) * (pos - Double(k))
        }
        let (lo, hi) = Percentile.values(random, 0.5, 99.5)
        XCTAssertEqual(lo, reference(0.5), accuracy: 1e-6)
        XCTAssertEqual(hi, reference(99.5), accuracy: 1e-6)
    }

    func testPercentileFallbacks() {
        // 999 zeros and one −10: both percentiles are ~0 → min-max window; all equal → flat mid-gray.
        var values = [Float](repeating: 0, count: 1000)
        values[500] = -10
        let w = VOIWindow.percentile(of: values)
        XCTAssertEqual(w.source, .minMax)
        XCTAssertEqual(render(w, [-10, 0]), [0, 255])
        let flat = VOIWindow.percentile(of: [Float](repeating: 7, count: 10))
        XCTAssertEqual(flat.source, .flat)
        XCTAssertEqual(render(flat, [7, 7]), [128, 128])
    }

    func testModalityLUT() {
        let rescale = ModalityLUT(kind: .rescale(slope: 0.5, intercept: 100))
        let frame = PixelFrame(rows: 1, columns: 4, samplesPerPixel: 1, photometricInterpretation: "MONOCHROME2",
                               samples: .uint16([0, 1, 2000, 4095]))
        XCTAssertEqual(rescale.map(frame), [100, 100.5, 1100, 2147.5])
        XCTAssertEqual(rescale.map(frame) { $0 * 2 }, [200, 201, 2200, 4295])
        // Table: first mapped value −2; below it the first entry, past the end the last.
        let table = ModalityLUT(kind: .table(firstMapped: -2, values: [10, 20, 30]))
        let signed = PixelFrame(rows: 1, columns: 5, samplesPerPixel: 1, photometricInterpretation: "MONOCHROME2",
                                samples: .int16([-5, -2, -1, 0, 9]))
        XCTAssertEqual(table.map(signed), [10, 10, 20, 30, 30])
        let wide = PixelFrame(rows: 1, columns: 2, samplesPerPixel: 1, photometricInterpretation: "MONOCHROME2",
                              samples: .int32([-70000, 70000]))
        XCTAssertEqual(rescale.map(wide), [-34900, 35100])
    }

    func testSubPixelShift() {
        // 3×3 image 0…8. Row shift +1 moves content down: out(r, c) = in(r − 1, c), top row repeated.
        let m: [Float] = [0, 1, 2, 3, 4, 5, 6, 7, 8]
        XCTAssertEqual(SubPixelShift.apply(m, rows: 3, columns: 3, rowShift: 1, columnShift: 0), [0, 1, 2, 0, 1, 2, 3, 4, 5])
        // Column shift +1 moves content left: out(r, c) = in(r, c + 1), right column repeated.
        XCTAssertEqual(SubPixelShift.apply(m, rows: 3, columns: 3, rowShift: 0, columnShift: 1), [1, 2, 2, 4, 5, 5, 7, 8, 8])
        // Half a row down: the mean of a row and the one above.
        XCTAssertEqual(SubPixelShift.apply(m, rows: 3, columns: 3, rowShift: 0.5, columnShift: 0), [0, 1, 2, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5])
    }

    func testFrameStrategiesOnHandMadeFrames() {
        let frames: [[Float]] = [[0, -1, 0, 0], [-2, 0, 0, -1], [0, 0, -0.5, 0]]
        let run = SubtractedRun(rows: 2, columns: 2, frameNumbers: [2, 3, 4], values: frames,
                                record: SubtractionRecord(method: .maskSequence, operations: ["AVG_SUB"], intensityRelationship: "LIN",
                                                          maskFrames: [1], frames: [2, 3, 4], notes: []))
        let minip = FrameStrategy.minimumIntensityProjection.compose(run)
        XCTAssertEqual(minip.map(\.values), [[-2, -1, -0.5, -1]])
        XCTAssertEqual(minip.map(\.frameNumbers), [[2, 3, 4]])
        // Means −0.25, −0.75, −0.125: frame 3 has the most contrast.
        XCTAssertEqual(FrameStrategy.peakOpacification.compose(run).map(\.frameNumbers), [[3]])
        XCTAssertEqual(FrameStrategy.everyFrame.compose(run).map(\.frameNumbers), [[2], [3], [4]])
        // Ties go to the earliest frame.
        XCTAssertEqual(FrameStrategy.peakIndex([[-1, 0], [0, -1]]), 0)
    }

    func testSubtractedMarkers() throws {
        XCTAssertTrue(try AngiogramAttributes(file: AngioFixtures.file("xa_subtracted")).isSubtracted)
        XCTAssertTrue(try AngiogramAttributes(file: AngioFixtures.file("xa_subtracted_exact")).isSubtracted)  // "DSA"
        XCTAssertFalse(try AngiogramAttributes(file: AngioFixtures.file("xa_lin_avgsub")).isSubtracted)
    }
}
