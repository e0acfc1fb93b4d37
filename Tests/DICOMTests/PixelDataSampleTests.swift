import DICOM
import Foundation
import XCTest

/// Decodes every pixel-bearing sample file shipped with pydicom whose transfer syntax this reader handles and
/// compares shape, dtype and a hash of the values with pydicom's pixel_array (pydicom_pixel_samples.json,
/// written by tools/make_dicom_pixel_fixtures.py). Lossless JPEG samples must equal pydicom exactly; lossy ones
/// the libjpeg-family reference recorded beside pydicom's hash.
final class PixelDataSampleTests: XCTestCase {
    func testPydicomSamplesMatch() throws {
        let url = PixelDataFixtureTests.fixtures.appendingPathComponent("pydicom_pixel_samples.json")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let files = try XCTUnwrap(json["files"] as? [String: [String: Any]])
        let root = try Self.pydicomTestFiles()
        var matched = 0, lossy = 0
        for rel in files.keys.sorted() {
            let want = files[rel] ?? [:]
            let path = root.appendingPathComponent(rel)
            guard FileManager.default.fileExists(atPath: path.path) else {
                XCTFail("\(rel): listed in pydicom_pixel_samples.json but missing under \(root.path); " +
                        "run scripts/bootstrap (pydicom \(json["pydicom"] ?? "?")) or regenerate the fixtures")
                continue
            }
            let file = try DICOMFile(url: path)
            let reader: PixelDataReader
            let frames: [PixelFrame]
            do {
                reader = try PixelDataReader(file: file)
                frames = try reader.frames()
            } catch {
                XCTFail("\(rel): \(error)")
                continue
            }
            XCTAssertEqual(reader.shapeLikePydicom, want["shape"] as? [Int], "\(rel): shape")
            XCTAssertEqual(frames.first?.sampleType.numpyDescriptor, want["dtype"] as? String, "\(rel): dtype")
            var hasher = ArrayHash()
            for f in frames { hasher.add(f.littleEndianBytes()) }
            if let reference = want["hash_reference"] as? String {
                // Lossy JPEG: pydicom's default decoder (pylibjpeg) rounds differently from libjpeg; the
                // reader equals the libjpeg-family decode the generator recorded (Pillow 8-bit, dcmdjpeg 12-bit).
                XCTAssertEqual(hasher.hex, reference, "\(rel): values differ from \(want["reference"] ?? "?")")
                lossy += 1
                continue
            }
            XCTAssertEqual(hasher.hex, want["hash"] as? String, "\(rel): values differ from pydicom's")
            matched += 1
        }
        XCTAssertGreaterThan(matched, 60)
        XCTAssertGreaterThanOrEqual(lossy, 10)
    }

    /// pydicom's test_files directory, found through the installed package.
    static func pydicomTestFiles() throws -> URL {
        do {
            return try DICOMFixtureTests.pydicomTestFiles()
        } catch {
            struct MissingPydicom: Error, CustomStringConvertible {
                var description: String {
                    "pydicom's sample files are needed and python3 cannot import pydicom: run scripts/bootstrap"
                }
            }
            throw MissingPydicom()
        }
    }
}

/// The hash of tools/make_dicom_pixel_fixtures.py (`array_hash`): little-endian 64-bit words w[i] of the
/// zero-padded bytes, wrapping sum of (w ^ (w >> 29)) * (2i + 1) * 0x9E3779B97F4A7C15, plus the byte count.
struct ArrayHash {
    private var sum: UInt64 = 0
    private var count: UInt64 = 0
    private var pending: [UInt8] = []
    private var word: UInt64 = 0

    mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            // Finish a partial word first.
            while !pending.isEmpty && i < b.count {
                pending.append(b[i]); i += 1
                if pending.count == 8 { addWord(pending); pending.removeAll() }
            }
            while i + 8 <= b.count {
                var w: UInt64 = 0
                for k in 0..<8 { w |= UInt64(b[i + k]) << UInt64(8 * k) }
                mix(w)
                i += 8
            }
            while i < b.count { pending.append(b[i]); i += 1 }
        }
        count &+= UInt64(bytes.count)
    }

    private mutating func addWord(_ p: [UInt8]) {
        var w: UInt64 = 0
        for (k, v) in p.enumerated() { w |= UInt64(v) << UInt64(8 * k) }
        mix(w)
    }

    private mutating func mix(_ w: UInt64) {
        let k = (word &* 2 &+ 1) &* 0x9E37_79B9_7F4A_7C15
        sum &+= (w ^ (w >> 29)) &* k
        word += 1
    }

    var hex: String {
        var copy = self
        if !copy.pending.isEmpty {
            let p = copy.pending + [UInt8](repeating: 0, count: 8 - copy.pending.count)
            copy.addWord(p)
        }
        let v = copy.sum &+ copy.count
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
