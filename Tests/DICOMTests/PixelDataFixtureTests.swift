@testable import DICOM
import Foundation
import XCTest

/// Decodes the fixtures of tools/make_dicom_pixel_fixtures.py and compares every frame with pydicom's
/// `pixel_array` (stored as .npy next to each file): same dtype, shape and bytes.
final class PixelDataFixtureTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/dicom-pixels").standardized

    static func manifest() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("manifest.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(json["fixtures"] as? [String: [String: Any]])
    }

    func testEveryFixtureMatchesPydicom() throws {
        let manifest = try Self.manifest()
        XCTAssertGreaterThanOrEqual(manifest.count, 50)
        var decoded = 0
        // Every file twice: read whole, and with its pixel data left on disk (read a frame at a time), as large
        // files are.
        var leftOnDisk = DICOMLimits()
        leftOnDisk.bulkFileBytes = 0
        for (limits, name) in manifest.keys.sorted().flatMap({ n in [(DICOMLimits(), n), (leftOnDisk, n)] }) {
            let want = manifest[name] ?? [:]
            let file = try DICOMFile(url: Self.fixtures.appendingPathComponent(name + ".dcm"), limits: limits)
            if limits.bulkFileBytes == 0, case let .native(value, _, _)? = file.dataset.pixelData {
                guard case .file = value else { return XCTFail("\(name): native pixel data was not left in the file") }
            }
            XCTAssertEqual(file.transferSyntaxUID, want["transferSyntax"] as? String, name)
            if want["unsupported"] != nil {
                XCTAssertThrowsError(try PixelDataReader(file: file), name) { error in
                    guard case .unsupportedTransferSyntax? = error as? DICOMError else {
                        return XCTFail("\(name): expected unsupportedTransferSyntax, got \(error)")
                    }
                    let text = "\(error)"
                    XCTAssertTrue(text.contains("unsupported transfer syntax"), text)
                    XCTAssertTrue(text.contains("1.2.840.10008.1.2.4.100"), text)
                    XCTAssertTrue(text.contains("MPEG2 Main Profile / Main Level"), text)
                }
                continue
            }
            let npy = try NPY(url: Self.fixtures.appendingPathComponent(name + ".npy"))
            let reader = try PixelDataReader(file: file)
            let frames = try reader.frames()
            XCTAssertEqual(frames.count, want["frames"] as? Int, name)
            XCTAssertEqual(frames.first?.sampleType.numpyDescriptor, NPY.normalized(npy.descr), "\(name): dtype")
            XCTAssertEqual(reader.shapeLikePydicom, npy.shape, "\(name): shape")
            XCTAssertEqual(reader.description.sampleType.numpyDescriptor, NPY.normalized(npy.descr), "\(name): description dtype")
            let bytes = frames.flatMap { $0.littleEndianBytes() }
            XCTAssertEqual(bytes.count, npy.data.count, "\(name): byte count")
            if bytes != npy.data {
                let firstBad = zip(bytes, npy.data).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1
                XCTFail("\(name): decoded bytes differ from pydicom's, first at byte \(firstBad)")
            }
            // The YBR photometric interpretations come back as RGB, as pydicom converts them by default.
            let pi = want["photometric"] as? String ?? ""
            let expectedPI = pi.hasPrefix("YBR_FULL") ? "RGB" : pi
            XCTAssertEqual(frames.first?.photometricInterpretation, expectedPI, name)
            // A lone frame decodes to the same as the batch.
            if let last = frames.last { XCTAssertEqual(try reader.frame(frames.count - 1), last, name) }
            decoded += 1
        }
        XCTAssertEqual(decoded, 2 * (manifest.count - 1))
    }

    /// Hand-computed values for the corrections pydicom applies (independent of the fixtures).
    func testNativeBitsStoredAndSignByHand() throws {
        // 16-bit words 0xF123, 0x0FFF, 0x8800, 0x0001 with 12 bits stored: pydicom keeps the low 12 bits
        // whatever High Bit says, and sign-extends bit 11 for Pixel Representation 1.
        let words: [UInt16] = [0xF123, 0x0FFF, 0x8800, 0x0001]
        let bytes = words.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        for highBit in [11, 15] {
            let d = PixelDescription(rows: 2, columns: 2, bitsAllocated: 16, bitsStored: 12, highBit: highBit)
            let f = NativePixelUnpacker(description: d, bigEndian: false, vr: .OW).frame(0, from: bytes)
            XCTAssertEqual(f.samples, .uint16([0x123, 0xFFF, 0x800, 1]))
            var s = d
            s.isSigned = true
            let g = NativePixelUnpacker(description: s, bigEndian: false, vr: .OW).frame(0, from: bytes)
            XCTAssertEqual(g.samples, .int16([291, -1, -2048, 1]))
        }
    }

    func testYBRToRGBByHand() throws {
        // Y 100 with neutral chroma stays grey; (200, 100, 150) → (231, 194, 150) in pydicom 3.0.
        let f = PixelFrame(rows: 1, columns: 2, samplesPerPixel: 3, photometricInterpretation: "YBR_FULL",
                           samples: .uint8([100, 128, 128, 200, 100, 150]))
        let rgb = try ColorConversion.toRGBIfYBR(f, source: "x")
        XCTAssertEqual(rgb.samples, .uint8([100, 100, 100, 231, 194, 150]))
        XCTAssertEqual(rgb.photometricInterpretation, "RGB")
        // pydicom 3.0 refuses the conversion for anything but uint8 ("Invalid ndarray.dtype ... must be 'uint8'").
        for samples in [PixelFrame.Samples.int8([100, -128, -128]), .uint16([100, 128, 128])] {
            let g = PixelFrame(rows: 1, columns: 1, samplesPerPixel: 3, photometricInterpretation: "YBR_FULL", samples: samples)
            XCTAssertThrowsError(try ColorConversion.toRGBIfYBR(g, source: "y.dcm")) { error in
                XCTAssertTrue("\(error)".contains("y.dcm: pixel data: YBR_FULL to RGB conversion needs 8-bit unsigned"), "\(error)")
            }
        }
    }

    /// The JPEG codec's output (interleaved 16-bit samples) becomes a frame of the file's type.
    func testJPEGSampleConversion() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("native_s12_in16.dcm"))
        let reader = try PixelDataReader(file: DICOMFile(data: data, source: "s12"))
        let d = reader.description
        // 0x0FFF is -1 in 12-bit two's complement; 0x0800 is -2048; 0x07FF is 2047.
        var samples = [UInt16](repeating: 0, count: d.rows * d.columns)
        samples[0] = 0x0FFF; samples[1] = 0x0800; samples[2] = 0x07FF
        let f = try reader.frameFromJPEG(samples: samples, width: d.columns, height: d.rows, components: 1,
                                         precision: 12, isRGB: false, index: 0)
        XCTAssertEqual(f.value(row: 0, column: 0), -1)
        XCTAssertEqual(f.value(row: 0, column: 1), -2048)
        XCTAssertEqual(f.value(row: 0, column: 2), 2047)
        XCTAssertEqual(f.sampleType, .int16)
        XCTAssertThrowsError(try reader.frameFromJPEG(samples: samples, width: d.columns + 1, height: d.rows,
                                                      components: 1, precision: 12, isRGB: false, index: 0))
    }
}

