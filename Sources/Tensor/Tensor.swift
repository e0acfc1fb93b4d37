import CKernels

/// Errors raised by tensor construction and conversion.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(String)
    case dtypeMismatch(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let s): return "shape mismatch: \(s)"
        case .dtypeMismatch(let s): return "dtype mismatch: \(s)"
        }
    }
}

/// A dense, row-major, contiguous n-dimensional array over a `TensorStorage`.
/// Value semantics are not enforced: two tensors may view the same storage (weights are shared read-only).
public struct Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let dtype: DType
    public let storage: TensorStorage
    /// Byte offset of element 0 inside `storage`.
    public let byteOffset: Int

    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * dtype.byteSize }
    public var rank: Int { shape.count }
    public var raw: UnsafeMutableRawPointer { storage.base + byteOffset }

    /// Views `storage` at `byteOffset`; throws when the view does not fit.
    public init(shape: [Int], dtype: DType, storage: TensorStorage, byteOffset: Int = 0) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError.shapeMismatch("negative dimension in \(shape)") }
        let bytes = shape.reduce(1, *) * dtype.byteSize
        guard byteOffset >= 0, byteOffset + bytes <= storage.byteCount else {
            throw TensorError.shapeMismatch("\(shape) \(dtype) needs \(bytes) bytes at offset \(byteOffset), storage has \(storage.byteCount)")
        }
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.byteOffset = byteOffset
    }

    /// A new zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .f32) {
        let n = shape.reduce(1, *) * dtype.byteSize
        self.shape = shape
        self.dtype = dtype
        self.storage = TensorStorage(zeroedByteCount: n)
        self.byteOffset = 0
    }

    /// A new float32 tensor holding `values`.
    public init(_ values: [Float], shape: [Int]) throws {
        guard values.count == shape.reduce(1, *) else {
            throw TensorError.shapeMismatch("\(values.count) values for shape \(shape)")
        }
        self.init(zeros: shape, dtype: .f32)
        values.withUnsafeBufferPointer { src in
            // A shape with a zero dimension has no values to copy.
            guard let base = src.baseAddress else { return }
            raw.copyMemory(from: base, byteCount: values.count * 4)
        }
    }

    /// Same bytes, another shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard newShape.reduce(1, *) == count else {
            throw TensorError.shapeMismatch("cannot reshape \(shape) to \(newShape)")
        }
        return try Tensor(shape: newShape, dtype: dtype, storage: storage, byteOffset: byteOffset)
    }

    /// Rows `range` of the leading dimension, without copying.
    public func rows(_ range: Range<Int>) throws -> Tensor {
        guard let first = shape.first, range.lowerBound >= 0, range.upperBound <= first else {
            throw TensorError.shapeMismatch("rows \(range) of \(shape)")
        }
        let rowBytes = (count / max(first, 1)) * dtype.byteSize
        var s = shape
        s[0] = range.count
        return try Tensor(shape: s, dtype: dtype, storage: storage, byteOffset: byteOffset + range.lowerBound * rowBytes)
    }

    /// Float32 element pointer; the tensor must be float32.
    public var f32: UnsafeMutablePointer<Float> {
        raw.assumingMemoryBound(to: Float.self)
    }

    /// Float32 elements as an array (converting from f16/bf16).
    public func floats() -> [Float] {
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dst in
            // A shape with a zero dimension has nothing to convert.
            guard let base = dst.baseAddress else { return }
            Convert.toFloat(from: raw, dtype: dtype, into: base, count: count)
        }
        return out
    }

    /// A float32 copy of this tensor.
    public func toFloat32() -> Tensor {
        let out = Tensor(zeros: shape, dtype: .f32)
        Convert.toFloat(from: raw, dtype: dtype, into: out.f32, count: count)
        return out
    }

    /// A copy in `target` dtype (rounding to nearest even for bf16/f16).
    public func converted(to target: DType) -> Tensor {
        if target == dtype { return self }
        let f = dtype == .f32 ? self : toFloat32()
        let out = Tensor(zeros: shape, dtype: target)
        Convert.fromFloat(f.f32, into: out.raw, dtype: target, count: count)
        return out
    }
}

/// Bulk conversions between float32 and the 16-bit storage types.
public enum Convert {
    public static func toFloat(from src: UnsafeRawPointer, dtype: DType, into dst: UnsafeMutablePointer<Float>, count: Int) {
        switch dtype {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .bf16: ck_bf16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst, count)
        case .f16: ck_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst, count)
        }
    }

    public static func fromFloat(_ src: UnsafePointer<Float>, into dst: UnsafeMutableRawPointer, dtype: DType, count: Int) {
        switch dtype {
        case .f32: dst.assumingMemoryBound(to: Float.self).update(from: src, count: count)
        case .bf16: ck_f32_to_bf16(src, dst.assumingMemoryBound(to: UInt16.self), count)
        case .f16: ck_f32_to_f16(src, dst.assumingMemoryBound(to: UInt16.self), count)
        }
    }

    /// Rounds float32 values in place to the nearest value representable in `dtype`.
    public static func round(_ p: UnsafeMutablePointer<Float>, count: Int, to dtype: DType) {
        switch dtype {
        case .f32: return
        case .bf16: ck_round_bf16(p, count)
        case .f16: ck_round_f16(p, count)
        }
    }

    public static func bf16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
    public static func floatToBF16(_ x: Float) -> UInt16 {
        var v: UInt16 = 0
        var f = x
        ck_f32_to_bf16(&f, &v, 1)
        return v
    }
    public static func floatToF16(_ x: Float) -> UInt16 {
        var v: UInt16 = 0
        var f = x
        ck_f32_to_f16(&f, &v, 1)
        return v
    }
    public static func f16ToFloat(_ bits: UInt16) -> Float {
        var f: Float = 0
        var b = bits
        ck_f16_to_f32(&b, &f, 1)
        return f
    }
}
