@testable import DICOM
import Foundation
import ModelFiles
import XCTest

/// Decodes the fixtures of tools/make_jpeg_fixtures.py (dcmtk-, Pillow- and own-encoder-made streams) and
/// compares with the sources and with what pydicom, Pillow/libjpeg-turbo and dcmdjpeg returned for them.
final class JPEGFixtureTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/dicom-jpeg").standardized

    struct Entry {
        let name: String, source: String, kind: String, transferSyntax: String, photometric: String
        let frames: Int, bitsStored: Int, signed: Bool, pillow: Bool, dcmdjpeg: Bool, pointTransform: Int
    }

    static func manifest() throws -> [Entry] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("manifest.json"))
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return list.map { e in
            Entry(name: e["name"] as! String, source: e["source"] as! String, kind: e["kind"] as! String,
                  transferSyntax: e["transferSyntax"] as! String, photometric: e["photometric"] as! String,
                  frames: e["frames"] as! Int, bitsStored: e["bitsStored"] as! Int, signed: e["signed"] as! Bool,
                  pillow: e["pillow"] as? Bool ?? false, dcmdjpeg: e["dcmdjpeg"] as? Bool ?? false,
                  pointTransform: e["pointTransform"] as? Int ?? 0)
        }
    }

    /// The array's elements as raw bit patterns masked to `bits` (signed values as two's complement).
    static func npy(_ name: String, bits: Int) throws -> (shape: [Int], values: [UInt16]) {
        let a = try NPYFile.read(fixtures.appendingPathComponent(name))
        let mask = UInt16(truncatingIfNeeded: (1 << bits) - 1)
        switch a.data {
        case .uint8(let v): return (a.shape, v.map { UInt16($0) & mask })
        case .uint16(let v): return (a.shape, v.map { $0 & mask })
        case .int16(let v): return (a.shape, v.map { UInt16(bitPattern: $0) & mask })
        default: throw JPEGError(description: "\(name): unexpected dtype \(a.dtype)")
        }
    }

    /// The JPEG stream of each frame: all fragments for one frame, else one fragment per frame.
    static func frames(_ file: DICOMFile, count: Int) throws -> [[UInt8]] {
        guard case .encapsulated(let e) = file.dataset.pixelData else {
            throw JPEGError(description: "\(file.source): pixel data is not encapsulated")
        }
        if count == 1 { return [e.fragments.flatMap { $0 }] }  // a frame may span several fragments
        XCTAssertEqual(e.fragments.count, count, file.source)
        return e.fragments
    }

    /// Decodes every frame of a fixture and joins the samples.
    func decodeAll(_ entry: Entry) throws -> (JPEGImage, [UInt16]) {
        let file = try DICOMFile(url: Self.fixtures.appendingPathComponent(entry.name + ".dcm"))
        XCTAssertEqual(file.transferSyntaxUID, entry.transferSyntax)
        let pi = file.dataset.string(.photometricInterpretation) ?? ""
        var all: [UInt16] = []
        var last: JPEGImage?
        for f in try Self.frames(file, count: entry.frames) {
            let image = try JPEGCodec.decode(f, photometricInterpretation: pi, source: entry.name)
            all += image.samples
            last = image
        }
        return (try XCTUnwrap(last), all)
    }

    func maxDifference(_ a: [UInt16], _ b: [UInt16]) -> Int {
        zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    /// Fails with the first differing index and the number of differences instead of both arrays.
    func assertSame(_ got: [UInt16], _ want: [UInt16], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard got.count == want.count else {
            return XCTFail("\(what): \(got.count) samples, expected \(want.count)", file: file, line: line)
        }
        let diffs = zip(got, want).enumerated().filter { $0.element.0 != $0.element.1 }
        if let first = diffs.first {
            XCTFail("\(what): \(diffs.count) samples differ, first at \(first.offset): \(first.element.0) vs \(first.element.1)",
                    file: file, line: line)
        }
    }

    func testLosslessFixturesEqualSourceAndPydicom() throws {
        var checked = 0
        for e in try Self.manifest() where e.kind == "lossless" {
            let (image, got) = try decodeAll(e)
            let mask = UInt16(truncatingIfNeeded: (1 << e.bitsStored) - 1)
            let masked = got.map { $0 & mask }
            let (_, pydicom) = try Self.npy(e.name + ".pydicom.npy", bits: e.bitsStored)
            assertSame(masked, pydicom, "\(e.name) vs pydicom")
            let (_, source) = try Self.npy("src_\(e.source).npy", bits: e.bitsStored)
            assertSame(masked, source, "\(e.name) vs source")
            XCTAssertEqual(image.isRGB, image.components == 3, e.name)
            checked += 1
        }
        XCTAssertEqual(checked, 20)
    }

    /// Point transform 2: the low bits are dropped by the encoder; the decoder shifts back. pylibjpeg-libjpeg
    /// 2.5 (pydicom's default here) returns a wrong image for this stream, so dcmdjpeg is the reference.
    func testLosslessPointTransformEqualsDcmdjpegAndShiftedSource() throws {
        let e = try XCTUnwrap(Self.manifest().first { $0.kind == "pointTransform" })
        XCTAssertEqual(e.pointTransform, 2)
        let (_, got) = try decodeAll(e)
        let (_, dcmdjpeg) = try Self.npy(e.name + ".dcmdjpeg.npy", bits: 16)
        assertSame(got, dcmdjpeg, "\(e.name) vs dcmdjpeg")
        let (_, source) = try Self.npy("src_\(e.source).npy", bits: 16)
        assertSame(got, source.map { ($0 >> 2) << 2 }, "\(e.name) vs source >> 2 << 2")
    }

    func testExtended12BitEqualsDcmdjpegAndIsNearPydicom() throws {
        var checked = 0
        for e in try Self.manifest() where e.kind == "dct" && e.bitsStored == 12 {
            let (image, got) = try decodeAll(e)
            XCTAssertEqual(image.precision, 12)
            let (_, dcmdjpeg) = try Self.npy(e.name + ".dcmdjpeg.npy", bits: 16)
            assertSame(got, dcmdjpeg, "\(e.name) vs dcmdjpeg (IJG 12-bit)")
            let (_, pydicom) = try Self.npy(e.name + ".pydicom.npy", bits: 16)
            // pylibjpeg-libjpeg (not IJG) rounds its IDCT differently: at most 1 apart on these fixtures.
            XCTAssertLessThanOrEqual(maxDifference(got, pydicom), 1, "\(e.name) vs pydicom")
            checked += 1
        }
        XCTAssertEqual(checked, 2)
    }

    func testEightBitDCTEqualsPillowAndIsNearPydicomDefault() throws {
        var checked = 0
        for e in try Self.manifest() where e.kind == "dct" && e.bitsStored == 8 {
            let (image, got) = try decodeAll(e)
            let (_, pillow) = try Self.npy(e.name + ".pillow.npy", bits: 8)
            assertSame(got, pillow, "\(e.name) vs pydicom through Pillow (libjpeg-turbo)")
            XCTAssertEqual(image.isRGB, image.components == 3, e.name)
            let (_, dcmdjpeg) = try Self.npy(e.name + ".dcmdjpeg.npy", bits: 8)
            assertSame(got, dcmdjpeg, "\(e.name) vs dcmdjpeg")
            // pydicom's default plugin here is pylibjpeg-libjpeg, whose IDCT and upsampling differ slightly.
            let (_, pydicom) = try Self.npy(e.name + ".pydicom.npy", bits: 8)
            XCTAssertLessThanOrEqual(maxDifference(got, pydicom), 4, "\(e.name) vs pydicom default")
            checked += 1
        }
        XCTAssertEqual(checked, 7)
    }

    /// The own DCT decoder on the 8-bit streams too (restart markers, 4:2:2 / 4:2:0 fancy upsampling),
    /// against dcmdjpeg's IJG output with the same YBR → RGB step as pydicom.
    func testOwnDCTDecoderMatchesIJGOnEightBitStreams() throws {
        var checked = 0
        for e in try Self.manifest() where e.kind == "dct" && e.bitsStored == 8 {
            let file = try DICOMFile(url: Self.fixtures.appendingPathComponent(e.name + ".dcm"))
            let bytes = try Self.frames(file, count: 1)[0]
            var got: [UInt16] = try bytes.withUnsafeBufferPointer { buffer in
                var stream = JPEGStream(bytes: buffer)
                try stream.start()
                let scan = try XCTUnwrap(try stream.nextScan())
                let frame = try XCTUnwrap(stream.frame)
                return try JPEGDCTDecoder.decode(&stream, frame: frame, firstScan: scan)
            }
            if e.photometric.hasPrefix("YBR") {
                var b = got.map { UInt8($0) }
                ColorConversion.ybrFullToRGB(&b)
                got = b.map { UInt16($0) }
            }
            let (_, dcmdjpeg) = try Self.npy(e.name + ".dcmdjpeg.npy", bits: 8)
            assertSame(got, dcmdjpeg, "\(e.name): own DCT decoder vs dcmdjpeg")
            checked += 1
        }
        XCTAssertEqual(checked, 7)
    }

    /// Fill bytes (extra 0xFF) before markers and restart markers, and APPn / COM segments, change nothing.
    func testFillBytesAndApplicationSegmentsAreSkipped() throws {
        let e = try XCTUnwrap(Self.manifest().first { $0.name == "own_restart_sv1_gray12" })
        let file = try DICOMFile(url: Self.fixtures.appendingPathComponent(e.name + ".dcm"))
        let original = try Self.frames(file, count: 1)[0]
        var s: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0, 6] + Array("Exif".utf8) + [0xFF, 0xFF, 0xFF, 0xFE, 0, 3, 0x41]
        var i = 2
        var restarts = 0
        while i < original.count {
            if original[i] == 0xFF, i + 1 < original.count, (0xD0...0xD9).contains(original[i + 1]) || original[i + 1] == 0xC4 {
                s += [0xFF, 0xFF, 0xFF]  // fill bytes
                if (0xD0...0xD7).contains(original[i + 1]) { restarts += 1 }
            }
            s.append(original[i])
            i += 1
        }
        XCTAssertEqual(restarts, 9)
        let image = try JPEGCodec.decode(s, photometricInterpretation: "MONOCHROME2", source: e.name)
        let (_, source) = try Self.npy("src_gray12.npy", bits: 16)
        assertSame(image.samples, source, "with fill bytes and extra segments")
    }
}