extension PixelDataReader {
    /// The shape pydicom's pixel_array has: (frames,) rows, columns (, samples), singleton axes dropped.
    var shapeLikePydicom: [Int] {
        let d = description
        return (d.numberOfFrames > 1 ? [d.numberOfFrames] : []) + [d.rows, d.columns] + (d.samplesPerPixel > 1 ? [d.samplesPerPixel] : [])
    }
}

/// The parts of a NumPy .npy file the pixel tests need: dtype string, shape and raw little-endian bytes.
struct NPY {
    var descr: String
    var shape: [Int]
    var data: [UInt8]

    init(url: URL) throws {
        let bytes = [UInt8](try Data(contentsOf: url))
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw DICOMError.notDICOM(file: url.path, reason: "not an .npy file")
        }
        let major = bytes[6]
        let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let headerStart = major == 1 ? 10 : 12
        let header = String(decoding: bytes[headerStart..<headerStart + headerLength], as: UTF8.self)
        func field(_ key: String) -> Substring? {
            guard let r = header.range(of: "'\(key)': ") else { return nil }
            return header[r.upperBound...]
        }
        let d = field("descr") ?? ""
        descr = String(d.dropFirst().prefix { $0 != "'" })
        let s = field("shape") ?? ""
        shape = s.dropFirst().prefix { $0 != ")" }.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        data = Array(bytes[(headerStart + headerLength)...])
    }

    /// "|u1" and "<u1" name the same type.
    static func normalized(_ descr: String) -> String {
        descr.hasSuffix("1") ? "|" + descr.dropFirst() : descr
    }
}
