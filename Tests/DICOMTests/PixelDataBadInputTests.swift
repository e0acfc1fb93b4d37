@testable import DICOM
import Foundation
import XCTest

/// Hand-built files: exact values for RLE and frame mapping, and a clear DICOMError for every kind of bad
/// pixel data (truncation, bogus offset tables, corrupt RLE headers, corrupt JPEG-LS / JPEG 2000 streams,
/// unsupported transfer syntaxes).
final class PixelDataBadInputTests: XCTestCase {
    // MARK: helpers

    /// Asserts that `body` throws a DICOMError whose text contains every one of `fragments`.
    func assertError<T>(_ body: @autoclosure () throws -> T, _ fragments: [String], file: StaticString = #filePath,
                        line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected an error containing \(fragments)", file: file, line: line)
        } catch let error as DICOMError {
            let text = error.description
            for f in fragments where !text.contains(f) {
                XCTFail("error \"\(text)\" does not mention \"\(f)\"", file: file, line: line)
            }
        } catch {
            XCTFail("expected a DICOMError, got \(error)", file: file, line: line)
        }
    }

    static func mono(rows: Int, columns: Int, bits: Int = 8, frames: Int = 1, signed: Bool = false) -> Part10Builder {
        var b = Part10Builder()
        b.us(0x0028, 0x0002, 1)
        b.text(0x0028, 0x0004, "CS", "MONOCHROME2")
        if frames > 1 { b.text(0x0028, 0x0008, "IS", "\(frames)") }
        b.us(0x0028, 0x0010, rows)
        b.us(0x0028, 0x0011, columns)
        b.us(0x0028, 0x0100, bits)
        b.us(0x0028, 0x0101, bits)
        b.us(0x0028, 0x0102, bits - 1)
        b.us(0x0028, 0x0103, signed ? 1 : 0)
        return b
    }

    func reader(_ b: Part10Builder) throws -> PixelDataReader {
        try PixelDataReader(file: DICOMFile(data: b.data(), source: "built.dcm"))
    }

    func fixtureFrames(_ name: String) throws -> (DICOMFile, [[UInt8]]) {
        let file = try DICOMFile(url: PixelDataFixtureTests.fixtures.appendingPathComponent(name + ".dcm"))
        guard case let .encapsulated(enc)? = file.dataset.pixelData else {
            throw DICOMError.pixelData(file: name, reason: "not encapsulated")
        }
        return (file, enc.fragments)
    }

    // MARK: native

    func testNativeShortAndLong() throws {
        var b = Self.mono(rows: 4, columns: 4, bits: 16)
        b.native = [UInt8](repeating: 1, count: 30)
        assertError(try reader(b), ["built.dcm", "holds 30 bytes", "need 32"])
        b.native = (0..<40).map { UInt8($0) }  // trailing bytes are allowed
        let f = try reader(b).frame(0)
        XCTAssertEqual(f.value(row: 0, column: 1), 0x0302)
        XCTAssertEqual(f.count, 16)
        assertError(try reader(b).frame(1), ["frame 1 requested", "has 1"])
    }

    func testNativeDataInCompressedSyntax() {
        var b = Self.mono(rows: 2, columns: 2)
        b.transferSyntax = "1.2.840.10008.1.2.5"
        b.native = [1, 2, 3, 4]
        assertError(try reader(b), ["native", "1.2.840.10008.1.2.5"])
    }

    // MARK: RLE by hand

    /// An RLE frame: header with the segment offsets, then the segments.
    static func rle(_ segments: [[UInt8]]) -> [UInt8] {
        var header = [UInt32](repeating: 0, count: 16)
        header[0] = UInt32(segments.count)
        var offset = 64
        for (i, s) in segments.enumerated() {
            header[i + 1] = UInt32(offset)
            offset += s.count
        }
        return header.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } } + segments.flatMap { $0 }
    }

    func testRLEByHand() throws {
        // 2×3 8-bit: literal run of 2 (header 1: copy 2), repeat 7 four times (header -3 = 0xFD).
        var b = Self.mono(rows: 2, columns: 3)
        b.transferSyntax = "1.2.840.10008.1.2.5"
        b.fragments = [Self.rle([[0x01, 10, 20, 0xFD, 7, 0x80]])]
        XCTAssertEqual(try reader(b).frame(0).samples, .uint8([10, 20, 7, 7, 7, 7]))
        // 1×2 16-bit signed: MSB segment then LSB segment; 0xFF 0xFE = -2, 0x01 0x00 = 256.
        var c = Self.mono(rows: 1, columns: 2, bits: 16, signed: true)
        c.transferSyntax = "1.2.840.10008.1.2.5"
        c.fragments = [Self.rle([[0x01, 0xFF, 0x01], [0x01, 0xFE, 0x00]])]
        XCTAssertEqual(try reader(c).frame(0).samples, .int16([-2, 256]))
    }

    func testRLECorruptHeaders() throws {
        var b = Self.mono(rows: 2, columns: 3)
        b.transferSyntax = "1.2.840.10008.1.2.5"
        let good = Self.rle([[0x05, 1, 2, 3, 4, 5, 6]])
        b.fragments = [Array(good.prefix(40))]
        assertError(try reader(b).frame(0), ["RLE", "shorter than the 64-byte header"])
        var twoSegments = good
        twoSegments[0] = 2
        b.fragments = [twoSegments]
        assertError(try reader(b).frame(0), ["RLE", "2 segments", "need 1"])
        var badFirst = good
        badFirst[4] = 60
        b.fragments = [badFirst]
        assertError(try reader(b).frame(0), ["first segment offset 60"])
        var pastEnd = good
        pastEnd[4] = 200
        b.fragments = [pastEnd]
        assertError(try reader(b).frame(0), ["first segment offset 200"])
        b.fragments = [Self.rle([[0x05, 1, 2, 3]])]  // literal run cut short: 3 of 6 bytes
        assertError(try reader(b).frame(0), ["segment 0 decodes to 3 bytes, 6 expected"])
        var c = Self.mono(rows: 1, columns: 2, bits: 16)
        c.transferSyntax = "1.2.840.10008.1.2.5"
        var decreasing = Self.rle([[0x01, 1, 2], [0x01, 3, 4]])
        decreasing[8] = 100
        c.fragments = [decreasing]
        assertError(try reader(c).frame(0), ["segment 1 offset 100 is past the next segment's 70 or the frame end"])
        // A 1000×1000 frame cannot come from a 7-byte segment: refused before allocating.
        var big = Self.mono(rows: 1000, columns: 1000)
        big.transferSyntax = "1.2.840.10008.1.2.5"
        big.fragments = [good]
        assertError(try reader(big).frame(0), ["cannot decode to 1000000 bytes"])
    }

    // MARK: frame mapping

    func testFrameMappingByHand() throws {
        // Fragments of 4, 6, 2 and 8 bytes: item tags at 0, 12, 26, 36.
        let frags: [[UInt8]] = [[1, 1, 1, 1], [2, 2, 2, 2, 2, 2], [3, 3], [4, 4, 4, 4, 4, 4, 4, 4]]
        let bot = EncapsulatedPixelData(basicOffsetTable: [0, 26], fragments: frags)
        let m = try EncapsulatedFrames(bot, frameCount: 2, source: "x")
        XCTAssertEqual(m.bytes(ofFrame: 0), [1, 1, 1, 1, 2, 2, 2, 2, 2, 2])
        XCTAssertEqual(m.bytes(ofFrame: 1), [3, 3, 4, 4, 4, 4, 4, 4, 4, 4])
        // Extended table: offsets 12 and 36 with lengths 5 and 8 (a frame may be shorter than its fragment).
        let ext = EncapsulatedPixelData(basicOffsetTable: [], fragments: frags)
        let e = try EncapsulatedFrames(ext, frameCount: 2, extendedOffsets: [0, 26], extendedLengths: [5, 8], source: "x")
        XCTAssertEqual(e.bytes(ofFrame: 0), [1, 1, 1, 1, 2])
        XCTAssertEqual(e.bytes(ofFrame: 1), [3, 3, 4, 4, 4, 4, 4, 4])
        // No table, as many fragments as frames; no table, one frame.
        XCTAssertEqual(try EncapsulatedFrames(ext, frameCount: 4, source: "x").bytes(ofFrame: 2), [3, 3])
        XCTAssertEqual(try EncapsulatedFrames(ext, frameCount: 1, source: "x").bytes(ofFrame: 0).count, 20)
        // No table, more fragments than frames: split after fragments ending in FF D9.
        let jpeg = EncapsulatedPixelData(basicOffsetTable: [], fragments: [
            [0xFF, 0xD8, 1, 2], [3, 0xFF, 0xD9, 0], [0xFF, 0xD8, 5], [6, 0xFF, 0xD9], [0xFF, 0xD8, 0xFF, 0xD9]])
        let j = try EncapsulatedFrames(jpeg, frameCount: 3, source: "x")
        XCTAssertEqual(j.frames.map(\.fragments), [0..<2, 2..<4, 4..<5])
    }

    func testBogusOffsetTables() {
        let frags: [[UInt8]] = [[1, 1, 1, 1], [2, 2, 2, 2, 2, 2], [3, 3], [4, 4]]
        func bot(_ t: [UInt32]) -> EncapsulatedPixelData { EncapsulatedPixelData(basicOffsetTable: t, fragments: frags) }
        assertError(try EncapsulatedFrames(bot([0, 5]), frameCount: 2, source: "f.dcm"),
                    ["f.dcm", "Basic Offset Table offset 5 of frame 1 does not point at a fragment item tag"])
        assertError(try EncapsulatedFrames(bot([0]), frameCount: 2, source: "f"), ["Basic Offset Table has 1 entries", "2 frames"])
        assertError(try EncapsulatedFrames(bot([12, 26]), frameCount: 2, source: "f"), ["starts at offset 12"])
        assertError(try EncapsulatedFrames(bot([0, 26, 12]), frameCount: 3, source: "f"), ["not increasing"])
        assertError(try EncapsulatedFrames(bot([0, 9000]), frameCount: 2, source: "f"), ["9000", "past the end"])
        let none = EncapsulatedPixelData(basicOffsetTable: [], fragments: frags)
        assertError(try EncapsulatedFrames(none, frameCount: 5, source: "f"), ["4 fragments cannot hold 5 frames"])
        assertError(try EncapsulatedFrames(none, frameCount: 3, source: "f"), ["end-of-image markers delimit only 1 frames"])
        assertError(try EncapsulatedFrames(none, frameCount: 2, extendedOffsets: [0, 12], extendedLengths: [4], source: "f"),
                    ["2 offsets but 1 lengths"])
        assertError(try EncapsulatedFrames(none, frameCount: 2, extendedOffsets: [0, 12], extendedLengths: [4, 99], source: "f"),
                    ["length 99 of frame 1 exceeds"])
        assertError(try EncapsulatedFrames(none, frameCount: 2, extendedOffsets: [0, 12], source: "f"),
                    ["without Extended Offset Table Lengths"])
        assertError(try EncapsulatedFrames(EncapsulatedPixelData(basicOffsetTable: [], fragments: []), frameCount: 1, source: "f"),
                    ["no fragments"])
    }

    /// A file whose Basic Offset Table was rewritten to point between fragments fails when it is opened.
    func testBogusOffsetTableInFile() throws {
        let (file, fragments) = try fixtureFrames("j2k_u16_3frames")
        var b = Part10Builder(copying: file.dataset, transferSyntax: file.transferSyntaxUID)
        b.fragments = fragments
        b.basicOffsetTable = [0, 10, 20]
        assertError(try reader(b), ["built.dcm", "Basic Offset Table offset 10 of frame 1"])
    }

    // MARK: codecs

    func testCorruptJPEGLS() throws {
        let (file, fragments) = try fixtureFrames("jls_u12")
        var b = Part10Builder(copying: file.dataset, transferSyntax: file.transferSyntaxUID)
        let stream = fragments.flatMap { $0 }
        b.fragments = [Array(stream.prefix(stream.count / 2))]
        assertError(try reader(b).frame(0), ["built.dcm frame 0", "JPEG-LS", "end-of-image marker"])
        b.fragments = [Array(stream.prefix(stream.count / 2)) + [0xFF, 0xD9]]
        assertError(try reader(b).frame(0), ["built.dcm frame 0", "JPEG-LS", "decode"])
        b.fragments = [[UInt8](repeating: 0x55, count: 300) + [0xFF, 0xD9]]
        assertError(try reader(b).frame(0), ["JPEG-LS", "header"])
        // The stream is 36×40, the dataset says 36×41.
        b.fragments = [stream]
        b.us(0x0028, 0x0010, 41)
        assertError(try reader(b).frame(0), ["JPEG-LS", "36×40", "36×41"])
        // Samples per Pixel 3 against a one-component stream.
        var c = Part10Builder(copying: file.dataset, transferSyntax: file.transferSyntaxUID)
        c.fragments = [stream]
        c.us(0x0028, 0x0002, 3)
        c.text(0x0028, 0x0004, "CS", "RGB")
        c.us(0x0028, 0x0006, 0)
        assertError(try reader(c).frame(0), ["1 components", "Samples per Pixel is 3"])
        // 12-bit stream in Bits Allocated 8.
        var d = Part10Builder(copying: file.dataset, transferSyntax: file.transferSyntaxUID)
        d.fragments = [stream]
        d.us(0x0028, 0x0100, 8)
        d.us(0x0028, 0x0101, 8)
        d.us(0x0028, 0x0102, 7)
        assertError(try reader(d).frame(0), ["precision 16 bits does not fit Bits Allocated 8"])
    }

    func testCorruptJPEG2000() throws {
        let (file, fragments) = try fixtureFrames("j2k_u12")
        var b = Part10Builder(copying: file.dataset, transferSyntax: file.transferSyntaxUID)
        let stream = fragments.flatMap { $0 }
        b.fragments = [Array(stream.prefix(60))]
        assertError(try reader(b).frame(0), ["built.dcm frame 0", "JPEG 2000"])
        b.fragments = [[0xFF, 0x4F, 0xFF, 0x51] + [UInt8](repeating: 0xAA, count: 100)]
        assertError(try reader(b).frame(0), ["JPEG 2000", "header"])
        b.fragments = [[UInt8](repeating: 0, count: 50)]
        assertError(try reader(b).frame(0), ["neither a JPEG 2000 codestream"])
        b.fragments = [stream]
        b.us(0x0028, 0x0011, 35)
        assertError(try reader(b).frame(0), ["JPEG 2000", "36×40", "35×40"])
    }

    func testUnsupportedTransferSyntaxes() throws {
        for (uid, name) in [("1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264 High Profile / Level 4.1"),
                            ("1.2.840.10008.1.2.4.107", "HEVC/H.265 Main Profile / Level 5.1"),
                            ("1.2.840.10008.1.2.4.94", "JPIP Referenced"),
                            ("1.2.840.10008.1.2.8.1", "Deflated Image Frame Compression"),
                            ("1.2.3.4.5", "")] {
            var b = Self.mono(rows: 2, columns: 2)
            b.transferSyntax = uid
            b.fragments = [[0, 0, 1, 0xB3]]
            assertError(try reader(b), ["built.dcm", "unsupported transfer syntax", uid] + (name.isEmpty ? [] : [name]))
            b.fragments = nil
            b.native = [1, 2, 3, 4]
            assertError(try reader(b), ["built.dcm", "unsupported transfer syntax", uid] + (name.isEmpty ? [] : [name]))
        }
    }
}

