import Foundation
import XCTest
@testable import ModelFiles
import Tensor

/// Reading files written by the reference `safetensors` package, and refusing broken ones.
final class SafeTensorsFileTests: TempDirTestCase {
    func testReadsReferenceFileWithExpectedValues() throws {
        let st = try SafeTensorsFile(url: Fixtures.url("single.safetensors"))
        XCTAssertEqual(Set(st.names), ["weight.f32", "weight.f16", "weight.bf16", "bias.scalar", "ids.i8", "empty.f32"])
        XCTAssertEqual(st.metadata, ["format": "pt", "purpose": "dsa-triage fixture"])
        XCTAssertEqual(st.dataStart % 8, 0, "the reference writer pads the header to 8 bytes")

        let cases: [(String, DType, [Int])] = [("weight.f32", .f32, [3, 4]), ("weight.f16", .f16, [2, 5]),
                                               ("weight.bf16", .bf16, [2, 3, 4]), ("bias.scalar", .f32, [])]
        for (name, dtype, shape) in cases {
            let info = try st.info(name)
            XCTAssertEqual(info.dtype.tensorDType, dtype, name)
            XCTAssertEqual(info.shape, shape, name)
            let t = try st.tensor(name)
            XCTAssertEqual(t.dtype, dtype, name)
            XCTAssertEqual(t.shape, shape, name)
            let expected = try Fixtures.npy("single_\(name).npy")
            XCTAssertEqual(expected.shape, shape)
            assertBitwiseEqual(t.floats(), expected.floats(), name)
        }
        let empty = try st.tensor("empty.f32")
        XCTAssertEqual(empty.shape, [0, 3])
        XCTAssertEqual(empty.count, 0)
    }

    func testTensorsViewTheMappingWithoutCopying() throws {
        let st = try SafeTensorsFile(url: Fixtures.url("single.safetensors"))
        let t = try st.tensor("weight.f32")
        let base = UnsafeRawPointer(st.file.base)
        let p = UnsafeRawPointer(t.raw)
        XCTAssertTrue(p >= base && p + t.byteCount <= base + st.file.size, "tensor bytes lie inside the mapped file")
        XCTAssertEqual(p - base, st.dataStart + (try st.info("weight.f32")).dataOffsets.lowerBound)
    }

    func testTensorKeepsTheMappingAlive() throws {
        var t: Tensor?
        do {
            let st = try SafeTensorsFile(url: Fixtures.url("single.safetensors"))
            t = try st.tensor("weight.f32")
        }
        let expected = try Fixtures.npy("single_weight.f32.npy").floats()
        assertBitwiseEqual(t!.floats(), expected, "tensor read after its SafeTensorsFile was released")
    }

    func testIntegerTensorIsListedButNotLoadable() throws {
        let url = Fixtures.url("single.safetensors")
        let st = try SafeTensorsFile(url: url)
        XCTAssertEqual(try st.info("ids.i8").dtype, .i8)
        XCTAssertEqual(try st.info("ids.i8").shape, [4])
        let raw = try st.storage("ids.i8")
        XCTAssertEqual((0..<4).map { raw.base.load(fromByteOffset: $0, as: Int8.self) }, [1, -2, 3, -4])
        assertModelFileError(try st.tensor("ids.i8"), mentions: [url.path, "ids.i8", "I8"]) {
            if case .unsupportedDType = $0 { return true }
            return false
        }
    }

    func testUnknownTensorName() throws {
        let url = Fixtures.url("single.safetensors")
        let st = try SafeTensorsFile(url: url)
        XCTAssertFalse(st.contains("nope"))
        assertModelFileError(try st.tensor("nope"), mentions: [url.path, "nope"]) {
            if case .tensorNotFound = $0 { return true }
            return false
        }
    }

    // MARK: - Broken files

    /// A safetensors file from a header string and data bytes (the header length may lie).
    func file(header: String, data: [UInt8], length: UInt64? = nil, name: String = "broken.safetensors") throws -> URL {
        var b = ByteBuilder()
        b.u64(length ?? UInt64(header.utf8.count))
        b.raw(header)
        b.bytes += data
        return try write(b.bytes, to: name)
    }

