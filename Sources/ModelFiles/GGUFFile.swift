import Foundation
import Tensor

/// One tensor's entry in a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions in ggml order: `dims[0]` (ne[0]) is the row length, the fastest-varying index.
    public let dims: [Int]
    public let type: GGMLType
    /// Absolute byte offset of the tensor's data in the file.
    public let fileOffset: Int
    public let byteCount: Int

    /// Row-major (PyTorch) shape: `dims` reversed, so a weight `[out, in]` has `dims == [in, out]`.
    public var shape: [Int] { dims.reversed() }
    public var elementCount: Int { dims.reduce(1, *) }
    /// Elements per row (`dims[0]`; 1 for a scalar).
    public var rowLength: Int { dims.first ?? 1 }
    /// Rows when the tensor is viewed as `[elementCount / rowLength, rowLength]`.
    public var rowCount: Int { rowLength == 0 ? 0 : elementCount / rowLength }
    /// Bytes of one row.
    public var rowBytes: Int { type.byteCount(elements: rowLength) }
}

/// How `GGUFFile.tensor(_:as:)` materialises a tensor.
public enum GGUFLoadMode: Sendable {
    /// F32, F16 and BF16 as views of the mapping in their own dtype; quantized types dequantized to a new F32 tensor.
    case keepOrDequantize
    /// Always a float32 tensor (F32 still a view; everything else converted into new memory).
    case float32
}

/// A GGUF (version 2 or 3, little-endian) model file: typed key-value metadata plus a tensor index over
/// mapped data. Opening validates the whole header and every tensor's extent; tensors are read on demand.
public final class GGUFFile: @unchecked Sendable {
    public static let supportedVersions = [2, 3]
    public static let defaultAlignment = 32
    /// Nested metadata arrays deeper than this are refused (a hostile file could otherwise exhaust the stack).
    static let maxArrayDepth = 8
    static let maxDims = 4

    public let url: URL
    public let file: MappedFile
    public let version: Int
    /// Metadata by key.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor entries in file order.
    public let tensorInfos: [GGUFTensorInfo]
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int
    private let index: [String: Int]

    public var path: String { url.path }
    public var tensorNames: [String] { tensorInfos.map(\.name) }
    /// `general.architecture`, for example "gemma3".
    public var architecture: String? { metadata["general.architecture"]?.string }

    public convenience init(path: String) throws {
        try self.init(url: URL(fileURLWithPath: path))
    }

    /// Maps and validates the file.
    public init(url: URL) throws {
        self.url = url
        let file = try MappedFile(url: url)
        self.file = file
        let path = url.path
        var r = ByteReader(file)

        try r.require(4, "GGUF magic")
        let magic = (0..<4).map { file.base.load(fromByteOffset: $0, as: UInt8.self) }
        guard magic == Array("GGUF".utf8) else {
            let shown = magic.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
                ? "\"" + String(decoding: magic, as: UTF8.self) + "\""
                : magic.map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ModelFileError.notGGUF(path: path, magic: shown)
        }
        r.offset = 4
        let rawVersion = try r.read(UInt32.self, "GGUF version")
        guard Self.supportedVersions.contains(Int(rawVersion)) else {
            if Self.supportedVersions.contains(Int(rawVersion.byteSwapped)) {
                throw ModelFileError.malformed(path: path, what: "byte order", expected: "a little-endian GGUF file (this one is big-endian)")
            }
            throw ModelFileError.unsupportedVersion(path: path, format: "GGUF", version: Int(rawVersion), supported: Self.supportedVersions)
        }
        version = Int(rawVersion)
        let tensorCount = try r.readCount("tensor count")
        let kvCount = try r.readCount("metadata count")
        // Each key-value pair takes at least 13 bytes and each tensor entry at least 24: counts that cannot fit are lies.
        guard kvCount <= r.remaining / 13 else {
            throw ModelFileError.malformed(path: path, what: "metadata count", expected: "at most \(r.remaining / 13) entries in \(file.size) bytes, found \(kvCount)")
        }
        guard tensorCount <= r.remaining / 24 else {
            throw ModelFileError.malformed(path: path, what: "tensor count", expected: "at most \(r.remaining / 24) entries in \(file.size) bytes, found \(tensorCount)")
        }

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let keyLength = try r.readCount("length of metadata key #\(i)")
            let key = try r.readString(length: keyLength, "metadata key #\(i) (\(keyLength) bytes)")
            let rawType = try r.read(UInt32.self, "type of metadata '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw ModelFileError.invalidValue(path: path, key: key, expected: "a GGUF value type 0...12", found: "type \(rawType)")
            }
            let value = try Self.readValue(type, &r, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw ModelFileError.invalidValue(path: path, key: key, expected: "each metadata key once", found: "a duplicate")
            }
            keys.append(key)
        }
        self.metadata = metadata
        self.metadataKeys = keys

        var alignment = Self.defaultAlignment
        if let a = metadata["general.alignment"] {
            guard let v = a.int, v > 0, v & (v - 1) == 0 else {
                throw ModelFileError.invalidValue(path: path, key: "general.alignment", expected: "a positive power of two", found: a.description)
            }
            alignment = v
        }
        self.alignment = alignment

