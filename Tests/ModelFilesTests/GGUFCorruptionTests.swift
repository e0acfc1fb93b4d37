import Foundation
import XCTest
@testable import ModelFiles
import Tensor

/// Hand-made and damaged GGUF files: each must be refused with an error naming the file (and key or
/// tensor), never a crash.
final class GGUFCorruptionTests: TempDirTestCase {
    /// A GGUF v3 file: header, `kvs` (already encoded), tensor infos, padding, data.
    struct Tensor1 {
        var name: String
        var dims: [UInt64]
        var type: UInt32
        var offset: UInt64
    }

    func gguf(version: UInt32 = 3, tensorCount: UInt64? = nil, kvCount: UInt64? = nil, kvs: [(String, (inout ByteBuilder) -> Void)] = [],
              tensors: [Tensor1] = [], data: [UInt8] = [], alignment: Int = 32) -> [UInt8] {
        var b = ByteBuilder()
        b.raw("GGUF")
        b.u32(version)
        b.u64(tensorCount ?? UInt64(tensors.count))
        b.u64(kvCount ?? UInt64(kvs.count))
        for (key, value) in kvs {
            b.ggufString(key)
            value(&b)
        }
        for t in tensors {
            b.ggufString(t.name)
            b.u32(UInt32(t.dims.count))
            for d in t.dims { b.u64(d) }
            b.u32(t.type)
            b.u64(t.offset)
        }
        b.pad(to: alignment)
        b.bytes += data
        return b.bytes
    }

    func check(_ bytes: [UInt8], name: String = "bad.gguf", mentions: [String] = [], line: UInt = #line,
               _ matches: @escaping (ModelFileError) -> Bool) throws {
        let url = try write(bytes, to: name)
        assertModelFileError(try GGUFFile(url: url), mentions: [url.path] + mentions, line: line, matches)
    }

