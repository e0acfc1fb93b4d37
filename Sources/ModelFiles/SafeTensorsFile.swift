import Foundation
import Tensor

/// One `.safetensors` file, mapped read-only: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}`, then the packed tensor bytes.
/// The header is validated strictly on open; `tensor(_:)` returns views into the mapping.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Where one tensor lives and what it holds.
    public struct TensorInfo: Sendable, Equatable {
        public let name: String
        public let dtype: SafeTensorsDType
        /// Row-major shape; `[]` is a scalar.
        public let shape: [Int]
        /// Byte range relative to the start of the data section (after the header).
        public let dataOffsets: Range<Int>

        public var elementCount: Int { shape.reduce(1, *) }
        public var byteCount: Int { dataOffsets.count }
    }

    /// Headers larger than this are refused as corrupt rather than parsed.
    public static let maxHeaderBytes = 100_000_000

    public let url: URL
    /// Tensor names in storage order (ascending data offset).
    public let names: [String]
    /// The optional `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    /// File offset of the first data byte (8 + header length).
    public let dataStart: Int
    public let file: MappedFile
    private let infos: [String: TensorInfo]

    public var path: String { url.path }

    /// Files from this size up are read ahead in the background when opened (`MappedFile.prefetch`).
    static let prefetchMinimumBytes = 64 << 20

    /// Maps and validates the file.
    public init(url: URL) throws {
        self.url = url
        let file = try MappedFile(url: url)
        self.file = file
        let path = url.path
        // Weights are read soon after a checkpoint is opened: start streaming them in now.
        if file.size >= Self.prefetchMinimumBytes { file.prefetch() }

        var reader = ByteReader(file)
        let headerLength = try reader.read(UInt64.self, "safetensors header length")
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw ModelFileError.malformed(path: path, what: "header length",
                                           expected: "at most \(Self.maxHeaderBytes) bytes, found \(headerLength)")
        }
        let n = Int(headerLength)
        try reader.require(n, "JSON header of \(n) bytes")
        dataStart = 8 + n
        let dataSize = file.size - dataStart

        let entries = try Self.parseHeader(UnsafeRawBufferPointer(start: file.base + 8, count: n), path: path)
        var meta: [String: String] = [:]
        var infos: [String: TensorInfo] = [:]
        for (name, entry) in entries {
            switch (name, entry) {
            case ("__metadata__", .map(let m)):
                meta = m
            case ("__metadata__", .tensor):
                throw ModelFileError.invalidValue(path: path, key: "__metadata__", expected: "a map of strings to strings", found: "a tensor entry")
            case (_, .map):
                throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "header entry lacks dtype, shape or data_offsets")
            case (_, .tensor(let raw)):
                infos[name] = try Self.validate(name: name, raw: raw, dataSize: dataSize, path: path, fileSize: file.size, dataStart: dataStart)
            }
        }
        try Self.checkLayout(Array(infos.values), dataSize: dataSize, path: path)
        self.metadata = meta
        self.infos = infos
        self.names = infos.values.sorted { ($0.dataOffsets.lowerBound, $0.name) < ($1.dataOffsets.lowerBound, $1.name) }.map(\.name)
    }

    /// Opens the file at `path`.
    public convenience init(path: String) throws {
        try self.init(url: URL(fileURLWithPath: path))
    }

    public func contains(_ name: String) -> Bool { infos[name] != nil }

    /// The dtype, shape and location of `name`.
    public func info(_ name: String) throws -> TensorInfo {
        guard let info = infos[name] else { throw ModelFileError.tensorNotFound(path: path, tensor: name) }
        return info
    }

    /// The raw bytes of `name` (any dtype), borrowed from the mapping.
    public func storage(_ name: String) throws -> TensorStorage {
        let info = try info(name)
        return try file.storage(offset: dataStart + info.dataOffsets.lowerBound, byteCount: info.byteCount)
    }

    /// `name` as a tensor viewing the mapped bytes (F32, F16, BF16 only). A tensor whose offset is not a
    /// multiple of its element size (legal in the format, never produced by the reference writer) is copied
    /// into aligned memory instead, since misaligned float loads are undefined behaviour.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try info(name)
        guard let dtype = info.dtype.tensorDType else {
            throw ModelFileError.unsupportedDType(path: path, tensor: name, dtype: info.dtype.rawValue)
        }
        let offset = dataStart + info.dataOffsets.lowerBound
        let storage: TensorStorage
        if offset % dtype.byteSize == 0 {
            storage = try file.storage(offset: offset, byteCount: info.byteCount)
        } else {
            storage = TensorStorage(uninitializedByteCount: info.byteCount)
            storage.base.copyMemory(from: file.base + offset, byteCount: info.byteCount)
        }
        return try Tensor(shape: info.shape, dtype: dtype, storage: storage)
    }

    // MARK: - Header parsing

    struct RawTensorEntry: Decodable {
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]
    }

    enum HeaderEntry: Decodable {
        case tensor(RawTensorEntry)
        case map([String: String])

        init(from decoder: Decoder) throws {
            if let t = try? RawTensorEntry(from: decoder) {
                self = .tensor(t)
            } else {
                self = .map(try [String: String](from: decoder))
            }
        }
    }

    static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws -> [String: HeaderEntry] {
        guard bytes.first == UInt8(ascii: "{") else {
            throw ModelFileError.malformed(path: path, what: "JSON header", expected: "a JSON object starting with '{'")
        }
        do {
            return try JSONDecoder().decode([String: HeaderEntry].self, from: Data(bytes))
        } catch {
            throw ModelFileError.malformed(path: path, what: "JSON header",
                                           expected: "an object of {dtype, shape, data_offsets} entries (\(Self.describe(error)))")
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c):
            return "invalid JSON at \(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c), DecodingError.keyNotFound(_, let c):
            return "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        default:
            return "\(error)"
        }
    }

    static func validate(name: String, raw: RawTensorEntry, dataSize: Int, path: String, fileSize: Int, dataStart: Int) throws -> TensorInfo {
        guard let dtype = SafeTensorsDType(rawValue: raw.dtype) else {
            throw ModelFileError.unsupportedDType(path: path, tensor: name, dtype: raw.dtype)
        }
        guard raw.shape.allSatisfy({ $0 >= 0 }) else {
            throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "negative dimension in shape \(raw.shape)")
        }
        guard raw.data_offsets.count == 2 else {
            throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "data_offsets must hold [begin, end], found \(raw.data_offsets)")
        }
        let begin = raw.data_offsets[0], end = raw.data_offsets[1]
        guard begin >= 0, end >= begin else {
            throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "data_offsets [\(begin), \(end)] must satisfy 0 <= begin <= end")
        }
        var bytes = dtype.byteSize
        for d in raw.shape {
            let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "shape \(raw.shape) is too large")
            }
            bytes = p
        }
        guard end - begin == bytes else {
            throw ModelFileError.invalidTensor(path: path, tensor: name,
                problem: "data_offsets [\(begin), \(end)] span \(end - begin) bytes, shape \(raw.shape) of \(dtype) needs \(bytes)")
        }
        guard end <= dataSize else {
            throw ModelFileError.truncated(path: path, what: "data of tensor '\(name)'", needed: dataStart + end, available: fileSize)
        }
        return TensorInfo(name: name, dtype: dtype, shape: raw.shape, dataOffsets: begin..<end)
    }

    /// The data section must be exactly covered by the tensors: no overlaps, no holes, nothing after the last
    /// tensor (as the format's specification requires; stray bytes would make a file mean two things).
    static func checkLayout(_ infos: [TensorInfo], dataSize: Int, path: String) throws {
        let sorted = infos.filter { $0.byteCount > 0 }.sorted { $0.dataOffsets.lowerBound < $1.dataOffsets.lowerBound }
        var cursor = 0
        var previous: TensorInfo?
        for info in sorted {
            if info.dataOffsets.lowerBound < cursor, let previous {
                throw ModelFileError.overlappingTensors(path: path, tensor: previous.name, other: info.name)
            }
            if info.dataOffsets.lowerBound > cursor {
                throw ModelFileError.malformed(path: path, what: "data layout",
                    expected: "tensor data packed without holes, but bytes \(cursor)..<\(info.dataOffsets.lowerBound) belong to no tensor")
            }
            cursor = info.dataOffsets.upperBound
            previous = info
        }
        if cursor != dataSize {
            throw ModelFileError.malformed(path: path, what: "data layout",
                expected: "the last tensor to end at the end of the file, but \(dataSize - cursor) bytes follow it")
        }
    }
}