        struct Pending { let name: String; let dims: [Int]; let type: GGMLType; let offset: Int; let bytes: Int }
        var pending: [Pending] = []
        pending.reserveCapacity(tensorCount)
        var index: [String: Int] = [:]
        for i in 0..<tensorCount {
            let nameLength = try r.readCount("length of tensor name #\(i)")
            let name = try r.readString(length: nameLength, "tensor name #\(i) (\(nameLength) bytes)")
            let nDims = try r.read(UInt32.self, "dimension count of tensor '\(name)'")
            guard nDims <= UInt32(Self.maxDims) else {
                throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "\(nDims) dimensions (at most \(Self.maxDims) allowed)")
            }
            var dims: [Int] = []
            var count = 1
            for _ in 0..<Int(nDims) {
                let d = try r.readCount("dimensions of tensor '\(name)'")
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "dimensions \(dims + [d]) are too large")
                }
                count = p
                dims.append(d)
            }
            let typeNumber = try r.read(UInt32.self, "type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: Int(typeNumber)) else {
                throw ModelFileError.unknownGGMLType(path: path, tensor: name, type: Int(typeNumber))
            }
            let relative = try r.readCount("data offset of tensor '\(name)'")
            let rowLength = dims.first ?? 1
            guard rowLength % type.blockSize == 0 else {
                throw ModelFileError.invalidTensor(path: path, tensor: name,
                    problem: "row length \(rowLength) is not a multiple of the \(type) block size \(type.blockSize)")
            }
            guard relative % alignment == 0 else {
                throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "data offset \(relative) is not a multiple of the alignment \(alignment)")
            }
            let (bytes, overflow) = (count / type.blockSize).multipliedReportingOverflow(by: type.blockBytes)
            guard !overflow else {
                throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "dimensions \(dims) are too large")
            }
            guard index.updateValue(i, forKey: name) == nil else {
                throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "the name appears more than once")
            }
            pending.append(Pending(name: name, dims: dims, type: type, offset: relative, bytes: bytes))
        }
        let dataOffset = (r.offset + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset
        self.index = index

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(pending.count)
        for t in pending {
            let start = t.offset <= Int.max - dataOffset ? dataOffset + t.offset : Int.max
            guard file.contains(offset: start, count: t.bytes) else {
                let needed = start <= Int.max - t.bytes ? start + t.bytes : Int.max
                throw ModelFileError.truncated(path: path, what: "data of tensor '\(t.name)'", needed: needed, available: file.size)
            }
            infos.append(GGUFTensorInfo(name: t.name, dims: t.dims, type: t.type, fileOffset: start, byteCount: t.bytes))
        }
        let byOffset = infos.filter { $0.byteCount > 0 }.sorted { $0.fileOffset < $1.fileOffset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where b.fileOffset < a.fileOffset + a.byteCount {
            throw ModelFileError.overlappingTensors(path: path, tensor: a.name, other: b.name)
        }
        self.tensorInfos = infos
    }

    // MARK: - Metadata

    private static func readValue(_ type: GGUFValueType, _ r: inout ByteReader, key: String, depth: Int) throws -> GGUFValue {
        let what = "value of '\(key)'"
        switch type {
        case .uint8: return .uint8(try r.read(UInt8.self, what))
        case .int8: return .int8(try r.read(Int8.self, what))
        case .uint16: return .uint16(try r.read(UInt16.self, what))
        case .int16: return .int16(try r.read(Int16.self, what))
        case .uint32: return .uint32(try r.read(UInt32.self, what))
        case .int32: return .int32(try r.read(Int32.self, what))
        case .uint64: return .uint64(try r.read(UInt64.self, what))
        case .int64: return .int64(try r.read(Int64.self, what))
        case .float32: return .float32(try r.readFloat(what))
        case .float64: return .float64(try r.readDouble(what))
        case .bool: return .bool(try readBool(&r, key: key))
        case .string:
            let n = try r.readCount("string length of '\(key)'")
            return .string(try r.readString(length: n, "string '\(key)' (\(n) bytes)"))
        case .array:
            return .array(try readArray(&r, key: key, depth: depth + 1))
        }
    }

    private static func readBool(_ r: inout ByteReader, key: String) throws -> Bool {
        let b = try r.read(UInt8.self, "value of '\(key)'")
        guard b <= 1 else {
            throw ModelFileError.invalidValue(path: r.file.path, key: key, expected: "a bool (0 or 1)", found: "\(b)")
        }
        return b == 1
    }

    private static func readArray(_ r: inout ByteReader, key: String, depth: Int) throws -> GGUFArray {
        let path = r.file.path
        guard depth <= maxArrayDepth else {
            throw ModelFileError.invalidValue(path: path, key: key, expected: "arrays nested at most \(maxArrayDepth) deep", found: "deeper nesting")
        }
        let rawType = try r.read(UInt32.self, "array element type of '\(key)'")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw ModelFileError.invalidValue(path: path, key: key, expected: "a GGUF array element type 0...12", found: "type \(rawType)")
        }
        let count = try r.readCount("array length of '\(key)'")
        let (minimum, overflow) = count.multipliedReportingOverflow(by: type.minimumBytes)
        try r.require(overflow ? Int.max : minimum, "array '\(key)' of \(count) \(type) values")

        func plain<T: FixedWidthInteger>(_: T.Type) -> [T] {
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 {  // so the buffer has a base address
                    UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: r.file.base + r.offset, byteCount: count * MemoryLayout<T>.size)
                }
                initialized = count
            }
            r.offset += count * MemoryLayout<T>.size
            return values.map { T(littleEndian: $0) }
        }

        switch type {
        case .uint8: return .uint8(plain(UInt8.self))
        case .int8: return .int8(plain(Int8.self))
        case .uint16: return .uint16(plain(UInt16.self))
        case .int16: return .int16(plain(Int16.self))
        case .uint32: return .uint32(plain(UInt32.self))
        case .int32: return .int32(plain(Int32.self))
        case .uint64: return .uint64(plain(UInt64.self))
        case .int64: return .int64(plain(Int64.self))
        case .float32: return .float32(plain(UInt32.self).map(Float.init(bitPattern:)))
        case .float64: return .float64(plain(UInt64.self).map(Double.init(bitPattern:)))
        case .bool:
            var values: [Bool] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try readBool(&r, key: key)) }
            return .bool(values)
        case .string:
            var values: [String] = []
            values.reserveCapacity(count)
            for i in 0..<count {
                let n = try r.readCount("length of string \(i) in '\(key)'")
                values.append(try r.readString(length: n, "string \(i) in '\(key)' (\(n) bytes)"))
            }
            return .string(values)
        case .array:
            var values: [GGUFArray] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try readArray(&r, key: key, depth: depth + 1)) }
            return .array(values)
        }
    }

    /// The value at `key` through one of `GGUFValue`'s accessors, throwing `missingKey` or `invalidValue`.
    /// Example: `try gguf.require("gemma3.block_count", \.int)`.
    public func require<T>(_ key: String, _ accessor: KeyPath<GGUFValue, T?>) throws -> T {
        guard let value = metadata[key] else {
            throw ModelFileError.missingKey(path: path, key: key, expected: "a value of type \(T.self)")
        }
        guard let typed = value[keyPath: accessor] else {
            throw ModelFileError.invalidValue(path: path, key: key, expected: "\(T.self)", found: "\(value.type) \(value)")
        }
        return typed
    }

    // MARK: - Tensors

    public func contains(_ name: String) -> Bool { index[name] != nil }

    public func info(_ name: String) throws -> GGUFTensorInfo {
        guard let i = index[name] else { throw ModelFileError.tensorNotFound(path: path, tensor: name) }
        return tensorInfos[i]
    }

    /// The tensor's stored bytes (quantized blocks as they are), borrowed from the mapping.
    public func rawStorage(_ name: String) throws -> TensorStorage {
        let info = try info(name)
        return try file.storage(offset: info.fileOffset, byteCount: info.byteCount)
    }

    /// `name` with its row-major `shape`: a mapped view for F32/F16/BF16 (unless `.float32` asks for a
    /// conversion), a new float32 tensor for quantized types.
    public func tensor(_ name: String, as mode: GGUFLoadMode = .keepOrDequantize) throws -> Tensor {
        let info = try info(name)
        try checkDequantizable(info)
        let plain: DType? = switch info.type {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        default: nil
        }
        if let plain, plain == .f32 || mode == .keepOrDequantize, info.fileOffset % plain.byteSize == 0 {
            return try Tensor(shape: info.shape, dtype: plain,
                              storage: try file.storage(offset: info.fileOffset, byteCount: info.byteCount))
        }
        // Every element is written by the dequantizer, so the buffer need not be zeroed first.
        let out = try Tensor(shape: info.shape, dtype: .f32, storage: TensorStorage(uninitializedByteCount: info.elementCount * 4))
        GGMLDequantizer.dequantize(info.type, from: file.base + info.fileOffset, into: out.f32, count: info.elementCount)
        return out
    }

    /// Dequantizes rows `rows` of `name` (viewed as `[rowCount, rowLength]`) into `destination`, which must
    /// hold `rows.count * rowLength` floats. Works for every type with a dequantizer, including F32/F16/BF16.
    public func dequantizeRows(_ name: String, rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws {
        let info = try info(name)
        try checkDequantizable(info)
        guard rows.lowerBound >= 0, rows.upperBound <= info.rowCount else {
            throw ModelFileError.invalidTensor(path: path, tensor: name, problem: "rows \(rows) requested, the tensor has \(info.rowCount)")
        }
        GGMLDequantizer.dequantize(info.type, from: file.base + info.fileOffset + rows.lowerBound * info.rowBytes,
                                   into: destination, count: rows.count * info.rowLength)
    }

    private func checkDequantizable(_ info: GGUFTensorInfo) throws {
        guard info.type.canDequantize else {
            throw ModelFileError.unsupportedDType(path: path, tensor: info.name, dtype: "\(info.type.name) (ggml type \(info.type.rawValue))")
        }
    }
}
