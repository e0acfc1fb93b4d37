import Foundation
import XCTest
@testable import ModelFiles
import Tensor

/// Single-file, indexed and index-less multi-file checkpoints.
final class SafeTensorsCheckpointTests: TempDirTestCase {
    let shardedNames = ["layers.0.bias", "layers.0.weight", "layers.1.weight"]

    func testShardedThroughIndex() throws {
        let dir = Fixtures.url("sharded")
        let ckpt = try SafeTensorsCheckpoint(directory: dir)
        XCTAssertEqual(ckpt.names, shardedNames)
        XCTAssertEqual(ckpt.files.count, 2)
        XCTAssertEqual(ckpt.indexURL?.lastPathComponent, "model.safetensors.index.json")
        XCTAssertEqual(ckpt.indexMetadata["total_size"], "112")
        XCTAssertEqual(ckpt.metadata["format"], "pt")
        XCTAssertEqual(try ckpt.info("layers.1.weight").dtype, .bf16)
        XCTAssertEqual(try ckpt.file(containing: "layers.1.weight").url.lastPathComponent, "model-00002-of-00002.safetensors")
        for name in shardedNames {
            XCTAssertTrue(ckpt.contains(name))
            assertBitwiseEqual(try ckpt.tensor(name).floats(), try Fixtures.npy("sharded_\(name).npy").floats(), name)
        }
        // The index file itself also opens the checkpoint.
        let viaIndex = try SafeTensorsCheckpoint(file: dir.appendingPathComponent("model.safetensors.index.json"))
        XCTAssertEqual(viaIndex.names, shardedNames)
    }

    func testSingleFile() throws {
        let ckpt = try SafeTensorsCheckpoint(file: Fixtures.url("single.safetensors"))
        XCTAssertNil(ckpt.indexURL)
        XCTAssertEqual(ckpt.names.count, 6)
        assertBitwiseEqual(try ckpt.tensor("weight.f32").floats(), try Fixtures.npy("single_weight.f32.npy").floats(), "weight.f32")

        try FileManager.default.copyItem(at: Fixtures.url("single.safetensors"), to: tmp.appendingPathComponent("model.safetensors"))
        let dirCkpt = try SafeTensorsCheckpoint(directory: tmp)
        XCTAssertEqual(dirCkpt.names, ckpt.names)
        assertModelFileError(try dirCkpt.tensor("missing"), mentions: ["missing"]) {
            if case .tensorNotFound = $0 { return true }
            return false
        }
    }

    func testSeveralFilesWithoutIndex() throws {
        for f in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            try FileManager.default.copyItem(at: Fixtures.url("sharded/\(f)"), to: tmp.appendingPathComponent(f))
        }
        let ckpt = try SafeTensorsCheckpoint(directory: tmp)
        XCTAssertNil(ckpt.indexURL)
        XCTAssertEqual(ckpt.names, shardedNames)
        assertBitwiseEqual(try ckpt.tensor("layers.1.weight").floats(), try Fixtures.npy("sharded_layers.1.weight.npy").floats(), "layers.1.weight")
    }

    func testSameTensorInTwoFilesWithoutIndex() throws {
        try FileManager.default.copyItem(at: Fixtures.url("single.safetensors"), to: tmp.appendingPathComponent("a.safetensors"))
        try FileManager.default.copyItem(at: Fixtures.url("single.safetensors"), to: tmp.appendingPathComponent("b.safetensors"))
        assertModelFileError(try SafeTensorsCheckpoint(directory: tmp), mentions: ["a.safetensors", "b.safetensors"]) {
            if case .invalidValue = $0 { return true }
            return false
        }
    }

    func testEmptyAndMissingDirectory() throws {
        // A folder without weights names the missing file, never a literal glob.
        assertModelFileError(try SafeTensorsCheckpoint(directory: tmp), mentions: [tmp.path, "model.safetensors", "is missing"]) {
            if case .noWeights = $0 { return true }
            return false
        }
        do { _ = try SafeTensorsCheckpoint(directory: tmp); XCTFail("no weights") } catch { XCTAssertFalse("\(error)".contains("*"), "\(error)") }
        let absent = tmp.appendingPathComponent("nothing-here")
        assertModelFileError(try SafeTensorsCheckpoint(directory: absent), mentions: [absent.path]) {
            if case .notFound = $0 { return true }
            return false
        }
    }

    func writeIndex(_ json: String) throws -> URL {
        for f in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            try FileManager.default.copyItem(at: Fixtures.url("sharded/\(f)"), to: tmp.appendingPathComponent(f))
        }
        let url = tmp.appendingPathComponent("model.safetensors.index.json")
        try json.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testIndexNamingAMissingShard() throws {
        let index = try writeIndex(#"{"weight_map": {"layers.0.bias": "model-00001-of-00002.safetensors", "x": "model-00003-of-00003.safetensors"}}"#)
        assertModelFileError(try SafeTensorsCheckpoint(directory: tmp), mentions: [index.path, "model-00003-of-00003.safetensors"]) {
            if case .missingShard = $0 { return true }
            return false
        }
    }

    func testIndexListingATensorItsShardLacks() throws {
        let index = try writeIndex(#"{"weight_map": {"layers.0.bias": "model-00002-of-00002.safetensors"}}"#)
        assertModelFileError(try SafeTensorsCheckpoint(directory: tmp), mentions: [index.path, "layers.0.bias", "model-00002-of-00002.safetensors"]) {
            if case .tensorMissingFromShard = $0 { return true }
            return false
        }
    }

    func testIndexWithoutWeightMapOrNotJSON() throws {
        let index = try writeIndex(#"{"metadata": {}}"#)
        assertModelFileError(try SafeTensorsCheckpoint(directory: tmp), mentions: [index.path, "weight_map"]) {
            if case .missingKey = $0 { return true }
            return false
        }
        try "{not json".write(to: index, atomically: true, encoding: .utf8)
        assertModelFileError(try SafeTensorsCheckpoint(directory: tmp), mentions: [index.path]) {
            if case .malformed = $0 { return true }
            return false
        }
        try #"{"weight_map": {"a": 3}}"#.write(to: index, atomically: true, encoding: .utf8)
        assertModelFileError(try SafeTensorsCheckpoint(directory: tmp), mentions: [index.path, "weight_map"]) {
            if case .invalidValue = $0 { return true }
            return false
        }
    }
}
