import Foundation
import Tensor

/// A model's weights as one namespace, whether stored in a single `model.safetensors`, in shards listed by a
/// `*.safetensors.index.json` (`weight_map`: tensor name → shard file), or as several `.safetensors` files
/// in one directory without an index.
public final class SafeTensorsCheckpoint: @unchecked Sendable {
    /// The opened files, in shard order.
    public let files: [SafeTensorsFile]
    /// The index file when the checkpoint is sharded through one.
    public let indexURL: URL?
    /// The index's `metadata` object (for example `total_size`) with values rendered as text; empty without an index.
    public let indexMetadata: [String: String]
    /// All tensor names, sorted.
    public let names: [String]
    private let location: [String: Int]

    /// Opens the checkpoint stored in `directory`: `model.safetensors.index.json` (or the one
    /// `*.safetensors.index.json`) if present, else `model.safetensors`, else every `*.safetensors` file.
    public convenience init(directory: URL) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDir) else {
            throw ModelFileError.notFound(path: directory.path)
        }
        guard isDir.boolValue else { try self.init(file: directory); return }
        let entries: [String]
        do {
            entries = try fm.contentsOfDirectory(atPath: directory.path).sorted()
        } catch {
            throw ModelFileError.unreadable(path: directory.path, reason: "\(error)")
        }
        let indexes = entries.filter { $0.hasSuffix(".safetensors.index.json") }
        if indexes.contains("model.safetensors.index.json") {
            try self.init(index: directory.appendingPathComponent("model.safetensors.index.json"))
        } else if indexes.count == 1 {
            try self.init(index: directory.appendingPathComponent(indexes[0]))
        } else if indexes.count > 1 {
            throw ModelFileError.malformed(path: directory.path, what: "checkpoint directory",
                                           expected: "one *.safetensors.index.json, found \(indexes.joined(separator: ", "))")
        } else if entries.contains("model.safetensors") {
            try self.init(files: [SafeTensorsFile(url: directory.appendingPathComponent("model.safetensors"))], index: nil, metadata: [:])
        } else {
            let shards = entries.filter { $0.hasSuffix(".safetensors") }
            guard !shards.isEmpty else {
                throw ModelFileError.noWeights(path: directory.path,
                                               readme: entries.contains("README.md") ? directory.appendingPathComponent("README.md").path : nil)
            }
            try self.init(files: shards.map { try SafeTensorsFile(url: directory.appendingPathComponent($0)) }, index: nil, metadata: [:])
        }
    }

    /// Opens a single `.safetensors` file, or a sharded checkpoint through its `.index.json`.
    public convenience init(file: URL) throws {
        if file.lastPathComponent.hasSuffix(".index.json") {
            try self.init(index: file)
        } else {
            try self.init(files: [SafeTensorsFile(url: file)], index: nil, metadata: [:])
        }
    }

    private convenience init(index: URL) throws {
        let path = index.path
        let file = try MappedFile(url: index)
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(UnsafeRawBufferPointer(start: file.base, count: file.size)))
        } catch {
            throw ModelFileError.malformed(path: path, what: "index JSON", expected: "valid JSON (\(error))")
        }
        guard let root = parsed as? [String: Any] else {
            throw ModelFileError.malformed(path: path, what: "index JSON", expected: "a JSON object")
        }
        guard let mapAny = root["weight_map"] else {
            throw ModelFileError.missingKey(path: path, key: "weight_map", expected: "an object mapping tensor names to shard files")
        }
        guard let map = mapAny as? [String: String] else {
            throw ModelFileError.invalidValue(path: path, key: "weight_map", expected: "an object mapping tensor names to shard files", found: "\(type(of: mapAny))")
        }
        var metadata: [String: String] = [:]
        if let meta = root["metadata"] as? [String: Any] {
            for (k, v) in meta { metadata[k] = "\(v)" }
        }
        let directory = index.deletingLastPathComponent()
        var files: [SafeTensorsFile] = []
        var shardIndex: [String: Int] = [:]
        for shard in Set(map.values).sorted() {
            let url = directory.appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ModelFileError.missingShard(index: path, shard: shard)
            }
            shardIndex[shard] = files.count
            files.append(try SafeTensorsFile(url: url))
        }
        var location: [String: Int] = [:]
        for (name, shard) in map.sorted(by: { $0.key < $1.key }) {
            guard let i = shardIndex[shard], files[i].contains(name) else {
                throw ModelFileError.tensorMissingFromShard(index: path, shard: shard, tensor: name)
            }
            location[name] = i
        }
        try self.init(files: files, location: location, index: index, metadata: metadata)
    }

    private convenience init(files: [SafeTensorsFile], index: URL?, metadata: [String: String]) throws {
        var location: [String: Int] = [:]
        for (i, f) in files.enumerated() {
            for name in f.names {
                if let other = location[name] {
                    throw ModelFileError.invalidValue(path: f.path, key: name, expected: "each tensor name in one file only",
                                                      found: "'\(name)' also in \(files[other].path)")
                }
                location[name] = i
            }
        }
        try self.init(files: files, location: location, index: index, metadata: metadata)
    }

    private init(files: [SafeTensorsFile], location: [String: Int], index: URL?, metadata: [String: String]) throws {
        self.files = files
        self.location = location
        self.indexURL = index
        self.indexMetadata = metadata
        self.names = location.keys.sorted()
    }

    /// Where errors about the checkpoint as a whole point: the index, or the single file.
    public var path: String { indexURL?.path ?? files.map(\.path).joined(separator: ", ") }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// The file holding `name`.
    public func file(containing name: String) throws -> SafeTensorsFile {
        guard let i = location[name] else { throw ModelFileError.tensorNotFound(path: path, tensor: name) }
        return files[i]
    }

    public func info(_ name: String) throws -> SafeTensorsFile.TensorInfo {
        try file(containing: name).info(name)
    }

    /// `name` as a view of its shard's mapping.
    public func tensor(_ name: String) throws -> Tensor {
        try file(containing: name).tensor(name)
    }

    /// The `__metadata__` maps of all files merged (the first file wins on conflicting keys).
    public var metadata: [String: String] {
        var merged: [String: String] = [:]
        for f in files { merged.merge(f.metadata) { old, _ in old } }
        return merged
    }
}
