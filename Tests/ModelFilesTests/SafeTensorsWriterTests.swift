import Foundation
import XCTest
@testable import ModelFiles
import Tensor

/// Writing safetensors files and sharded checkpoints, read back through the reader.
final class SafeTensorsWriterTests: TempDirTestCase {
    func sampleTensors() throws -> [(name: String, tensor: Tensor)] {
        let a = try Tensor((0..<12).map { Float($0) * 0.5 - 2 }, shape: [3, 4])
        let b = try Tensor([1, -2, 3.5], shape: [3]).converted(to: .bf16)
        let c = try Tensor([0.1, 0.2, 0.3, 0.4, 0.5], shape: [5]).converted(to: .f16)
        let s = try Tensor([42], shape: [])
        let e = Tensor(zeros: [0, 7], dtype: .f32)
        return [("z.weight", a), ("b.bf16", b), ("c.f16", c), ("scalar", s), ("empty", e)]
    }

    func testRoundTripAndLayout() throws {
        let url = tmp.appendingPathComponent("out.safetensors")
        let tensors = try sampleTensors()
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt", "quote\"d": "line\nbreak"], to: url)
        let st = try SafeTensorsFile(url: url)
        XCTAssertEqual(Set(st.names), Set(tensors.map(\.name)))
        XCTAssertEqual(st.metadata, ["format": "pt", "quote\"d": "line\nbreak"])
        for (name, t) in tensors {
            let back = try st.tensor(name)
            XCTAssertEqual(back.dtype, t.dtype, name)
            XCTAssertEqual(back.shape, t.shape, name)
            XCTAssertEqual(Array(UnsafeRawBufferPointer(start: back.raw, count: back.byteCount)),
                           Array(UnsafeRawBufferPointer(start: t.raw, count: t.byteCount)), name)
            let offset = st.dataStart + (try st.info(name)).dataOffsets.lowerBound
            XCTAssertEqual(offset % t.dtype.byteSize, 0, "\(name) is aligned to its element size")
        }
        let bytes = [UInt8](try Data(contentsOf: url))
        XCTAssertEqual(st.dataStart % 8, 0, "header padded to 8 bytes")
        XCTAssertEqual(bytes[8], UInt8(ascii: "{"))
        let header = String(decoding: bytes[8..<st.dataStart], as: UTF8.self)
        XCTAssertTrue(header.hasSuffix("}") || header.hasSuffix(" "))
        XCTAssertEqual(header.trimmingCharacters(in: .whitespaces).last, "}", "padding is spaces after the JSON")
        // Keys appear in sorted order.
        let keys = ["__metadata__", "b.bf16", "c.f16", "empty", "scalar", "z.weight"]
        let positions = keys.map { header.range(of: "\"\($0)\":")!.lowerBound }
        XCTAssertEqual(positions, positions.sorted())
    }

    func testEmptyMetadataIsOmitted() throws {
        let url = tmp.appendingPathComponent("nometa.safetensors")
        try SafeTensorsWriter.write([("x", try Tensor([1], shape: [1]))], to: url)
        let header = String(decoding: [UInt8](try Data(contentsOf: url))[8...], as: UTF8.self)
        XCTAssertFalse(header.contains("__metadata__"))
        XCTAssertEqual(try SafeTensorsFile(url: url).metadata, [:])
    }

    func testShardedWriteReadsBackThroughCheckpoint() throws {
        let tensors = try (0..<5).map { i in
            (name: "layer.\(i).weight", tensor: try Tensor((0..<(8 * (i + 1))).map { Float($0 + i) }, shape: [i + 1, 8]))
        }
        // 32, 64, 96, 128, 160 bytes with at most 100 per shard: [32, 64] [96] [128] [160].
        let urls = try SafeTensorsWriter.writeSharded(tensors, metadata: ["format": "pt"], to: tmp, maxShardBytes: 100)
        XCTAssertEqual(urls.map(\.lastPathComponent), [
            "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors", "model-00003-of-00004.safetensors",
            "model-00004-of-00004.safetensors", "model.safetensors.index.json",
        ])
        let ckpt = try SafeTensorsCheckpoint(directory: tmp)
        XCTAssertEqual(ckpt.names, tensors.map(\.name))
        XCTAssertEqual(ckpt.indexMetadata["total_size"], "\(32 + 64 + 96 + 128 + 160)")
        XCTAssertEqual(try ckpt.file(containing: "layer.1.weight").url.lastPathComponent, "model-00001-of-00004.safetensors")
        XCTAssertEqual(try ckpt.file(containing: "layer.2.weight").url.lastPathComponent, "model-00002-of-00004.safetensors")
        for (name, t) in tensors {
            XCTAssertEqual(try ckpt.tensor(name).floats(), t.floats(), name)
        }
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: urls.last!)) as! [String: Any]
        XCTAssertEqual((index["metadata"] as? [String: Any])?["total_size"] as? Int, 480)
        XCTAssertEqual((index["weight_map"] as? [String: String])?.count, 5)
    }

    func testEntriesAreProducedOneAtATime() throws {
        nonisolated(unsafe) var produced: [String] = []
        let entries = (0..<3).map { i in
            SafeTensorsWriter.Entry(name: "t\(i)", dtype: .f32, shape: [2]) {
                produced.append("t\(i)")
                return try Tensor([Float(i), Float(-i)], shape: [2])
            }
        }
        let url = tmp.appendingPathComponent("lazy.safetensors")
        try SafeTensorsWriter.write(entries: entries, to: url)
        XCTAssertEqual(produced, ["t0", "t1", "t2"])
        XCTAssertEqual(try SafeTensorsFile(url: url).tensor("t2").floats(), [2, -2])
    }

    func testProducedTensorMustMatchItsDeclaration() throws {
        let url = tmp.appendingPathComponent("bad.safetensors")
        let entry = SafeTensorsWriter.Entry(name: "w", dtype: .f32, shape: [4]) { try Tensor([1, 2], shape: [2]) }
        assertModelFileError(try SafeTensorsWriter.write(entries: [entry], to: url), mentions: [url.path, "'w'"]) {
            if case .writeFailed = $0 { return true }
            return false
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), "a failed write leaves no partial file")
    }

    func testDuplicateAndReservedNames() throws {
        let t = try Tensor([1], shape: [1])
        let url = tmp.appendingPathComponent("dup.safetensors")
        assertModelFileError(try SafeTensorsWriter.write([("a", t), ("a", t)], to: url), mentions: ["'a'"]) {
            if case .writeFailed = $0 { return true }
            return false
        }
        assertModelFileError(try SafeTensorsWriter.write([("__metadata__", t)], to: url), mentions: ["__metadata__"]) {
            if case .writeFailed = $0 { return true }
            return false
        }
    }

    func testUnwritableDestination() throws {
        let url = tmp.appendingPathComponent("no/such/dir/x.safetensors")
        assertModelFileError(try SafeTensorsWriter.write([("a", try Tensor([1], shape: [1]))], to: url), mentions: [url.path]) {
            if case .writeFailed = $0 { return true }
            return false
        }
    }
}
