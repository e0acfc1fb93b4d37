import DICOM
import Foundation
import XCTest

/// RLE Lossless and JPEG Lossless SV1 output decoded by dcmtk (dcmdrle, dcmdjpeg) and compared exactly.
final class DICOMWriterCodecTests: XCTestCase {
    /// A deterministic test image: smooth ramps, flat runs, noise and extreme jumps.
    static func image(rows: Int, columns: Int, frame: Int, precision: Int) -> [UInt16] {
        let maxValue = (1 << precision) - 1
        var state = UInt64(0x1234_5678 + frame)
        var out = [UInt16](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let noise = Int(state >> 60)
                var v: Int
                switch (r / 4) % 4 {
                case 0: v = (r * 37 + c * 11 + frame * 5) % (maxValue + 1)           // ramps
                case 1: v = c < columns / 2 ? maxValue / 3 : maxValue / 3 + 1          // runs
                case 2: v = (c % 2 == 0) ? 0 : maxValue                               // extreme jumps
                default: v = maxValue / 2 + noise - 8                                  // noise
                }
                out[r * columns + c] = UInt16(min(max(v, 0), maxValue))
            }
        }
        return out
    }

    func dataset(frames: [[UInt16]], rows: Int, columns: Int, bitsStored: Int, encoded: [[UInt8]]) -> DICOMDatasetBuilder {
        var ds = DICOMDatasetBuilder()
        ds.set(.sopClassUID, .UI, "1.2.840.10008.5.1.4.1.1.7")
        ds.set(.sopInstanceUID, .UI, "2.25.99")
        ds.set(.modality, .CS, "OT")
        ds.set(.samplesPerPixel, .US, int: 1)
        ds.set(.photometricInterpretation, .CS, "MONOCHROME2")
        ds.set(.rows, .US, int: rows)
        ds.set(.columns, .US, int: columns)
        ds.set(.numberOfFrames, .IS, int: frames.count)
        ds.set(.bitsAllocated, .US, int: 16)
        ds.set(.bitsStored, .US, int: bitsStored)
        ds.set(.highBit, .US, int: bitsStored - 1)
        ds.set(.pixelRepresentation, .US, int: 0)
        ds.setEncapsulatedPixelData(frames: encoded)
        return ds
    }

    /// Writes `ds`, decompresses it with `tool`, reads the result with our native reader.
    func decodeWithDcmtk(_ ds: DICOMDatasetBuilder, syntax: DICOMWriteSyntax, tool: String, label: String) throws -> [PixelFrame] {
        let dir = try DICOMWriterToolRunner.temporaryDirectory("codec-\(label)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("in.dcm"), dst = dir.appendingPathComponent("out.dcm")
        try DICOMWriter.write(ds, syntax: syntax, to: src)
        let (status, out) = try DICOMWriterToolRunner.run(tool, [src.path, dst.path], package: "dcmtk")
        XCTAssertEqual(status, 0, "\(label): \(tool) failed:\n\(out)")
        XCTAssertFalse(out.contains("W: ") || out.contains("E: "), "\(label): \(tool) complained:\n\(out)")
        let file = try DICOMFile(url: dst)
        XCTAssertFalse(DICOMTransferSyntax.isEncapsulated(file.transferSyntaxUID), label)
        return try PixelDataReader(file: file).frames()
    }

    func testPackBitsHandComputed() throws {
        // Row 1: run of 3 ones, then literal 2 3  → FE 01 | 01 02 03
        // Row 2: literal 9 8, then run of 3 sevens → 01 09 08 | FE 07  (each row encoded separately)
        let frame: [UInt8] = [1, 1, 1, 2, 3, 9, 8, 7, 7, 7]
        let encoded = try RLEEncoder.encode(frame: frame, rows: 2, columns: 5, bytesPerSample: 1)
        var header = [UInt8](repeating: 0, count: 64)
        header[0] = 1
        header[4] = 64
        XCTAssertEqual(Array(encoded[0..<64]), header)
        XCTAssertEqual(Array(encoded[64...]), [0xFE, 0x01, 0x01, 0x02, 0x03, 0x01, 0x09, 0x08, 0xFE, 0x07])
    }

    func testRLESegmentsHandComputed() throws {
        // 16-bit samples 0x0102, 0x0102, 0x0304 in one row: high-byte plane 01 01 03, low-byte plane 02 02 04.
        let encoded = try RLEEncoder.encode(frame: [0x0102, 0x0102, 0x0304], rows: 1, columns: 3)
        XCTAssertEqual(Array(encoded[0..<12]), [2, 0, 0, 0, 64, 0, 0, 0, 68, 0, 0, 0])
        // FF 01 (two 01s), 00 03 (literal 03) → 4 bytes, even; then FF 02, 00 04.
        XCTAssertEqual(Array(encoded[64...]), [0xFF, 0x01, 0x00, 0x03, 0xFF, 0x02, 0x00, 0x04])
    }

    func testPackBitsLongRunsAndLiterals() throws {
        // 300 equal bytes then 200 distinct: runs split at 128, literals at 128.
        let row = [UInt8](repeating: 5, count: 300) + (0..<200).map { UInt8($0 % 251) }
        let encoded = try RLEEncoder.encode(frame: row, rows: 1, columns: row.count, bytesPerSample: 1)
        let body = Array(encoded[64...])
        XCTAssertEqual(Array(body[0..<6]), [0x81, 5, 0x81, 5, 0xD5, 5])   // 128 + 128 + 44
        XCTAssertEqual(body[6], 127)                                    // 128 literal bytes
        XCTAssertEqual(body[6 + 129], 71)                               // then 72
        XCTAssertEqual(body.count, 6 + 129 + 73)                        // already even: no pad
    }

    func testRLERoundTripThroughDcmdrle() throws {
        for (rows, columns, bits) in [(33, 47, 12), (16, 16, 16), (8, 130, 8)] {
            let frames = (0..<3).map { Self.image(rows: rows, columns: columns, frame: $0, precision: bits) }
            let encoded = try frames.map { try RLEEncoder.encode(frame: $0, rows: rows, columns: columns) }
            let ds = dataset(frames: frames, rows: rows, columns: columns, bitsStored: bits, encoded: encoded)
            let decoded = try decodeWithDcmtk(ds, syntax: .rleLossless, tool: "dcmdrle", label: "rle-\(bits)")
            XCTAssertEqual(decoded.count, 3)
            for (k, f) in decoded.enumerated() { XCTAssertEqual(f.int32Values(), frames[k].map(Int32.init), "RLE \(bits)-bit frame \(k)") }
        }
    }

    func testJPEGLosslessRoundTripThroughDcmdjpeg() throws {
        for (rows, columns, precision) in [(33, 47, 12), (16, 24, 16), (20, 9, 8), (7, 5, 2), (64, 64, 10)] {
            let frames = (0..<2).map { Self.image(rows: rows, columns: columns, frame: $0, precision: precision) }
            let encoded = try frames.map { try JPEGLosslessEncoder.encode(frame: $0, rows: rows, columns: columns, precision: precision) }
            for e in encoded {
                XCTAssertEqual(Array(e[0..<4]), [0xFF, 0xD8, 0xFF, 0xC3])
                XCTAssertEqual(e.count % 2, 0)
            }
            let ds = dataset(frames: frames, rows: rows, columns: columns, bitsStored: precision, encoded: encoded)
            let decoded = try decodeWithDcmtk(ds, syntax: .jpegLosslessSV1, tool: "dcmdjpeg", label: "jpeg-\(precision)")
            XCTAssertEqual(decoded.count, 2)
            for (k, f) in decoded.enumerated() {
                // dcmtk stores 8-bit precision in 8-bit samples: compare values, not the sample type.
                XCTAssertEqual(f.int32Values(), frames[k].map(Int32.init), "JPEG precision \(precision) frame \(k)")
            }
        }
    }

    /// Differences with a very skewed category histogram force Huffman codes past 16 bits before limiting.
    func testJPEGLosslessSkewedHistogramThroughDcmdjpeg() throws {
        // Each category s appears about 2^(16−s) times... by repeating a step of 2^(s−1) that many times.
        var values: [UInt16] = []
        var v = 0
        for s in 0...16 {
            let count = max(1, 1 << max(0, 12 - s))
            let step = s == 0 ? 0 : 1 << (s - 1)
            for _ in 0..<count {
                v = (v + step) & 0xFFFF
                values.append(UInt16(v))
            }
        }
        let columns = 64
        while values.count % columns != 0 { values.append(values.last ?? 0) }
        let rows = values.count / columns
        let encoded = try JPEGLosslessEncoder.encode(frame: values, rows: rows, columns: columns, precision: 16)
        let ds = dataset(frames: [values], rows: rows, columns: columns, bitsStored: 16, encoded: [encoded])
        let decoded = try decodeWithDcmtk(ds, syntax: .jpegLosslessSV1, tool: "dcmdjpeg", label: "jpeg-skewed")
        XCTAssertEqual(decoded.first?.int32Values(), values.map(Int32.init))
    }

    func testEncoderRejectsBadInput() {
        XCTAssertThrowsError(try JPEGLosslessEncoder.encode(frame: [4096], rows: 1, columns: 1, precision: 12))
        XCTAssertThrowsError(try JPEGLosslessEncoder.encode(frame: [1], rows: 1, columns: 1, precision: 17))
        XCTAssertThrowsError(try JPEGLosslessEncoder.encode(frame: [1, 2], rows: 1, columns: 1, precision: 8))
        XCTAssertThrowsError(try RLEEncoder.encode(frame: [1, 2, 3], rows: 1, columns: 2, bytesPerSample: 1))
        XCTAssertThrowsError(try RLEEncoder.encode(frame: [1, 2], rows: 1, columns: 2, bytesPerSample: 3))
    }
}
