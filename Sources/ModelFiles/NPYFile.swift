import Foundation
import Tensor

/// The elements of an `.npy` array, typed as stored.
public enum NPYData: Sendable, Equatable {
    case float32([Float])
    /// IEEE half bit patterns.
    case float16([UInt16])
    case float64([Double])
    case uint8([UInt8])
    case uint16([UInt16])
    case int16([Int16])
    case int32([Int32])
    case int64([Int64])

    public var count: Int {
        switch self {
        case .float32(let a): return a.count
        case .float16(let a): return a.count
        case .float64(let a): return a.count
        case .uint8(let a): return a.count
        case .uint16(let a): return a.count
        case .int16(let a): return a.count
        case .int32(let a): return a.count
        case .int64(let a): return a.count
        }
    }
}

/// A C-ordered array read from an `.npy` file.
public struct NPYArray: Sendable, Equatable {
    public let shape: [Int]
    /// The numpy type string as stored, for example "<f4" or "|u1".
    public let dtype: String
    public let data: NPYData

    /// Every element widened or rounded to float32 (int64 and float64 may lose precision).
    public func floats() -> [Float] {
        switch data {
        case .float32(let a): return a
        case .float16(let a): return a.map(GGMLDequantizer.halfToFloat)
        case .float64(let a): return a.map(Float.init)
        case .uint8(let a): return a.map(Float.init)
        case .uint16(let a): return a.map(Float.init)
        case .int16(let a): return a.map(Float.init)
        case .int32(let a): return a.map(Float.init)
        case .int64(let a): return a.map(Float.init)
        }
    }

    /// A float32 tensor of the array (converted as `floats()`).
    public func tensor() throws -> Tensor {
        try Tensor(floats(), shape: shape)
    }
}

/// Reading and writing numpy `.npy` files (format version 1.0 written; 1.0–3.0 read), little-endian, C order.
public enum NPYFile {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Writes float32 values as `<f4`.
    public static func write(_ url: URL, floats: [Float], shape: [Int]) throws {
        try floats.withUnsafeBytes { try write(url, descr: "<f4", bytes: $0, count: floats.count, shape: shape) }
    }

    /// Writes a tensor as `<f4` (converting f16/bf16 to float32).
    public static func write(_ url: URL, tensor: Tensor) throws {
        let f = tensor.dtype == .f32 ? tensor : tensor.toFloat32()
        try write(url, descr: "<f4", bytes: UnsafeRawBufferPointer(start: f.raw, count: f.byteCount), count: f.count, shape: f.shape)
    }

    /// Writes unsigned bytes as `|u1` (numpy's spelling of `<u1`; byte order does not apply to one byte).
    public static func write(_ url: URL, uint8 values: [UInt8], shape: [Int]) throws {
        try values.withUnsafeBytes { try write(url, descr: "|u1", bytes: $0, count: values.count, shape: shape) }
    }

    /// Writes `<u2`.
    public static func write(_ url: URL, uint16 values: [UInt16], shape: [Int]) throws {
        let le = values.map(\.littleEndian)
        try le.withUnsafeBytes { try write(url, descr: "<u2", bytes: $0, count: values.count, shape: shape) }
    }

    /// Writes `<i2`.
    public static func write(_ url: URL, int16 values: [Int16], shape: [Int]) throws {
        let le = values.map(\.littleEndian)
        try le.withUnsafeBytes { try write(url, descr: "<i2", bytes: $0, count: values.count, shape: shape) }
    }

