import Foundation
import Tensor

/// Writes safetensors files tensor by tensor: the header is computed from declared names, dtypes and shapes,
/// then each tensor is produced and written in turn, so a whole model never has to sit in memory twice.
public enum SafeTensorsWriter {
    /// One tensor to write: declared up front (for the header), produced when its bytes are due.
    public struct Entry {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let produce: () throws -> Tensor

        /// A tensor computed on demand (for example a LoRA-merged weight); it must match `dtype` and `shape`.
        public init(name: String, dtype: DType, shape: [Int], produce: @escaping () throws -> Tensor) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.produce = produce
        }

        /// A tensor already at hand.
        public init(name: String, tensor: Tensor) {
            self.init(name: name, dtype: tensor.dtype, shape: tensor.shape) { tensor }
        }

        public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    /// Writes `tensors` and `metadata` to one file.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try write(entries: tensors.map { Entry(name: $0.name, tensor: $0.tensor) }, metadata: metadata, to: url)
    }

    /// Writes `entries` and `metadata` to one file. Tensors are stored by descending element size, then name,
    /// so every tensor starts aligned to its element size; header keys are sorted and the header is padded
    /// with spaces to a multiple of 8 bytes.
    public static func write(entries: [Entry], metadata: [String: String] = [:], to url: URL) throws {
        let path = url.path
        try checkNames(entries, path: path)
        let ordered = entries.sorted { ($0.dtype.byteSize, $1.name) > ($1.dtype.byteSize, $0.name) }
        var fields: [(String, String)] = []
        var cursor = 0
        for e in ordered {
            guard e.shape.allSatisfy({ $0 >= 0 }) else {
                throw ModelFileError.writeFailed(path: path, reason: "tensor '\(e.name)' has a negative dimension in \(e.shape)")
            }
            let r = cursor..<(cursor + e.byteCount)
            cursor = r.upperBound
            let shape = e.shape.map(String.init).joined(separator: ",")
            fields.append((e.name, "{\"dtype\":\"\(SafeTensorsDType(e.dtype).rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(r.lowerBound),\(r.upperBound)]}"))
        }
        if !metadata.isEmpty {
            let body = metadata.sorted { $0.key < $1.key }.map { jsonString($0.key) + ":" + jsonString($0.value) }.joined(separator: ",")
            fields.append(("__metadata__", "{" + body + "}"))
        }
        fields.sort { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
        var header = Array(("{" + fields.map { jsonString($0.0) + ":" + $0.1 }.joined(separator: ",") + "}").utf8)
        while (8 + header.count) % 8 != 0 { header.append(UInt8(ascii: " ")) }

        let sink = try FileSink(path: path)
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try sink.write($0) }
        try sink.write(header)
        for e in ordered {
            let t = try e.produce()
            guard t.dtype == e.dtype, t.shape == e.shape else {
                throw ModelFileError.writeFailed(path: path,
                    reason: "tensor '\(e.name)' was declared \(e.dtype) \(e.shape) but produced \(t.dtype) \(t.shape)")
            }
            try sink.write(UnsafeRawBufferPointer(start: t.raw, count: t.byteCount))
        }
        try sink.finish()
    }

    /// Writes `tensors` as shards of at most `maxShardBytes` tensor bytes each (a larger tensor gets a shard of
    /// its own): `<baseName>-00001-of-0000N.safetensors` plus `<baseName>.safetensors.index.json` whose
    /// `metadata.total_size` is the sum of tensor bytes. Tensors are assigned to shards in the order given.
    /// Returns the shard URLs followed by the index URL.
    @discardableResult
    public static func writeSharded(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                                    to directory: URL, maxShardBytes: Int, baseName: String = "model") throws -> [URL] {
        try writeSharded(entries: tensors.map { Entry(name: $0.name, tensor: $0.tensor) }, metadata: metadata,
                         to: directory, maxShardBytes: maxShardBytes, baseName: baseName)
    }

    /// `writeSharded` for tensors produced on demand.
    @discardableResult
    public static func writeSharded(entries: [Entry], metadata: [String: String] = [:],
                                    to directory: URL, maxShardBytes: Int, baseName: String = "model") throws -> [URL] {
        let indexURL = directory.appendingPathComponent("\(baseName).safetensors.index.json")
        try checkNames(entries, path: indexURL.path)
        guard maxShardBytes > 0 else {
            throw ModelFileError.writeFailed(path: indexURL.path, reason: "maxShardBytes must be positive, got \(maxShardBytes)")
        }
        var shards: [[Entry]] = []
        var current: [Entry] = []
        var currentBytes = 0
        for e in entries {
            if !current.isEmpty && currentBytes + e.byteCount > maxShardBytes {
                shards.append(current)
                current = []
                currentBytes = 0
            }
            current.append(e)
            currentBytes += e.byteCount
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }

        let n = shards.count
        func number(_ i: Int) -> String {
            let s = String(i)
            return String(repeating: "0", count: max(0, 5 - s.count)) + s
        }
        var urls: [URL] = []
        var weightMap: [(String, String)] = []
        for (i, shard) in shards.enumerated() {
            let fileName = "\(baseName)-\(number(i + 1))-of-\(number(n)).safetensors"
            let url = directory.appendingPathComponent(fileName)
            try write(entries: shard, metadata: metadata, to: url)
            urls.append(url)
            weightMap += shard.map { ($0.name, fileName) }
        }
        let total = entries.reduce(0) { $0 + $1.byteCount }
        weightMap.sort { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
        let lines = weightMap.map { "    \(jsonString($0.0)): \(jsonString($0.1))" }.joined(separator: ",\n")
        let index = "{\n  \"metadata\": {\n    \"total_size\": \(total)\n  },\n  \"weight_map\": {\n\(lines)\n  }\n}\n"
        let sink = try FileSink(path: indexURL.path)
        try sink.write(index)
        try sink.finish()
        return urls + [indexURL]
    }

    private static func checkNames(_ entries: [Entry], path: String) throws {
        var seen = Set<String>()
        for e in entries {
            guard e.name != "__metadata__" else {
                throw ModelFileError.writeFailed(path: path, reason: "'__metadata__' is reserved and cannot name a tensor")
            }
            guard seen.insert(e.name).inserted else {
                throw ModelFileError.writeFailed(path: path, reason: "tensor name '\(e.name)' given twice")
            }
        }
    }
}
