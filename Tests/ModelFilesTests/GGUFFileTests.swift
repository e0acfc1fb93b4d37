import Foundation
import XCTest
@testable import ModelFiles
import Tensor

/// Reading GGUF files written by gguf-py: every metadata type, every dequantizable tensor type.
final class GGUFFileTests: TempDirTestCase {
    static let types: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    func testHeaderAndEveryMetadataType() throws {
        let g = try GGUFFile(url: Fixtures.url("all_types.gguf"))
        XCTAssertEqual(g.version, 3)
        XCTAssertEqual(g.alignment, 32)
        XCTAssertEqual(g.dataOffset % 32, 0)
        XCTAssertEqual(g.architecture, "testarch")
        let m = g.metadata
        XCTAssertEqual(m["test.uint8"], .uint8(200))
        XCTAssertEqual(m["test.int8"], .int8(-100))
        XCTAssertEqual(m["test.uint16"], .uint16(60000))
        XCTAssertEqual(m["test.int16"], .int16(-30000))
        XCTAssertEqual(m["test.uint32"], .uint32(4_000_000_000))
        XCTAssertEqual(m["test.int32"], .int32(-2_000_000_000))
        XCTAssertEqual(m["test.uint64"], .uint64(18_000_000_000_000_000_000))
        XCTAssertEqual(m["test.int64"], .int64(-9_000_000_000_000_000_000))
        XCTAssertEqual(m["test.float32"], .float32(0.1))
        XCTAssertEqual(m["test.float64"], .float64(0.1))
        XCTAssertEqual(m["test.bool_true"], .bool(true))
        XCTAssertEqual(m["test.bool_false"], .bool(false))
        XCTAssertEqual(m["test.string"], .string("héllo, 世界 \"quoted\""))
        XCTAssertEqual(m["test.array.uint8"], .array(.uint8([1, 2, 255])))
        XCTAssertEqual(m["test.array.int16"], .array(.int16([-1, 2, -300])))
        XCTAssertEqual(m["test.array.int32"], .array(.int32([-7, 0, 2_000_000_000])))
        XCTAssertEqual(m["test.array.uint64"], .array(.uint64([1, 1 << 40])))
        XCTAssertEqual(m["test.array.float32"], .array(.float32([1.5, -2.25, 0.1])))
        XCTAssertEqual(m["test.array.float64"], .array(.float64([0.1, -1e300])))
        XCTAssertEqual(m["test.array.bool"], .array(.bool([true, false, true])))
        XCTAssertEqual(m["test.array.string"], .array(.string(["<bos>", "", "▁the", "ü"])))
        XCTAssertEqual(m["test.array.nested"], .array(.array([.string(["a", "bc"]), .string(["d"])])))
        XCTAssertEqual(g.metadataKeys.first, "general.architecture")
        XCTAssertEqual(g.metadataKeys.count, m.count)
    }

    func testValueAccessors() throws {
        let g = try GGUFFile(url: Fixtures.url("all_types.gguf"))
        let m = g.metadata
        XCTAssertEqual(m["test.uint32"]?.int, 4_000_000_000)
        XCTAssertEqual(m["test.int8"]?.int, -100)
        XCTAssertEqual(m["test.uint64"]?.int, nil, "18e18 does not fit an Int")
        XCTAssertEqual(m["test.float32"]?.float, 0.1)
        XCTAssertEqual(m["test.float64"]?.double, 0.1)
        XCTAssertEqual(m["test.uint16"]?.float, 60000, "integers widen to float")
        XCTAssertNil(m["test.float32"]?.int)
        XCTAssertEqual(m["test.bool_true"]?.bool, true)
        XCTAssertNil(m["test.string"]?.int)
        XCTAssertEqual(m["test.array.string"]?.stringArray, ["<bos>", "", "▁the", "ü"])
        XCTAssertEqual(m["test.array.float32"]?.floatArray, [1.5, -2.25, 0.1])
        XCTAssertEqual(m["test.array.int32"]?.int32Array, [-7, 0, 2_000_000_000])
        XCTAssertEqual(m["test.array.int16"]?.int32Array, [-1, 2, -300])
        XCTAssertEqual(m["test.array.uint64"]?.intArray, [1, 1 << 40])
        XCTAssertNil(m["test.array.string"]?.floatArray)
        XCTAssertEqual(m["test.array.nested"]?.array?.arrays?.map(\.strings), [["a", "bc"], ["d"]])
        XCTAssertEqual(m["test.array.bool"]?.array?.count, 3)

        XCTAssertEqual(try g.require("test.int16", \.int), -30000)
        XCTAssertEqual(try g.require("test.array.string", \.stringArray).count, 4)
        assertModelFileError(try g.require("gemma3.block_count", \.int), mentions: [g.path, "gemma3.block_count"]) {
            if case .missingKey = $0 { return true }
            return false
        }
        assertModelFileError(try g.require("test.string", \.int), mentions: [g.path, "test.string", "Int"]) {
            if case .invalidValue = $0 { return true }
            return false
        }
    }

