import Tensor
import DICOM
import Foundation
import TestSupport
import XCTest

/// Mutates the files of Tests/Fixtures/dicom-fuzz (byte flips, truncations, length-field corruption,
/// insertions, deletions, attribute corruption) with a fixed seed for a bounded time and runs the parser, the
/// pixel reader and every frame's decoding. The only property: each run returns or throws a DICOMError; a crash,
/// trap or hang fails the test.
final class DICOMFuzzTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/dicom-fuzz").standardized

    static let interesting16: [UInt16] = [0, 1, 2, 3, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF]
    static let interesting32: [UInt32] = [0, 1, 2, 3, 4, 7, 8, 0x40, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFF0, 0xFFFF_FFFE, 0xFFFF_FFFF]
    /// Image Pixel attributes whose values steer decoding: (0028,xxxx) element numbers.
    static let pixelElements: [UInt16] = [0x0002, 0x0006, 0x0008, 0x0010, 0x0011, 0x0100, 0x0101, 0x0102, 0x0103]

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        let rounds = 1 + rng.below(3)
        for _ in 0..<rounds {
            guard !b.isEmpty else { return b }
            // Bias towards the tail, where the pixel data and its fragment headers are.
            let position = rng.below(2) == 0 ? rng.below(b.count) : b.count - 1 - rng.below(min(b.count, 4096))
            switch rng.below(9) {
            case 0:  // bit flips
                for _ in 0..<(1 + rng.below(8)) { b[rng.below(b.count)] ^= UInt8(1) << UInt8(rng.below(8)) }
            case 1:  // random bytes
                for k in 0..<(1 + rng.below(4)) where position + k < b.count { b[position + k] = UInt8(truncatingIfNeeded: rng.next()) }
            case 2:  // truncation
                b.removeLast(rng.below(b.count))
            case 3:  // a 16-bit length or value field
                let v = interesting16[rng.below(interesting16.count)]
                if position + 2 <= b.count { b[position] = UInt8(v & 0xFF); b[position + 1] = UInt8(v >> 8) }
            case 4:  // a 32-bit length field, at an item tag when one is near
                let v = interesting32[rng.below(interesting32.count)]
                var p = position
                if let item = findItemTag(b, from: position) { p = item + 4 }
                if p + 4 <= b.count { for k in 0..<4 { b[p + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) } }
            case 5:  // insertion
                let n = 1 + rng.below(16)
                b.insert(contentsOf: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: position)
            case 6:  // deletion
                let n = min(1 + rng.below(64), b.count - position)
                b.removeSubrange(position..<position + n)
            case 7:  // an Image Pixel attribute's value
                let element = pixelElements[rng.below(pixelElements.count)]
                if let p = findTag(b, group: 0x0028, element: element), p + 10 <= b.count {
                    let v = interesting16[rng.below(interesting16.count)]
                    // Explicit VR short form: value at +8; implicit VR: at +8 as well (after a 4-byte length).
                    b[p + 8] = UInt8(v & 0xFF); b[p + 9] = UInt8(v >> 8)
                }
            default:  // duplicate a chunk elsewhere
                let n = min(1 + rng.below(256), b.count - position)
                let chunk = Array(b[position..<position + n])
                b.insert(contentsOf: chunk, at: rng.below(b.count))
            }
        }
        return b
    }

    static func findItemTag(_ b: [UInt8], from start: Int) -> Int? {
        var i = max(0, start - 64)
        while i + 4 <= min(b.count, start + 64) {
            if b[i] == 0xFE && b[i + 1] == 0xFF && b[i + 2] == 0x00 && b[i + 3] == 0xE0 { return i }
            i += 1
        }
        return nil
    }

    static func findTag(_ b: [UInt8], group: UInt16, element: UInt16) -> Int? {
        let pattern = [UInt8(group & 0xFF), UInt8(group >> 8), UInt8(element & 0xFF), UInt8(element >> 8)]
        var i = 132
        while i + 4 <= b.count {
            if b[i] == pattern[0] && b[i + 1] == pattern[1] && b[i + 2] == pattern[2] && b[i + 3] == pattern[3] { return i }
            i += 1
        }
        return nil
    }

    /// Parse, open the pixel data, decode every frame; only DICOMError may come out.
    static func exercise(_ bytes: [UInt8], name: String) -> (ok: Bool, error: Error?) {
        do {
            let file = try DICOMFile(data: Data(bytes), source: name)
            let reader = try PixelDataReader(file: file)
            _ = try reader.frames()
            return (true, nil)
        } catch is DICOMError {
            return (false, nil)
        } catch {
            return (false, error)
        }
    }

    /// Found by this test: a dataset of 6 or 7 bytes after the file meta made the VR sniffing read past the end.
    func testDatasetShorterThanOneElementHeader() {
        for tail in [[0x08, 0x00, 0x05, 0x00, 0x43, 0x53], [0x08, 0x00, 0x05, 0x00, 0x43, 0x53, 0x00]] as [[UInt8]] {
            var b = Part10Builder()
            b.transferSyntax = "1.2.840.10008.1.2"
            let r = Self.exercise([UInt8](b.data()) + tail, name: "short")
            XCTAssertNil(r.error)
            XCTAssertFalse(r.ok)
        }
    }

    func testMutatedFilesReturnOrThrowDICOMError() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".dcm") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 22, "fuzz corpus")
        let files = try names.map { [UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent($0))) }
        // Every corpus file decodes unmutated.
        for (name, bytes) in zip(names, files) {
            let r = Self.exercise(bytes, name: name)
            XCTAssertTrue(r.ok, "\(name) should decode before mutation")
        }
        // DICOM_FUZZ_SEED / DICOM_FUZZ_SECONDS allow longer local runs; the defaults keep CI deterministic.
        let env = ProcessInfo.processInfo.environment
        var rng = SplitMix64(seed: env["DICOM_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_D1C0_2026)
        let budget: TimeInterval = env["DICOM_FUZZ_SECONDS"].flatMap { TimeInterval($0) } ?? 15
        let start = Date()
        var runs = 0, decoded = 0
        while Date().timeIntervalSince(start) < budget && runs < (env["DICOM_FUZZ_SECONDS"] == nil ? 200_000 : Int.max) {
            let i = rng.below(files.count)
            let mutated = Self.mutate(files[i], &rng)
            let r = Self.exercise(mutated, name: "fuzz-\(runs)-\(names[i])")
            if let error = r.error {
                XCTFail("run \(runs) on \(names[i]) threw a non-DICOM error: \(error)")
            }
            if r.ok { decoded += 1 }
            runs += 1
        }
        print("DICOMFuzzTests: \(runs) mutated files, \(decoded) decoded, the rest threw DICOMError")
        XCTAssertGreaterThan(runs, 100)
    }
}