    private static func write(_ url: URL, descr: String, bytes: UnsafeRawBufferPointer, count: Int, shape: [Int]) throws {
        let path = url.path
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else {
            throw ModelFileError.writeFailed(path: path, reason: "\(count) values do not fill shape \(shape)")
        }
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        // Pad with spaces and end with a newline so that the data starts on a 64-byte boundary.
        let unpadded = magic.count + 2 + 2 + header.count + 1
        header += [UInt8](repeating: UInt8(ascii: " "), count: (64 - unpadded % 64) % 64) + [0x0A]
        guard header.count <= Int(UInt16.max) else {
            throw ModelFileError.writeFailed(path: path, reason: "shape \(shape) needs a header too long for npy version 1.0")
        }
        let sink = try FileSink(path: path)
        try sink.write(magic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)])
        try sink.write(header)
        try sink.write(bytes)
        try sink.finish()
    }

    /// Reads an `.npy` file holding `<f4`, `<f2`, `<f8`, `|u1`, `<u2`, `<i2`, `<i4` or `<i8` in C order.
    public static func read(_ url: URL) throws -> NPYArray {
        let path = url.path
        let file = try MappedFile(url: url)
        var r = ByteReader(file)
        try r.require(8, "npy magic and version")
        let head = (0..<6).map { file.base.load(fromByteOffset: $0, as: UInt8.self) }
        guard head == magic else {
            throw ModelFileError.malformed(path: path, what: "npy magic", expected: "\\x93NUMPY")
        }
        r.offset = 6
        let major = try r.read(UInt8.self, "npy version")
        _ = try r.read(UInt8.self, "npy version")
        let headerLength: Int
        switch major {
        case 1: headerLength = Int(try r.read(UInt16.self, "npy header length"))
        case 2, 3: headerLength = Int(try r.read(UInt32.self, "npy header length"))
        default: throw ModelFileError.unsupportedVersion(path: path, format: "npy", version: Int(major), supported: [1, 2, 3])
        }
        let header = try r.readString(length: headerLength, "npy header")
        let (descr, fortran, shape) = try parseHeader(header, path: path)
        guard !fortran else {
            throw ModelFileError.malformed(path: path, what: "npy header", expected: "C order (fortran_order False)")
        }
        let count = shape.reduce(1, *)
        let itemSize: Int
        switch descr {
        case "|u1", "<u1", "u1": itemSize = 1
        case "<f2", "<u2", "<i2": itemSize = 2
        case "<f4", "<i4": itemSize = 4
        case "<f8", "<i8": itemSize = 8
        default:
            throw ModelFileError.unsupportedDType(path: path, tensor: "npy array", dtype: descr)
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: itemSize)
        try r.require(overflow ? Int.max : byteCount, "npy data of shape \(shape) and dtype \(descr)")
        let base = file.base + r.offset
        func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                // count > 0: the buffer has a base address.
                if count > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: base, byteCount: byteCount) }
                initialized = count
            }
            return values.map { T(littleEndian: $0) }
        }
        let data: NPYData
        switch descr {
        case "|u1", "<u1", "u1": data = .uint8(load(UInt8.self))
        case "<u2": data = .uint16(load(UInt16.self))
        case "<i2": data = .int16(load(Int16.self))
        case "<f2": data = .float16(load(UInt16.self))
        case "<f4": data = .float32(load(UInt32.self).map(Float.init(bitPattern:)))
        case "<i4": data = .int32(load(Int32.self))
        case "<f8": data = .float64(load(UInt64.self).map(Double.init(bitPattern:)))
        default: data = .int64(load(Int64.self))
        }
        return NPYArray(shape: shape, dtype: descr, data: data)
    }

    /// Parses the Python-literal header dict: `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
    static func parseHeader(_ header: String, path: String) throws -> (String, Bool, [Int]) {
        func bad(_ expected: String) -> ModelFileError {
            .malformed(path: path, what: "npy header \(header.trimmingCharacters(in: .whitespacesAndNewlines))", expected: expected)
        }
        func value(after key: String) -> Substring? {
            guard let k = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
            var rest = header[k.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { return nil }
            rest = rest.dropFirst().drop { $0 == " " }
            return rest
        }
        guard let d = value(after: "descr"), let quote = d.first, quote == "'" || quote == "\"",
              let end = d.dropFirst().firstIndex(of: quote) else { throw bad("a 'descr' string") }
        let descr = String(d[d.index(after: d.startIndex)..<end])
        guard let f = value(after: "fortran_order") else { throw bad("a 'fortran_order' flag") }
        let fortran: Bool
        if f.hasPrefix("False") { fortran = false } else if f.hasPrefix("True") { fortran = true } else { throw bad("fortran_order True or False") }
        guard let s = value(after: "shape"), s.first == "(", let close = s.firstIndex(of: ")") else { throw bad("a 'shape' tuple") }
        var shape: [Int] = []
        for part in s[s.index(after: s.startIndex)..<close].split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let n = Int(t.hasSuffix("L") ? String(t.dropLast()) : t), n >= 0 else { throw bad("non-negative integer dimensions") }
            shape.append(n)
        }
        var total = 1
        for n in shape {
            let (p, o) = total.multipliedReportingOverflow(by: n)
            guard !o else { throw bad("a shape of reasonable size") }
            total = p
        }
        return (descr, fortran, shape)
    }
}
