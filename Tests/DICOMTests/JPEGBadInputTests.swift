import DICOM
import Foundation
import XCTest

/// Corrupt, truncated and oversized streams throw an error naming the source; nothing traps.
final class JPEGBadInputTests: XCTestCase {
    static func stream(_ name: String) throws -> [UInt8] {
        let url = JPEGFixtureTests.fixtures.appendingPathComponent(name + ".dcm")
        return try JPEGFixtureTests.frames(try DICOMFile(url: url), count: 1)[0]
    }

    func decode(_ bytes: [UInt8], _ pi: String = "MONOCHROME2", maxSamples: Int? = nil) throws -> JPEGImage {
        try JPEGCodec.decode(bytes, photometricInterpretation: pi, source: "bad.dcm", maxSamples: maxSamples)
    }

    func assertThrows(_ bytes: [UInt8], _ pi: String = "MONOCHROME2", maxSamples: Int? = nil, containing: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try decode(bytes, pi, maxSamples: maxSamples), file: file, line: line) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.hasPrefix("bad.dcm: JPEG stream: "), text, file: file, line: line)
            XCTAssertTrue(text.contains(containing), "\(text) should mention \(containing)", file: file, line: line)
        }
    }

    /// Fragments end on an even length: the stream proper ends with FFD9, possibly followed by one pad byte.
    func withoutPadding(_ s: [UInt8]) -> [UInt8] {
        var s = s
        while s.count > 2 && !(s[s.count - 2] == 0xFF && s[s.count - 1] == 0xD9) { s.removeLast() }
        return s
    }

    func testEveryTruncationThrows() throws {
        for name in ["lossless_sv1_gray12", "lossless_sv1_rgb8", "own_restart_sv1_gray12", "extended_gray12",
                     "baseline_gray8", "baseline_ybr422", "pillow_restart_ybr420"] {
            let full = withoutPadding(try Self.stream(name))
            XCTAssertNoThrow(try decode(full), name)
            // Cutting anywhere before the last entropy-coded byte loses data the decoder needs.
            let step = max(1, full.count / 150)
            for cut in stride(from: 0, to: full.count - 2, by: step) {
                XCTAssertThrowsError(try decode(Array(full[..<cut])), "\(name) cut at \(cut) of \(full.count)")
            }
            XCTAssertThrowsError(try decode(Array(full[..<(full.count - 3)])), "\(name) without its last coded byte")
        }
    }

    func testTruncatedLosslessNamesTheProblem() throws {
        let full = try Self.stream("lossless_sv1_gray12")
        assertThrows(Array(full[..<(full.count / 2)]), containing: "ends early")
    }

    func testGarbageAfterSOI() {
        var rng: UInt64 = 7
        var bytes: [UInt8] = [0xFF, 0xD8]
        for _ in 0..<4000 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            bytes.append(UInt8(truncatingIfNeeded: rng >> 33))
        }
        XCTAssertThrowsError(try decode(bytes))
        assertThrows([0xFF, 0xD8, 0x12, 0x34, 0x56], containing: "no scan")
        assertThrows([0x00, 0x01, 0x02, 0x03], containing: "SOI")
        assertThrows([], containing: "SOI")
    }

    func testOverflowingHuffmanTable() throws {
        // Three codes of length 1 do not fit.
        var s: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC3, 0, 11, 12, 0, 8, 0, 8, 1, 1, 0x11, 0]
        s += [0xFF, 0xC4, 0, 22, 0x00, 3] + [UInt8](repeating: 0, count: 15) + [0, 1, 2]
        s += [0xFF, 0xDA, 0, 8, 1, 1, 0, 1, 0, 0] + [UInt8](repeating: 0x55, count: 64) + [0xFF, 0xD9]
        assertThrows(s, containing: "Huffman table overflows")
    }

    func testLosslessDifferenceCategoryAbove16() throws {
        var s: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC3, 0, 11, 12, 0, 8, 0, 8, 1, 1, 0x11, 0]
        s += [0xFF, 0xC4, 0, 21, 0x00, 0, 2] + [UInt8](repeating: 0, count: 14) + [0, 17]
        s += [0xFF, 0xDA, 0, 8, 1, 1, 0, 1, 0, 0] + [UInt8](repeating: 0x55, count: 64) + [0xFF, 0xD9]
        assertThrows(s, containing: "category 17")
    }

    func testUndefinedHuffmanCodeThrows() throws {
        // Only the code "0" exists: an all-ones bit string is no code.
        var s: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC3, 0, 11, 12, 0, 8, 0, 8, 1, 1, 0x11, 0]
        s += [0xFF, 0xC4, 0, 20, 0x00, 1] + [UInt8](repeating: 0, count: 15) + [0]
        s += [0xFF, 0xDA, 0, 8, 1, 1, 0, 1, 0, 0] + [0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFF, 0xD9]
        assertThrows(s, containing: "invalid Huffman code")
    }

    func testDimensionsAreCheckedBeforeAllocation() throws {
        let s = try Self.stream("lossless_sv1_gray12")
        assertThrows(s, maxSamples: 64 * 48 - 1, containing: "64×48×1 holds 3072 samples, the DICOM attributes allow 3071")
        XCTAssertNoThrow(try decode(s, maxSamples: 64 * 48))
        // A huge frame header over a few bytes of data is refused without allocating.
        var huge = s
        let sof = try XCTUnwrap((0..<(s.count - 1)).first { s[$0] == 0xFF && s[$0 + 1] == 0xC3 })
        huge[sof + 5] = 0xFF; huge[sof + 6] = 0xFF; huge[sof + 7] = 0xFF; huge[sof + 8] = 0xFF
        assertThrows(huge, containing: "cannot fit")
        let dct = try Self.stream("extended_gray12")
        var hugeDCT = dct
        let sof1 = try XCTUnwrap((0..<(dct.count - 1)).first { dct[$0] == 0xFF && dct[$0 + 1] == 0xC1 })
        hugeDCT[sof1 + 5] = 0xFF; hugeDCT[sof1 + 6] = 0xFF; hugeDCT[sof1 + 7] = 0xFF; hugeDCT[sof1 + 8] = 0xFF
        assertThrows(hugeDCT, containing: "cannot fit")
        // Zero height (DNL) is not supported.
        var zero = s
        zero[sof + 5] = 0; zero[sof + 6] = 0
        assertThrows(zero, containing: "DNL")
    }

    func testUnsupportedProcessesAreNamed() throws {
        var s = try Self.stream("extended_gray12")
        let sof1 = try XCTUnwrap((0..<(s.count - 1)).first { s[$0] == 0xFF && s[$0 + 1] == 0xC1 })
        s[sof1 + 1] = 0xC9
        assertThrows(s, containing: "SOF9 (arithmetic sequential")
        s[sof1 + 1] = 0xC2
        assertThrows(s, containing: "SOF2 (progressive DCT, 12-bit)")
    }

    /// Random byte changes anywhere in the stream: the decoders throw or decode, and never trap.
    func testRandomCorruptionNeverTraps() throws {
        var rng: UInt64 = 12345
        func next() -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: rng >> 33)
        }
        var threw = 0, total = 0
        for name in ["lossless_sv1_gray12", "own_noninterleaved_sv6_rgb8", "own_restart_sv4_gray12", "extended_gray12",
                     "baseline_ybr422", "pillow_restart_gray8"] {
            let full = try Self.stream(name)
            for _ in 0..<120 {
                var s = full
                for _ in 0..<(1 + next() % 4) { s[next() % s.count] = UInt8(truncatingIfNeeded: next()) }
                do {
                    let image = try decode(s, "YBR_FULL_422", maxSamples: 64 * 48 * 3)
                    XCTAssertEqual(image.samples.count, image.width * image.height * image.components)
                } catch {
                    XCTAssertTrue(String(describing: error).hasPrefix("bad.dcm: JPEG stream: "))
                    threw += 1
                }
                total += 1
            }
        }
        XCTAssertGreaterThan(threw, total / 10)
    }
}