/// Writes small explicit VR little endian Part 10 files: the file meta group, the given elements, and native or
/// encapsulated Pixel Data.
struct Part10Builder {
    var transferSyntax = "1.2.840.10008.1.2.1"
    var elements: [DICOMTag: (vr: String, value: [UInt8])] = [:]
    var native: [UInt8]?
    var fragments: [[UInt8]]?
    var basicOffsetTable: [UInt32] = []

    init() {}

    /// The non-pixel elements of `ds` that have raw values (sequences are dropped).
    init(copying ds: DICOMDataset, transferSyntax: String) {
        self.transferSyntax = transferSyntax
        for tag in ds.tags where tag != .pixelData {
            guard let e = ds[tag], case let .bytes(b) = e.value else { continue }
            elements[tag] = (e.vr.rawValue, b)
        }
    }

    mutating func us(_ g: UInt16, _ e: UInt16, _ v: Int) {
        elements[DICOMTag(g, e)] = ("US", [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)])
    }

    mutating func text(_ g: UInt16, _ e: UInt16, _ vr: String, _ s: String) {
        var b = Array(s.utf8)
        if b.count % 2 == 1 { b.append(vr == "UI" ? 0 : 0x20) }
        elements[DICOMTag(g, e)] = (vr, b)
    }

    static let longVRs: Set<String> = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"]

    static func element(_ tag: DICOMTag, _ vr: String, _ value: [UInt8]) -> [UInt8] {
        var out = le16(tag.group) + le16(tag.element) + Array(vr.utf8)
        if longVRs.contains(vr) {
            out += [0, 0] + le32(UInt32(value.count))
        } else {
            out += le16(UInt16(value.count))
        }
        return out + value
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    func data() -> Data {
        var ts = Array(transferSyntax.utf8)
        if ts.count % 2 == 1 { ts.append(0) }
        let metaBody = Self.element(DICOMTag(0x0002, 0x0001), "OB", [0, 1])
            + Self.element(DICOMTag(0x0002, 0x0010), "UI", ts)
        var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        out += Self.element(DICOMTag(0x0002, 0x0000), "UL", Self.le32(UInt32(metaBody.count))) + metaBody
        for tag in elements.keys.sorted() {
            guard let e = elements[tag] else { continue }
            out += Self.element(tag, e.vr, e.value)
        }
        if let native {
            out += Self.element(.pixelData, "OW", native.count % 2 == 1 ? native + [0] : native)
        } else if let fragments {
            out += Self.le16(0x7FE0) + Self.le16(0x0010) + Array("OB".utf8) + [0, 0] + [0xFF, 0xFF, 0xFF, 0xFF]
            let table = basicOffsetTable.flatMap(Self.le32)
            out += Self.le16(0xFFFE) + Self.le16(0xE000) + Self.le32(UInt32(table.count)) + table
            for f in fragments {
                let padded = f.count % 2 == 1 ? f + [0] : f
                out += Self.le16(0xFFFE) + Self.le16(0xE000) + Self.le32(UInt32(padded.count)) + padded
            }
            out += Self.le16(0xFFFE) + Self.le16(0xE0DD) + [0, 0, 0, 0]
        }
        return Data(out)
    }
}