    func testEveryTypeDequantizesExactlyLikeGGUFPy() throws {
        let g = try GGUFFile(url: Fixtures.url("all_types.gguf"))
        for type in Self.types {
            let name = "t.\(type.name.lowercased())"
            let info = try g.info(name)
            XCTAssertEqual(info.type, type, name)
            XCTAssertEqual(info.dims, [512, 3], name)
            XCTAssertEqual(info.shape, [3, 512], name)
            XCTAssertEqual(info.fileOffset % 32, 0, name)
            let expected = try Fixtures.npy("gguf_\(name).npy")
            XCTAssertEqual(expected.shape, [3, 512])
            let t = try g.tensor(name, as: .float32)
            XCTAssertEqual(t.dtype, .f32, name)
            XCTAssertEqual(t.shape, [3, 512], name)
            assertBitwiseEqual(t.floats(), expected.floats(), name)

            // Row-wise dequantization of the middle row and of the last two rows.
            var row = [Float](repeating: .nan, count: 512)
            try row.withUnsafeMutableBufferPointer { try g.dequantizeRows(name, rows: 1..<2, into: $0.baseAddress!) }
            assertBitwiseEqual(row, Array(expected.floats()[512..<1024]), "\(name) row 1")
            var tail = [Float](repeating: .nan, count: 1024)
            try tail.withUnsafeMutableBufferPointer { try g.dequantizeRows(name, rows: 1..<3, into: $0.baseAddress!) }
            assertBitwiseEqual(tail, Array(expected.floats()[512...]), "\(name) rows 1..<3")
        }
    }

    func testPlainTypesStayMappedInTheirOwnDType() throws {
        let g = try GGUFFile(url: Fixtures.url("all_types.gguf"))
        for (name, dtype) in [("t.f32", DType.f32), ("t.f16", .f16), ("t.bf16", .bf16)] {
            let t = try g.tensor(name)
            XCTAssertEqual(t.dtype, dtype, name)
            XCTAssertEqual(t.shape, [3, 512], name)
            XCTAssertEqual(UnsafeRawPointer(t.raw), g.file.base + (try g.info(name)).fileOffset, "\(name) is a view of the mapping")
            assertBitwiseEqual(t.floats(), try Fixtures.npy("gguf_\(name).npy").floats(), name)
        }
        let q = try g.tensor("t.q4_k")
        XCTAssertEqual(q.dtype, .f32)
        XCTAssertFalse(UnsafeRawPointer(q.raw) >= g.file.base && UnsafeRawPointer(q.raw) < g.file.base + g.file.size)
        let raw = try g.rawStorage("t.q4_k")
        XCTAssertEqual(raw.byteCount, 3 * 2 * 144)
    }

    func testShapeIsReversedDims() throws {
        let g = try GGUFFile(url: Fixtures.url("all_types.gguf"))
        let info = try g.info("t.q8_0_3d")
        XCTAssertEqual(info.dims, [64, 3, 2])
        XCTAssertEqual(info.shape, [2, 3, 64])
        XCTAssertEqual(info.rowLength, 64)
        XCTAssertEqual(info.rowCount, 6)
        let t = try g.tensor("t.q8_0_3d")
        XCTAssertEqual(t.shape, [2, 3, 64])
        let expected = try Fixtures.npy("gguf_t.q8_0_3d.npy")
        XCTAssertEqual(expected.shape, [2, 3, 64])
        assertBitwiseEqual(t.floats(), expected.floats(), "t.q8_0_3d")

        let v = try g.tensor("t.vector")
        XCTAssertEqual(v.shape, [7])
        assertBitwiseEqual(v.floats(), try Fixtures.npy("gguf_t.vector.npy").floats(), "t.vector")
    }

