import DICOM
import Foundation
import XCTest

/// Hostile and broken inputs: every one must end in a typed error (or a partial parse), never a crash.
final class DICOMRobustnessTests: XCTestCase {
    func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: DICOMFixtureTests.fixtures.appendingPathComponent(name + ".dcm"))
    }

    func testTruncationAtEveryOffset() throws {
        for name in ["explicit_le", "implicit_le", "explicit_be", "deflated", "encapsulated_jpeg", "nested_undefined_explicit",
                     "nested_undefined_implicit"] {
            let data = try fixture(name)
            let full = try DICOMFile(data: data, source: name)
            var errors = 0
            for cut in 0..<data.count {
                do {
                    let partial = try DICOMFile(data: data.prefix(cut), source: name)
                    XCTAssertLessThanOrEqual(partial.dataset.count, full.dataset.count, "\(name) cut at \(cut)")
                } catch let error as DICOMError {
                    errors += 1
                    XCTAssertTrue(error.description.contains(name), "\(error)")
                } catch {
                    XCTFail("\(name) cut at \(cut): untyped error \(error)")
                }
            }
            XCTAssertGreaterThan(errors, data.count / 2, name)
        }
    }

    func testLengthPastEndOfFile() throws {
        var bytes = [UInt8](try fixture("explicit_le"))
        // Patient ID (0010,0020) LO: set its 16-bit length to the maximum.
        let pattern: [UInt8] = [0x10, 0x00, 0x20, 0x00, 0x4C, 0x4F]
        let at = try XCTUnwrap(find(pattern, in: bytes))
        bytes[at + 6] = 0xFF
        bytes[at + 7] = 0xFF
        XCTAssertThrowsError(try DICOMFile(data: Data(bytes), source: "long.dcm")) { error in
            guard case let .lengthPastEnd(file, offset, tag, length, _)? = error as? DICOMError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "long.dcm")
            XCTAssertEqual(offset, at)
            XCTAssertEqual(tag, .patientID)
            XCTAssertEqual(length, 0xFFFF)
        }
    }

    func testAbsurdLongLength() throws {
        var bytes = [UInt8](try fixture("explicit_le"))
        // Pixel Data OW: 32-bit length 0xFFFFFFF0.
        let pattern: [UInt8] = [0xE0, 0x7F, 0x10, 0x00, 0x4F, 0x57, 0, 0]
        let at = try XCTUnwrap(find(pattern, in: bytes))
        bytes.replaceSubrange(at + 8..<at + 12, with: [0xF0, 0xFF, 0xFF, 0xFF])
        XCTAssertThrowsError(try DICOMFile(data: Data(bytes), source: "absurd.dcm")) { error in
            guard case .lengthPastEnd? = error as? DICOMError else { return XCTFail("\(error)") }
        }
    }

    func testDeepSequenceNesting() {
        // 100 nested undefined-length sequences in an implicit VR raw dataset.
        var bytes: [UInt8] = [0x08, 0x00, 0x60, 0x00, 2, 0, 0, 0, 0x58, 0x41]
        for _ in 0..<100 {
            bytes += [0x08, 0x00, 0x40, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]  // (0008,1140) SQ, undefined length
            bytes += [0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]  // item, undefined length
        }
        XCTAssertThrowsError(try DICOMFile(data: Data(bytes), source: "deep.dcm")) { error in
            guard case let .notDICOM(_, reason)? = error as? DICOMError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("deeper than 32"), reason)
        }
        // The same inside a Part 10 file reports the nesting error itself.
        var part10 = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        let ts = Array("1.2.840.10008.1.2\0".utf8)
        part10 += [0x02, 0x00, 0x10, 0x00, 0x55, 0x49, UInt8(ts.count), 0] + ts
        part10 += bytes
        XCTAssertThrowsError(try DICOMFile(data: Data(part10), source: "deep10.dcm")) { error in
            guard case let .nestingTooDeep(file, _, tag, limit)? = error as? DICOMError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "deep10.dcm")
            XCTAssertEqual(tag, DICOMTag(0x0008, 0x1140))
            XCTAssertEqual(limit, 32)
        }
    }

    func testTooManyElements() throws {
        var limits = DICOMLimits()
        limits.maxElements = 5
        XCTAssertThrowsError(try DICOMFile(data: try fixture("explicit_le"), source: "many.dcm", limits: limits)) { error in
            guard case .tooManyElements(_, _, 5)? = error as? DICOMError else { return XCTFail("\(error)") }
        }
    }

    func testInflatedSizeCap() throws {
        var limits = DICOMLimits()
        limits.maxInflatedBytes = 100
        XCTAssertThrowsError(try DICOMFile(data: try fixture("deflated"), source: "bomb.dcm", limits: limits)) { error in
            guard case .inflate? = error as? DICOMError else { return XCTFail("\(error)") }
        }
    }

    func testGarbageFiles() {
        var rng = XorShift(seed: 7)
        for n in [0, 1, 3, 7, 8, 131, 132, 200, 4096] {
            for _ in 0..<20 {
                let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                do { _ = try DICOMFile(data: Data(bytes), source: "garbage") } catch is DICOMError {} catch {
                    XCTFail("untyped error \(error)")
                }
                // Garbage after a valid prefix.
                var withPrefix = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8) + bytes
                do { _ = try DICOMFile(data: Data(withPrefix), source: "garbage") } catch is DICOMError {} catch {
                    XCTFail("untyped error \(error)")
                }
                withPrefix.removeAll()
            }
        }
        XCTAssertThrowsError(try DICOMFile(data: Data("hello, not dicom at all".utf8), source: "text.txt")) { error in
            guard case .notDICOM("text.txt", _)? = error as? DICOMError else { return XCTFail("\(error)") }
        }
    }

    func testBitFlipsInFixtures() throws {
        var rng = XorShift(seed: 11)
        for name in ["explicit_le", "implicit_le", "deflated", "nested_undefined_explicit", "encapsulated_jpeg"] {
            let data = [UInt8](try fixture(name))
            for _ in 0..<300 {
                var b = data
                let i = Int(rng.next() % UInt64(b.count))
                b[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                do { _ = try DICOMFile(data: Data(b), source: name) } catch is DICOMError {} catch {
                    XCTFail("untyped error \(error)")
                }
            }
        }
    }

    func testInflateRejectsBadStreams() {
        // A stored block "abc" inflates; a wrong complement and a reserved block type are errors.
        XCTAssertEqual(try Inflate.inflate([0x01, 0x03, 0x00, 0xFC, 0xFF, 0x61, 0x62, 0x63], maxOutput: 10), Array("abc".utf8))
        XCTAssertThrowsError(try Inflate.inflate([0x01, 0x03, 0x00, 0xFC, 0xFE, 0x61, 0x62, 0x63], maxOutput: 10))
        XCTAssertThrowsError(try Inflate.inflate([0x07], maxOutput: 10))
        XCTAssertThrowsError(try Inflate.inflate([], maxOutput: 10))
        XCTAssertThrowsError(try Inflate.inflate([0x01, 0x03, 0x00, 0xFC, 0xFF, 0x61, 0x62, 0x63], maxOutput: 2))
        var rng = XorShift(seed: 3)
        for _ in 0..<500 {
            let bytes = (0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? Inflate.inflate(bytes, maxOutput: 1 << 16)
        }
    }

    func testInflateCapIsExact() {
        let stored: [UInt8] = [0x01, 0x03, 0x00, 0xFC, 0xFF, 0x61, 0x62, 0x63]
        XCTAssertEqual(try Inflate.inflate(stored, maxOutput: 3), Array("abc".utf8), "exactly the cap is allowed")
        XCTAssertThrowsError(try Inflate.inflate(stored, maxOutput: 2)) { error in
            XCTAssertEqual(error as? Inflate.Failure, .outputTooLarge(limit: 2))
        }
        XCTAssertThrowsError(try Inflate.inflate(Array(stored.prefix(6)), maxOutput: 10)) { error in
            XCTAssertEqual(error as? Inflate.Failure, .truncated)
        }
        // Bytes after the final block are ignored.
        XCTAssertEqual(try Inflate.inflate(stored + [0xDE, 0xAD], maxOutput: 10), Array("abc".utf8))
    }

    private func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        for i in 0...(bytes.count - pattern.count) where Array(bytes[i..<i + pattern.count]) == pattern { return i }
        return nil
    }
}

/// Deterministic pseudo-random bytes for the fuzz-style tests (xorshift64).
struct XorShift {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x2545_F491_4F6C_DD1D | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
}
