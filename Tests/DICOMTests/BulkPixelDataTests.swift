@testable import DICOM
import Foundation
import XCTest

/// Large files: the header is parsed from a map, the pixel data stays in the file and is read a frame at a
/// time, so memory does not grow with the number of frames.
final class BulkPixelDataTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bulk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// The stored value of pixel `i` of frame `k` in the files written here (12 bits stored).
    static func value(frame k: Int, pixel i: Int) -> UInt16 { UInt16((k * 37 + i * 5 + (i >> 10)) & 0x0FFF) }

    /// Writes an explicit VR little endian multi-frame file with 16-bit native pixel data, frame by frame, so the
    /// test process never holds the run in memory; a trailing element follows the pixel data.
    static func writeRun(to url: URL, frames: Int, rows: Int, columns: Int) throws {
        var ds = DICOMDatasetBuilder()
        ds.set(.sopClassUID, .UI, "1.2.840.10008.5.1.4.1.1.12.1")
        ds.set(.sopInstanceUID, .UI, "2.25.1234567")
        ds.set(.modality, .CS, "XA")
        ds.set(.samplesPerPixel, .US, int: 1)
        ds.set(.photometricInterpretation, .CS, "MONOCHROME2")
        ds.set(.numberOfFrames, .IS, int: frames)
        ds.set(.rows, .US, int: rows)
        ds.set(.columns, .US, int: columns)
        ds.set(.bitsAllocated, .US, int: 16)
        ds.set(.bitsStored, .US, int: 12)
        ds.set(.highBit, .US, int: 11)
        ds.set(.pixelRepresentation, .US, int: 0)
        var head = try DICOMWriter.encode(ds, syntax: .explicitVRLittleEndian)
        let length = UInt32(frames * rows * columns * 2)
        head += [0xE0, 0x7F, 0x10, 0x00, 0x4F, 0x57, 0x00, 0x00]
        head += withUnsafeBytes(of: length.littleEndian) { Array($0) }
        FileManager.default.createFile(atPath: url.path, contents: Data(head))
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        let pixels = rows * columns
        for k in 0..<frames {
            var frame = [UInt8](repeating: 0, count: pixels * 2)
            for i in 0..<pixels {
                let v = value(frame: k, pixel: i)
                frame[2 * i] = UInt8(v & 0xFF)
                frame[2 * i + 1] = UInt8(v >> 8)
            }
            try handle.write(contentsOf: frame)
        }
        // Data Set Trailing Padding (FFFC,FFFC) OB, 4 bytes: parsed after the pixel data.
        try handle.write(contentsOf: [0xFC, 0xFF, 0xFC, 0xFF, 0x4F, 0x42, 0x00, 0x00, 4, 0, 0, 0, 0, 0, 0, 0])
    }

    static func residentBytes() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { throw CocoaError(.fileReadCorruptFile) }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// 100 frames of 1024×1024 at 16 bits (200 MB): reading the header and decoding every frame in turn adds
    /// far less than one copy of the file to the process. Reading the file whole (as before) added two.
    func testHundredFrameRunIsStreamed() throws {
        let url = folder.appendingPathComponent("run.dcm")
        let frames = 100, rows = 1024, columns = 1024
        try Self.writeRun(to: url, frames: frames, rows: rows, columns: columns)
        let before = try Self.residentBytes()
        let file = try DICOMFile(url: url)
        let afterHeader = try Self.residentBytes()
        XCTAssertNotNil(file.dataset[DICOMTag(0xFFFC, 0xFFFC)], "the element after the pixel data is read")
        guard case let .native(value, _, _)? = file.dataset.pixelData, case .file = value else {
            return XCTFail("a 200 MB file's pixel data should stay in the file")
        }
        let reader = try PixelDataReader(file: file)
        var peak = afterHeader
        for k in 0..<frames {
            let frame = try reader.frame(k)
            guard case let .uint16(samples) = frame.samples else { return XCTFail("frame \(k): 16-bit samples expected") }
            for i in [0, 1, 1023, 1024, 500_000, rows * columns - 1] where samples[i] != Self.value(frame: k, pixel: i) {
                return XCTFail("frame \(k) pixel \(i): \(samples[i]) != \(Self.value(frame: k, pixel: i))")
            }
            peak = max(peak, try Self.residentBytes())
        }
        let mb = { (b: Int) in String(format: "%.1f MB", Double(b) / 1_048_576) }
        print("200 MB run: header +\(mb(afterHeader - before)), decoding 100 frames one by one peak +\(mb(peak - before))")
        XCTAssertLessThan(afterHeader - before, 16 << 20, "the header parse must not read the pixel data")
        XCTAssertLessThan(peak - before, 64 << 20, "decoding frame by frame must not hold the run")
    }

    /// A file that shrinks after its header was read gives an error naming it, not a crash.
    func testFileTruncatedAfterParse() throws {
        let url = folder.appendingPathComponent("short.dcm")
        try Self.writeRun(to: url, frames: 4, rows: 64, columns: 64)
        var limits = DICOMLimits()
        limits.bulkFileBytes = 0
        let file = try DICOMFile(url: url, source: "short.dcm", limits: limits)
        let reader = try PixelDataReader(file: file)
        XCTAssertEqual(try reader.frame(3).rows, 64)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 2_000)
        try handle.close()
        XCTAssertThrowsError(try reader.frame(3)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("short.dcm:"), text)
            XCTAssertTrue(text.contains("shorter than when it was read"), text)
        }
        try FileManager.default.removeItem(at: url)
        XCTAssertThrowsError(try reader.frame(0)) { error in
            XCTAssertTrue("\(error)".contains("short.dcm: cannot reopen"), "\(error)")
        }
    }

    /// The frame spans used for reading from the file cover odd sizes and single-bit samples.
    func testByteSpans() {
        func span(_ bits: Int, rows: Int, columns: Int, frame: Int) -> Range<Int> {
            let d = PixelDescription(rows: rows, columns: columns, bitsAllocated: bits, bitsStored: bits, numberOfFrames: 3)
            return NativePixelUnpacker(description: d, bigEndian: false, vr: .OW).byteSpan(ofFrame: frame)
        }
        XCTAssertEqual(span(16, rows: 3, columns: 3, frame: 1), 18..<36)
        XCTAssertEqual(span(8, rows: 3, columns: 3, frame: 1), 8..<18)   // 9..<18 widened to even offsets
        XCTAssertEqual(span(1, rows: 3, columns: 3, frame: 1), 0..<4)    // bits 9..<18 → bytes 1..<3 → 0..<4
        XCTAssertEqual(span(1, rows: 3, columns: 3, frame: 2), 2..<4)    // bits 18..<27 → bytes 2..<4
    }
}