    func testKnownTypeWithoutDequantizer() throws {
        let g = try GGUFFile(url: Fixtures.url("all_types.gguf"))
        XCTAssertEqual(try g.info("t.iq4_nl").type, .iq4_nl)
        assertModelFileError(try g.tensor("t.iq4_nl"), mentions: [g.path, "t.iq4_nl", "IQ4_NL", "20"]) {
            if case .unsupportedDType = $0 { return true }
            return false
        }
        var buffer = [Float](repeating: 0, count: 32)
        assertModelFileError(try buffer.withUnsafeMutableBufferPointer { try g.dequantizeRows("t.iq4_nl", rows: 0..<1, into: $0.baseAddress!) },
                             mentions: ["IQ4_NL"]) {
            if case .unsupportedDType = $0 { return true }
            return false
        }
    }

    func testRowRangeOutsideTheTensor() throws {
        let g = try GGUFFile(url: Fixtures.url("all_types.gguf"))
        var buffer = [Float](repeating: 0, count: 4096)
        assertModelFileError(try buffer.withUnsafeMutableBufferPointer { try g.dequantizeRows("t.q8_0", rows: 2..<4, into: $0.baseAddress!) },
                             mentions: ["t.q8_0", "2..<4"]) {
            if case .invalidTensor = $0 { return true }
            return false
        }
    }

    func testCustomAlignment() throws {
        let g = try GGUFFile(url: Fixtures.url("aligned64.gguf"))
        XCTAssertEqual(g.alignment, 64)
        XCTAssertEqual(g.metadata["general.alignment"], .uint32(64))
        XCTAssertEqual(g.dataOffset % 64, 0)
        XCTAssertEqual(g.tensorNames, ["a", "b"])
        XCTAssertEqual(try g.info("b").fileOffset % 64, 0)
        assertBitwiseEqual(try g.tensor("a").floats(), try Fixtures.npy("aligned64_a.npy").floats(), "a")
        assertBitwiseEqual(try g.tensor("b").floats(), try Fixtures.npy("aligned64_b.npy").floats(), "b")
    }

    func testVersion2HasTheSameLayout() throws {
        var bytes = try Fixtures.bytes("all_types.gguf")
        bytes[4] = 2
        let g = try GGUFFile(url: try write(bytes, to: "v2.gguf"))
        XCTAssertEqual(g.version, 2)
        assertBitwiseEqual(try g.tensor("t.q6_k").floats(), try Fixtures.npy("gguf_t.q6_k.npy").floats(), "t.q6_k")
    }

    func testTypeTableMatchesGGUFPy() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("ggml_types.json"))) as! [String: Any]
        let sizes = json["sizes"] as! [String: [Int]]
        let numbers = json["numbers"] as! [String: Int]
        for (name, number) in numbers {
            guard let type = GGMLType(rawValue: number) else {
                XCTFail("gguf-py knows ggml type \(name) = \(number), GGMLType does not")
                continue
            }
            XCTAssertEqual(type.name, name)
            if let s = sizes[name] {
                XCTAssertEqual([type.blockSize, type.blockBytes], s, name)
            }
        }
        XCTAssertEqual(GGMLType.allCases.count, numbers.count)
    }

    func testHalfConversionMatchesTheCKernelForAllBitPatterns() {
        for bits in 0...UInt16.max {
            let a = GGMLDequantizer.halfToFloat(bits), b = Convert.f16ToFloat(bits)
            if a.isNaN || b.isNaN {
                XCTAssertTrue(a.isNaN && b.isNaN, "0x\(String(bits, radix: 16))")
            } else if a.bitPattern != b.bitPattern {
                XCTFail("half 0x\(String(bits, radix: 16)): \(a) vs \(b)")
                return
            }
        }
    }

    func testParallelAndSerialDequantizationAgree() throws {
        // Enough Q4_K blocks to cross the parallel threshold.
        let blocks = GGMLDequantizer.parallelThreshold / 256 + 7
        var rng = SystemRandomNumberGenerator()
        var raw = (0..<(blocks * 144)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for b in 0..<blocks { raw[b * 144 + 1] = 0x1C; raw[b * 144 + 3] = 0x1C }   // finite scales
        var serial = [Float](repeating: 0, count: blocks * 256), parallel = serial
        raw.withUnsafeBytes { src in
            serial.withUnsafeMutableBufferPointer {
                GGMLDequantizer.dequantize(.q4_K, from: src.baseAddress!, into: $0.baseAddress!, count: blocks * 256, parallel: false)
            }
            parallel.withUnsafeMutableBufferPointer {
                GGMLDequantizer.dequantize(.q4_K, from: src.baseAddress!, into: $0.baseAddress!, count: blocks * 256, parallel: true)
            }
        }
        assertBitwiseEqual(parallel, serial, "parallel Q4_K")
    }
}