    func testMinimalValidFile() throws {
        let bytes = gguf(kvs: [("general.architecture", { $0.u32(8); $0.ggufString("tiny") })],
                         tensors: [Tensor1(name: "w", dims: [4], type: 0, offset: 0)],
                         data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40])
        let g = try GGUFFile(url: try write(bytes, to: "ok.gguf"))
        XCTAssertEqual(g.architecture, "tiny")
        XCTAssertEqual(try g.tensor("w").floats(), [1, 2, 3, 4])
    }

    func testBadMagic() throws {
        var bytes = try Fixtures.bytes("all_types.gguf")
        bytes[0] = UInt8(ascii: "X")
        try check(bytes, mentions: ["not a GGUF file", "XGUF"]) {
            if case .notGGUF = $0 { return true }
            return false
        }
        try check(try Fixtures.bytes("single.safetensors"), name: "st.gguf", mentions: ["not a GGUF file"]) {
            if case .notGGUF = $0 { return true }
            return false
        }
        try check([0x47, 0x47], name: "short.gguf", mentions: ["magic"]) {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testUnsupportedVersions() throws {
        for v: UInt32 in [1, 4, 999] {
            try check(gguf(version: v), name: "v\(v).gguf", mentions: ["version \(v)"]) {
                if case .unsupportedVersion(_, "GGUF", Int(v), [2, 3]) = $0 { return true }
                return false
            }
        }
        try check(gguf(version: UInt32(3).byteSwapped), name: "be.gguf", mentions: ["big-endian"]) {
            if case .malformed = $0 { return true }
            return false
        }
    }

    func testAbsurdCounts() throws {
        try check(gguf(kvCount: 1 << 60), name: "kv.gguf", mentions: ["metadata count"]) {
            if case .malformed = $0 { return true }
            return false
        }
        try check(gguf(tensorCount: 1 << 40), name: "tc.gguf", mentions: ["tensor count"]) {
            if case .malformed = $0 { return true }
            return false
        }
        try check(gguf(tensorCount: UInt64.max), name: "tcmax.gguf", mentions: ["tensor count"]) {
            if case .malformed = $0 { return true }
            return false
        }
    }

    func testKeyLengthPastEndOfFile() throws {
        var b = ByteBuilder()
        b.raw("GGUF"); b.u32(3); b.u64(0); b.u64(1)
        b.u64(1 << 40); b.raw("general.architecture")
        try check(b.bytes, mentions: ["metadata key #0"]) {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testStringValuePastEndOfFile() throws {
        let bytes = gguf(kvs: [("general.name", { $0.u32(8); $0.u64(1_000_000); $0.raw("short") })])
        try check(bytes, mentions: ["general.name", "1000000"]) {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testArrayLengthPastEndOfFile() throws {
        let bytes = gguf(kvs: [("tokenizer.ggml.scores", { $0.u32(9); $0.u32(6); $0.u64(262_144); $0.f32(1) })])
        try check(bytes, mentions: ["tokenizer.ggml.scores", "262144"]) {
            if case .truncated = $0 { return true }
            return false
        }
        let huge = gguf(kvs: [("tokenizer.ggml.tokens", { $0.u32(9); $0.u32(8); $0.u64(1 << 62) })])
        try check(huge, name: "huge.gguf", mentions: ["tokenizer.ggml.tokens"]) {
            if case .truncated = $0 { return true }
            return false
        }
        let strings = gguf(kvs: [("tokenizer.ggml.tokens", { $0.u32(9); $0.u32(8); $0.u64(2); $0.ggufString("a"); $0.u64(99); $0.raw("b") })])
        try check(strings, name: "strings.gguf", mentions: ["string 1 in 'tokenizer.ggml.tokens'"]) {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testBadValueTypes() throws {
        try check(gguf(kvs: [("k", { $0.u32(13); $0.u32(0) })]), name: "t13.gguf", mentions: ["'k'", "type 13"]) {
            if case .invalidValue = $0 { return true }
            return false
        }
        try check(gguf(kvs: [("k", { $0.u32(9); $0.u32(77); $0.u64(1) })]), name: "a77.gguf", mentions: ["'k'", "type 77"]) {
            if case .invalidValue = $0 { return true }
            return false
        }
        try check(gguf(kvs: [("flag", { $0.u32(7); $0.u8(2) })]), name: "bool.gguf", mentions: ["'flag'", "bool"]) {
            if case .invalidValue = $0 { return true }
            return false
        }
        try check(gguf(kvs: [("k", { $0.u32(4); $0.u32(1) }), ("k", { $0.u32(4); $0.u32(2) })]), name: "dup.gguf", mentions: ["'k'", "duplicate"]) {
            if case .invalidValue = $0 { return true }
            return false
        }
        try check(gguf(kvs: [("general.alignment", { $0.u32(4); $0.u32(24) })]), name: "align.gguf", mentions: ["general.alignment"]) {
            if case .invalidValue = $0 { return true }
            return false
        }
    }

    func testDeeplyNestedArrays() throws {
        // Value type ARRAY, then twenty levels of (element type ARRAY, count 1), then an empty uint8 array.
        let bytes = gguf(kvs: [("deep", { b in
            b.u32(9)
            for _ in 0..<20 { b.u32(9); b.u64(1) }
            b.u32(0); b.u64(0)
        })])
        try check(bytes, mentions: ["'deep'", "nested"]) {
            if case .invalidValue = $0 { return true }
            return false
        }
    }

    func testTensorDataPastEndOfFile() throws {
        let bytes = gguf(tensors: [Tensor1(name: "blk.0.w", dims: [64, 64], type: 0, offset: 0)], data: [UInt8](repeating: 0, count: 100))
        try check(bytes, mentions: ["blk.0.w"]) {
            if case .truncated = $0 { return true }
            return false
        }
        let lying = gguf(tensors: [Tensor1(name: "w", dims: [4], type: 0, offset: 1 << 62)], data: [UInt8](repeating: 0, count: 16))
        try check(lying, name: "lying.gguf", mentions: ["'w'"]) {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testUnknownGGMLType() throws {
        let bytes = gguf(tensors: [Tensor1(name: "mystery", dims: [32], type: 99, offset: 0)], data: [UInt8](repeating: 0, count: 64))
        try check(bytes, mentions: ["mystery", "99"]) {
            if case .unknownGGMLType(_, "mystery", 99) = $0 { return true }
            return false
        }
    }

    func testRowLengthNotAMultipleOfTheBlockSize() throws {
        let bytes = gguf(tensors: [Tensor1(name: "odd", dims: [33, 2], type: UInt32(GGMLType.q8_0.rawValue), offset: 0)],
                         data: [UInt8](repeating: 0, count: 256))
        try check(bytes, mentions: ["odd", "33", "Q8_0", "32"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
        let kQuant = gguf(tensors: [Tensor1(name: "k", dims: [128], type: UInt32(GGMLType.q4_K.rawValue), offset: 0)],
                          data: [UInt8](repeating: 0, count: 256))
        try check(kQuant, name: "k.gguf", mentions: ["'k'", "256"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
    }

    func testMisalignedOffsetTooManyDimsAndOverflow() throws {
        let misaligned = gguf(tensors: [Tensor1(name: "m", dims: [4], type: 0, offset: 4)], data: [UInt8](repeating: 0, count: 64))
        try check(misaligned, name: "mis.gguf", mentions: ["'m'", "alignment"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
        let dims = gguf(tensors: [Tensor1(name: "d", dims: [1, 1, 1, 1, 1], type: 0, offset: 0)], data: [UInt8](repeating: 0, count: 64))
        try check(dims, name: "dims.gguf", mentions: ["'d'", "5 dimensions"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
        let overflow = gguf(tensors: [Tensor1(name: "o", dims: [1 << 40, 1 << 40], type: 0, offset: 0)], data: [UInt8](repeating: 0, count: 64))
        try check(overflow, name: "overflow.gguf", mentions: ["'o'"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
    }

    func testOverlappingAndDuplicateTensors() throws {
        let overlap = gguf(tensors: [Tensor1(name: "a", dims: [16], type: 0, offset: 0), Tensor1(name: "b", dims: [16], type: 0, offset: 32)],
                           data: [UInt8](repeating: 0, count: 128))
        try check(overlap, name: "overlap.gguf", mentions: ["'a'", "'b'"]) {
            if case .overlappingTensors = $0 { return true }
            return false
        }
        let dup = gguf(tensors: [Tensor1(name: "a", dims: [4], type: 0, offset: 0), Tensor1(name: "a", dims: [4], type: 0, offset: 32)],
                       data: [UInt8](repeating: 0, count: 64))
        try check(dup, name: "dup.gguf", mentions: ["'a'", "more than once"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
    }

    /// Every prefix of a real file is refused with a ModelFileError; none crashes.
    func testEveryTruncationIsRefused() throws {
        let bytes = try Fixtures.bytes("all_types.gguf")
        let reference = try GGUFFile(url: Fixtures.url("all_types.gguf"))
        // Bytes after the last tensor are alignment padding: cutting those leaves a valid file.
        let end = reference.tensorInfos.map { $0.fileOffset + $0.byteCount }.max()!
        var lengths = Array(1..<min(reference.dataOffset + 8, end))
        lengths += Array(stride(from: reference.dataOffset + 8, to: end, by: 61)) + [end - 1]
        try forEachTruncation(of: bytes, lengths: lengths, name: "cut.gguf") { url, n in
            do {
                _ = try GGUFFile(url: url)
                XCTFail("a file cut to \(n) of \(bytes.count) bytes was accepted")
            } catch let error as ModelFileError {
                XCTAssertTrue(error.description.contains(url.path), "\(error)")
            }
        }
    }
}