    func testMissingEmptyAndDirectory() throws {
        let missing = tmp.appendingPathComponent("absent.safetensors")
        assertModelFileError(try SafeTensorsFile(url: missing), mentions: [missing.path]) {
            if case .notFound = $0 { return true }
            return false
        }
        let empty = try write([], to: "empty.safetensors")
        assertModelFileError(try SafeTensorsFile(url: empty), mentions: [empty.path]) {
            if case .emptyFile = $0 { return true }
            return false
        }
        assertModelFileError(try SafeTensorsFile(url: tmp), mentions: [tmp.path]) {
            if case .notRegularFile = $0 { return true }
            return false
        }
    }

    func testShorterThanTheLengthField() throws {
        let url = try write([1, 2, 3], to: "tiny.safetensors")
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "header length"]) {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testAbsurdHeaderLength() throws {
        let url = try file(header: "{}", data: [], length: 1 << 40)
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "header length"]) {
            if case .malformed = $0 { return true }
            return false
        }
    }

    func testHeaderLengthPastEndOfFile() throws {
        let url = try file(header: "{}", data: [], length: 5000)
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "5000"]) {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testInvalidJSON() throws {
        for (i, header) in ["{\"a\": {\"dtype\": \"F32\", ", "not json at all", "[1, 2]", "{\"a\": 5}",
                            "{\"__metadata__\": {\"k\": 3}}"].enumerated() {
            let url = try file(header: header, data: [], name: "json\(i).safetensors")
            assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path]) {
                if case .malformed = $0 { return true }
                return false
            }
        }
    }

    func testUnknownDTypeNamesTheTensor() throws {
        let url = try file(header: #"{"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,2]}}"#, data: [0, 0])
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'", "Q7"]) {
            if case .unsupportedDType = $0 { return true }
            return false
        }
    }

    func testFloat64TensorIsUnsupportedButFileOpens() throws {
        let url = try file(header: #"{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        let st = try SafeTensorsFile(url: url)
        XCTAssertEqual(try st.info("w").dtype, .f64)
        assertModelFileError(try st.tensor("w"), mentions: [url.path, "'w'", "F64"]) {
            if case .unsupportedDType = $0 { return true }
            return false
        }
    }

    func testEndBeforeBegin() throws {
        let url = try file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [UInt8](repeating: 0, count: 4))
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'", "data_offsets"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
    }

    func testSizeDisagreesWithShape() throws {
        let url = try file(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'", "needs 12"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
    }

    func testOffsetsPastEndOfFile() throws {
        let url = try file(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8))
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'"]) {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testOverlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let url = try file(header: header, data: [UInt8](repeating: 0, count: 12))
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "'a'", "'b'"]) {
            if case .overlappingTensors = $0 { return true }
            return false
        }
    }

    func testHoleBetweenTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        let url = try file(header: header, data: [UInt8](repeating: 0, count: 12))
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "4..<8"]) {
            if case .malformed = $0 { return true }
            return false
        }
    }

    func testBytesAfterTheLastTensor() throws {
        let url = try file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 9))
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "5 bytes"]) {
            if case .malformed = $0 { return true }
            return false
        }
    }

    func testNegativeDimension() throws {
        let url = try file(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 4))
        assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path, "'a'"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
    }

    func testEveryTruncationOfAReferenceFileIsRefused() throws {
        let bytes = try Fixtures.bytes("single.safetensors")
        try forEachTruncation(of: bytes, lengths: Array(1..<bytes.count), name: "cut.safetensors") { url, n in
            assertModelFileError(try SafeTensorsFile(url: url), mentions: [url.path]) { _ in true }
        }
    }

    func testMisalignedFloatTensorIsCopiedNotMisread() throws {
        // One bf16 value first puts the f32 tensor at data offset 2: legal, but not 4-aligned.
        let header = #"{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}}"#
        var padded = header
        while (8 + padded.utf8.count) % 8 != 0 { padded += " " }
        var data: [UInt8] = [0x80, 0x3F]   // bf16 1.0
        withUnsafeBytes(of: Float(2.5).bitPattern.littleEndian) { data += $0 }
        withUnsafeBytes(of: Float(-7).bitPattern.littleEndian) { data += $0 }
        let st = try SafeTensorsFile(url: try file(header: padded, data: data))
        XCTAssertEqual(try st.tensor("a").floats(), [1])
        let b = try st.tensor("b")
        XCTAssertEqual(Int(bitPattern: b.raw) % 4, 0)
        XCTAssertEqual(b.floats(), [2.5, -7])
    }
}
