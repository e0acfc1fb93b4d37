import DICOM
import Foundation
import TestSupport
import XCTest

/// External DICOM tools run by the writer tests (see TestSupport's ExternalTool).
enum DICOMWriterToolRunner {
    static func run(_ name: String, _ arguments: [String], package: String) throws -> (status: Int32, output: String) {
        try ExternalTool.run(name, arguments, package: package)
    }

    static func temporaryDirectory(_ label: String) throws -> URL {
        let dir = ExternalTool.temporaryPath(label)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Writer output checked against hand-computed bytes, our reader, and dcmtk's dcmdump.
final class DICOMWriterTests: XCTestCase {
    /// A small dataset whose encodings are worked out by hand below.
    func smallDataset() -> DICOMDatasetBuilder {
        var ds = DICOMDatasetBuilder()
        ds.set(.sopClassUID, .UI, "1.2.3")                  // 5 chars → NUL pad
        ds.set(.patientID, .LO, "ABC")                      // 3 chars → space pad
        ds.set(.rows, .US, int: 512)
        ds.set(DICOMTag(0x0009, 0x0010), .OB, bytes: [1, 2, 3])   // odd → zero pad
        var item = DICOMDatasetBuilder()
        item.set(.columns, .US, int: 1)
        ds.set(.maskSubtractionSequence, sequence: [item])
        return ds
    }

    func testExplicitLittleEndianBytes() throws {
        let bytes = try DICOMWriter.encodeDataset(smallDataset(), syntax: .explicitVRLittleEndian)
        let expected: [UInt8] = [
            0x08, 0x00, 0x16, 0x00, 0x55, 0x49, 0x06, 0x00, 0x31, 0x2E, 0x32, 0x2E, 0x33, 0x00,
            0x09, 0x00, 0x10, 0x00, 0x4F, 0x42, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x00,
            0x10, 0x00, 0x20, 0x00, 0x4C, 0x4F, 0x04, 0x00, 0x41, 0x42, 0x43, 0x20,
            0x28, 0x00, 0x10, 0x00, 0x55, 0x53, 0x02, 0x00, 0x00, 0x02,
            // (0028,6100) SQ, defined length 18 = item header 8 + item 10
            0x28, 0x00, 0x00, 0x61, 0x53, 0x51, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00,
            0xFE, 0xFF, 0x00, 0xE0, 0x0A, 0x00, 0x00, 0x00,
            0x28, 0x00, 0x11, 0x00, 0x55, 0x53, 0x02, 0x00, 0x01, 0x00,
        ]
        XCTAssertEqual(bytes, expected)
    }

    func testImplicitLittleEndianBytes() throws {
        let bytes = try DICOMWriter.encodeDataset(smallDataset(), syntax: .implicitVRLittleEndian)
        let expected: [UInt8] = [
            0x08, 0x00, 0x16, 0x00, 0x06, 0x00, 0x00, 0x00, 0x31, 0x2E, 0x32, 0x2E, 0x33, 0x00,
            0x09, 0x00, 0x10, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x00,
            0x10, 0x00, 0x20, 0x00, 0x04, 0x00, 0x00, 0x00, 0x41, 0x42, 0x43, 0x20,
            0x28, 0x00, 0x10, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
            0x28, 0x00, 0x00, 0x61, 0x12, 0x00, 0x00, 0x00,
            0xFE, 0xFF, 0x00, 0xE0, 0x0A, 0x00, 0x00, 0x00,
            0x28, 0x00, 0x11, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
        ]
        XCTAssertEqual(bytes, expected)
    }

    func testExplicitBigEndianBytes() throws {
        var ds = DICOMDatasetBuilder()
        ds.set(.rows, .US, int: 0x0102)
        ds.set(DICOMTag(0x0028, 0x1041), .SS, int: -2)
        ds.setNativePixelData([0x34, 0x12, 0x78, 0x56], vr: .OW)   // little-endian 0x1234, 0x5678
        let bytes = try DICOMWriter.encodeDataset(ds, syntax: .explicitVRBigEndian)
        let expected: [UInt8] = [
            0x00, 0x28, 0x00, 0x10, 0x55, 0x53, 0x00, 0x02, 0x01, 0x02,
            0x00, 0x28, 0x10, 0x41, 0x53, 0x53, 0x00, 0x02, 0xFF, 0xFE,
            0x7F, 0xE0, 0x00, 0x10, 0x4F, 0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x12, 0x34, 0x56, 0x78,
        ]
        XCTAssertEqual(bytes, expected)
    }

    func testEncapsulatedBasicOffsetTableBytes() throws {
        var ds = DICOMDatasetBuilder()
        ds.setEncapsulatedPixelData(frames: [[0xAA, 0xBB, 0xCC], [1, 2, 3, 4]])
        let bytes = try DICOMWriter.encodeDataset(ds, syntax: .rleLossless)
        let expected: [UInt8] = [
            0xE0, 0x7F, 0x10, 0x00, 0x4F, 0x42, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
            // Basic Offset Table: frame 1 at 0, frame 2 at 8 + 4 (padded first fragment)
            0xFE, 0xFF, 0x00, 0xE0, 0x08, 0x00, 0x00, 0x00, 0, 0, 0, 0, 12, 0, 0, 0,
            0xFE, 0xFF, 0x00, 0xE0, 0x04, 0x00, 0x00, 0x00, 0xAA, 0xBB, 0xCC, 0x00,
            0xFE, 0xFF, 0x00, 0xE0, 0x04, 0x00, 0x00, 0x00, 1, 2, 3, 4,
            0xFE, 0xFF, 0xDD, 0xE0, 0x00, 0x00, 0x00, 0x00,
        ]
        XCTAssertEqual(bytes, expected)
    }

    func testExtendedOffsetTable() throws {
        var ds = DICOMDatasetBuilder()
        ds.set(.sopClassUID, .UI, "1.2.840.10008.5.1.4.1.1.7")
        ds.set(.sopInstanceUID, .UI, "2.25.1")
        ds.setEncapsulatedPixelData(frames: [[0xAA, 0xBB, 0xCC], [1, 2, 3, 4], [9, 9]], extendedOffsetTable: true)
        let file = try DICOMFile(data: Data(try DICOMWriter.encode(ds, syntax: .jpegLosslessSV1)), source: "eot")
        guard case let .encapsulated(enc)? = file.dataset.pixelData else { return XCTFail("not encapsulated") }
        XCTAssertEqual(enc.basicOffsetTable, [])
        XCTAssertEqual(enc.fragments, [[0xAA, 0xBB, 0xCC, 0], [1, 2, 3, 4], [9, 9]])
        func u64s(_ b: [UInt8]?) -> [UInt64] {
            guard let b else { return [] }
            return stride(from: 0, to: b.count, by: 8).map { i in (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[i + $1]) << (8 * UInt64($1)) } }
        }
        XCTAssertEqual(file.dataset[.extendedOffsetTable]?.vr, .OV)
        XCTAssertEqual(u64s(file.dataset.data(.extendedOffsetTable)), [0, 12, 24])
        XCTAssertEqual(u64s(file.dataset.data(.extendedOffsetTableLengths)), [4, 4, 2])
    }

    func testFileMetaInformation() throws {
        var ds = smallDataset()
        ds.set(.sopInstanceUID, .UI, "2.25.42")
        let bytes = try DICOMWriter.encode(ds, syntax: .implicitVRLittleEndian)
        XCTAssertEqual(Array(bytes[0..<128]), [UInt8](repeating: 0, count: 128))
        XCTAssertEqual(Array(bytes[128..<132]), Array("DICM".utf8))
        // (0002,0000) UL 4 <length>
        XCTAssertEqual(Array(bytes[132..<140]), [0x02, 0x00, 0x00, 0x00, 0x55, 0x4C, 0x04, 0x00])
        let groupLength = Int(bytes[140]) | Int(bytes[141]) << 8 | Int(bytes[142]) << 16 | Int(bytes[143]) << 24
        // The meta group ends where the first dataset element (0008,0016) begins.
        let datasetStart = 144 + groupLength
        XCTAssertEqual(Array(bytes[datasetStart..<datasetStart + 4]), [0x08, 0x00, 0x16, 0x00])
        XCTAssertEqual(groupLength % 2, 0)
        let file = try DICOMFile(data: Data(bytes), source: "meta")
        XCTAssertEqual(file.transferSyntaxUID, "1.2.840.10008.1.2")
        XCTAssertEqual(file.meta.int(.fileMetaInformationGroupLength), groupLength)
        XCTAssertEqual(file.meta.data(DICOMTag(0x0002, 0x0001)), [0, 1])
        XCTAssertEqual(file.meta.string(.mediaStorageSOPClassUID), "1.2.3")
        XCTAssertEqual(file.meta.string(.mediaStorageSOPInstanceUID), "2.25.42")
        XCTAssertEqual(file.meta.string(DICOMTag(0x0002, 0x0012)), DICOMWriter.implementationClassUID)
        XCTAssertEqual(file.meta.string(DICOMTag(0x0002, 0x0013)), DICOMWriter.implementationVersionName)
        XCTAssertTrue(file.warnings.isEmpty, "\(file.warnings)")
    }

    /// A dataset with many VRs, nested sequences and native pixel data.
    func richDataset() -> (DICOMDatasetBuilder, [UInt16]) {
        var ds = DICOMDatasetBuilder()
        ds.set(.sopClassUID, .UI, "1.2.840.10008.5.1.4.1.1.12.1")
        ds.set(.sopInstanceUID, .UI, "2.25.123456789012345678901234567890")
        ds.set(.specificCharacterSet, .CS, "ISO_IR 100")
        ds.set(DICOMTag(0x0008, 0x0008), .CS, strings: ["ORIGINAL", "PRIMARY", "SINGLE PLANE"])
        ds.set(.patientName, .PN, "SYNTHETIC^WRITER")
        ds.set(.patientID, .LO, "SYN-1")
        ds.set(DICOMTag(0x0008, 0x0020), .DA, "20240102")
        ds.set(DICOMTag(0x0008, 0x2111), .ST, "Text with \\ backslash")
        ds.set(.frameTime, .DS, double: 66.7)
        ds.set(.windowCenter, .DS, doubles: [2048, -0.125])
        ds.set(.numberOfFrames, .IS, int: 2)
        ds.set(DICOMTag(0x0028, 0x0009), attributeTags: [.frameTime])
        ds.set(DICOMTag(0x0028, 0x1041), .SS, int: -1)
        ds.set(DICOMTag(0x0018, 0x11B9), .FD, doubles: [1.5, -2.25])
        ds.set(DICOMTag(0x0018, 0x0013), .FL, double: 0.5)
        ds.set(DICOMTag(0x0018, 0x106E), .UL, int: 4_000_000_000)
        ds.set(DICOMTag(0x0018, 0x6020), .SL, int: -70000)
        ds.set(.rows, .US, int: 3)
        ds.set(.columns, .US, int: 4)
        ds.set(.samplesPerPixel, .US, int: 1)
        ds.set(.photometricInterpretation, .CS, "MONOCHROME2")
        ds.set(.bitsAllocated, .US, int: 16)
        ds.set(.bitsStored, .US, int: 12)
        ds.set(.highBit, .US, int: 11)
        ds.set(.pixelRepresentation, .US, int: 0)
        var inner = DICOMDatasetBuilder()
        inner.set(DICOMTag(0x0028, 0x6110), .US, ints: [1, 2])
        var item = DICOMDatasetBuilder()
        item.set(DICOMTag(0x0028, 0x6101), .CS, "AVG_SUB")
        item.set(DICOMTag(0x0008, 0x1140), sequence: [inner, DICOMDatasetBuilder()])
        ds.set(.maskSubtractionSequence, sequence: [item, DICOMDatasetBuilder()])
        let pixels: [UInt16] = (0..<24).map { UInt16(($0 * 173) % 4096) }
        var bytes: [UInt8] = []
        for v in pixels { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        ds.setNativePixelData(bytes)
        return (ds, pixels)
    }

    func testRoundTripThroughReader() throws {
        let (ds, pixels) = richDataset()
        for syntax in [DICOMWriteSyntax.explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian] {
            let bytes = try DICOMWriter.encode(ds, syntax: syntax)
            XCTAssertEqual(bytes.count % 2, 0)
            let file = try DICOMFile(data: Data(bytes), source: syntax.shortName)
            let d = file.dataset
            let m = syntax.shortName
            XCTAssertEqual(file.transferSyntaxUID, syntax.uid, m)
            XCTAssertTrue(file.warnings.isEmpty, "\(m): \(file.warnings)")
            XCTAssertEqual(d.strings(DICOMTag(0x0008, 0x0008)), ["ORIGINAL", "PRIMARY", "SINGLE PLANE"], m)
            XCTAssertEqual(d.string(.patientName), "SYNTHETIC^WRITER", m)
            XCTAssertEqual(d.string(DICOMTag(0x0008, 0x2111)), "Text with \\ backslash", m)
            XCTAssertEqual(d.string(.sopInstanceUID), "2.25.123456789012345678901234567890", m)
            XCTAssertEqual(d.double(.frameTime), 66.7, m)
            XCTAssertEqual(d.doubles(.windowCenter), [2048, -0.125], m)
            XCTAssertEqual(d.int(.numberOfFrames), 2, m)
            XCTAssertEqual(d.int(DICOMTag(0x0028, 0x1041)), -1, m)
            // Implicit VR records no VR and our reader's dictionary lacks these tags (dcmdump checks them below).
            if syntax.isExplicitVR {
                XCTAssertEqual(d.doubles(DICOMTag(0x0018, 0x11B9)), [1.5, -2.25], m)
                XCTAssertEqual(d.double(DICOMTag(0x0018, 0x0013)), 0.5, m)
                XCTAssertEqual(d.int(DICOMTag(0x0018, 0x106E)), 4_000_000_000, m)
                XCTAssertEqual(d.int(DICOMTag(0x0018, 0x6020)), -70000, m)
            }
            let items = try XCTUnwrap(d.sequence(.maskSubtractionSequence), m)
            XCTAssertEqual(items.count, 2, m)
            XCTAssertEqual(items[0].string(DICOMTag(0x0028, 0x6101)), "AVG_SUB", m)
            let nested = try XCTUnwrap(items[0].sequence(DICOMTag(0x0008, 0x1140)), m)
            XCTAssertEqual(nested.count, 2, m)
            XCTAssertEqual(nested[0].ints(DICOMTag(0x0028, 0x6110)), [1, 2], m)
            XCTAssertEqual(nested[1].count, 0, m)
            XCTAssertEqual(items[1].count, 0, m)
            // AT: group then element, each in the syntax's byte order.
            let at = try XCTUnwrap(d.data(DICOMTag(0x0028, 0x0009)), m)
            XCTAssertEqual(at, syntax.isBigEndian ? [0x00, 0x18, 0x10, 0x63] : [0x18, 0x00, 0x63, 0x10], m)
            let reader = try PixelDataReader(file: file)
            XCTAssertEqual(reader.frameCount, 2, m)
            XCTAssertEqual(try reader.frame(0).samples, .uint16(Array(pixels[0..<12])), m)
            XCTAssertEqual(try reader.frame(1).samples, .uint16(Array(pixels[12..<24])), m)
        }
    }

    /// dcmtk's dcmdump, an independent parser, reads back what we wrote.
    func testDcmdumpReadsEverySyntax() throws {
        let (ds, _) = richDataset()
        let dir = try DICOMWriterToolRunner.temporaryDirectory("writer-dcmdump")
        defer { try? FileManager.default.removeItem(at: dir) }
        for syntax in [DICOMWriteSyntax.explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian] {
            let url = dir.appendingPathComponent("\(syntax.shortName).dcm")
            try DICOMWriter.write(ds, syntax: syntax, to: url)
            let (status, out) = try DICOMWriterToolRunner.run("dcmdump", ["-dc", "+L", url.path], package: "dcmtk")
            XCTAssertEqual(status, 0, out)
            XCTAssertFalse(out.contains("W: "), "\(syntax.shortName): dcmdump warned:\n\(out)")
            XCTAssertFalse(out.contains("E: "), "\(syntax.shortName): dcmdump error:\n\(out)")
            // dcmdump shows odd-length text values with their space padding.
            for needle in ["(0002,0010) UI =\(syntax.shortName == "implicit-le" ? "LittleEndianImplicit" : syntax.shortName == "explicit-le" ? "LittleEndianExplicit" : "BigEndianExplicit")",
                           "(0002,0013) SH [DSA_TRIAGE_1]", "(0010,0010) PN [SYNTHETIC^WRITER]",
                           "(0018,1063) DS [66.7]", "(0028,1050) DS [2048\\-0.125 ]", "(0028,0009) AT (0018,1063)",
                           "(0028,1041) SS -1", "(0018,11b9) FD 1.5\\-2.25", "(0018,106e) UL 4000000000", "(0018,0013) FL 0.5",
                           "(0018,6020) SL -70000", "(0028,6110) US 1\\2", "(0028,6101) CS [AVG_SUB ]",
                           "(0008,0008) CS [ORIGINAL\\PRIMARY\\SINGLE PLANE ]"] {
                XCTAssertTrue(out.contains(needle), "\(syntax.shortName): dcmdump lacks \(needle):\n\(out)")
            }
        }
    }

    func testInvalidValuesThrow() {
        func fails(_ build: (inout DICOMDatasetBuilder) -> Void, _ syntax: DICOMWriteSyntax = .explicitVRLittleEndian,
                   line: UInt = #line) {
            var ds = DICOMDatasetBuilder()
            ds.set(.sopClassUID, .UI, "1.2")
            ds.set(.sopInstanceUID, .UI, "1.3")
            build(&ds)
            XCTAssertThrowsError(try DICOMWriter.encode(ds, syntax: syntax), line: line) { error in
                XCTAssertTrue(error is DICOMWriterError, "\(error)", line: line)
            }
        }
        fails { $0.set(.rows, .US, int: 70000) }
        fails { $0.set(.rows, .US, int: -1) }
        fails { $0.set(.studyInstanceUID, .UI, "1.2.abc") }
        fails { $0.set(.studyInstanceUID, .UI, String(repeating: "1", count: 65)) }
        fails { $0.set(.patientName, .PN, strings: ["A\\B"]) }
        fails { $0.set(.frameTime, .DS, double: .nan) }
        fails { $0.set(.rows, .US, "text") }
        fails { $0.remove(.sopClassUID) }
        fails { $0.setEncapsulatedPixelData(frames: [[1, 2]]) }                                  // native syntax
        fails({ $0.setNativePixelData([1, 2]) }, .rleLossless)                                  // encapsulated syntax
        fails({ $0.setEncapsulatedPixelData(frames: []) }, .rleLossless)
        fails { $0.set(DICOMTag(0x0009, 0x1000), .LO, String(repeating: "x", count: 70_000)) }   // 16-bit length
    }

    func testDecimalStrings() throws {
        let t = DICOMTag(0x0018, 0x1063)
        XCTAssertEqual(try DICOMWriter.decimalString(66.7, tag: t), "66.7")
        XCTAssertEqual(try DICOMWriter.decimalString(-3, tag: t), "-3")
        XCTAssertEqual(try DICOMWriter.decimalString(1.0 / 3.0, tag: t), "0.333333333333")
        XCTAssertEqual(try DICOMWriter.decimalString(1.2345678901234e-7, tag: t), "1.23456789012e-7")
    }
}
