import CKernels
import Foundation

/// Weight-only quantisation of a linear layer's base weight.
public enum QuantizationScheme: String, Sendable, CaseIterable {
    /// Weights as stored (bf16 / f16 / f32).
    case none
    /// Symmetric int8 with one float32 scale per output row (absmax / 127, round half to even).
    case int8
    /// `int8`'s weights with int8 activations: each product quantises its input rows (tokens) to int8 with
    /// one dynamic absmax / 127 scale per row and sums int8 × int8 in int32 (oneDNN; VNNI or AMX-INT8 where
    /// present, an exact float32 path elsewhere), then applies both scales. Opt-in; never the default.
    case w8a8
    /// QLoRA's 4-bit NormalFloat: blocks of 64 consecutive elements (row-major), absmax per block,
    /// absmax double-quantised to 8 bits (blocks of 256, dynamic code, float32 scale + mean offset),
    /// laid out as bitsandbytes' `quantize_4bit(blocksize=64, compress_statistics=True, quant_type="nf4")`.
    case nf4
}

public enum QuantizationError: Error, CustomStringConvertible {
    case unsupported(String)
    public var description: String {
        switch self { case .unsupported(let s): return "cannot quantise: \(s)" }
    }
}

// The `baseAddress!` below are on scale, absmax and code arrays sized from rows, blocks and the 256-entry
// dynamic code; quantisation is only ever asked for non-empty weights (the loader checks shapes), so none is
// empty.
/// A quantised [rows, cols] matrix. Products dequantise it tile by tile (`dequantize(rows:into:)`), so the
/// whole dense matrix never exists at once.
public final class QuantizedMatrix: @unchecked Sendable {
    public let scheme: QuantizationScheme
    public let rows: Int
    public let cols: Int
    /// int8: codes [rows·cols]; nf4: packed 4-bit codes [(rows·cols + 1) / 2], first element in the high nibble.
    public let codes: TensorStorage
    /// int8: float32 scale per row.
    public let rowScales: [Float]
    /// nf4: 8-bit code of each 64-block's absmax (minus `absmaxOffset`).
    public let absmaxCodes: [UInt8]
    /// nf4: float32 scale of each group of 256 absmax codes.
    public let absmaxScales: [Float]
    /// nf4: mean of the first-level absmax values, added back on dequantisation.
    public let absmaxOffset: Float

    public static let nf4BlockSize = 64
    public static let absmaxBlockSize = 256
    /// The 16 NF4 code values (ascending).
    public static var nf4Values: [Float] { Array(UnsafeBufferPointer(start: ck_nf4_table(), count: 16)) }
    /// The second-level 8-bit code table.
    public static var dynamicCode: [Float] { DynamicCode.values }

    /// Bytes held by the quantised representation.
    public var byteCount: Int { codes.byteCount + rowScales.count * 4 + absmaxCodes.count + absmaxScales.count * 4 }

    init(scheme: QuantizationScheme, rows: Int, cols: Int, codes: TensorStorage, rowScales: [Float] = [],
         absmaxCodes: [UInt8] = [], absmaxScales: [Float] = [], absmaxOffset: Float = 0) {
        self.scheme = scheme
        self.rows = rows
        self.cols = cols
        self.codes = codes
        self.rowScales = rowScales
        self.absmaxCodes = absmaxCodes
        self.absmaxScales = absmaxScales
        self.absmaxOffset = absmaxOffset
    }

    /// Rows converted to float32 per step of quantisation (bounds the scratch memory).
    static let chunkElements = 1 << 20

    /// Quantises a 2-D tensor of any dtype, reading it chunk by chunk (a memory-mapped weight is paged in
    /// only a chunk at a time).
    public static func quantize(_ weight: Tensor, scheme: QuantizationScheme) throws -> QuantizedMatrix {
        guard weight.rank == 2 else { throw QuantizationError.unsupported("weight of shape \(weight.shape) is not 2-D") }
        let rows = weight.shape[0], cols = weight.shape[1]
        let n = rows * cols
        let es = weight.dtype.byteSize
        switch scheme {
        case .none:
            throw QuantizationError.unsupported("scheme none")
        case .int8, .w8a8:
            let codes = TensorStorage(uninitializedByteCount: n)
            var scales = [Float](repeating: 0, count: rows)
            let chunkRows = max(1, chunkElements / max(cols, 1))
            let scratch = TensorStorage(uninitializedByteCount: min(chunkRows, rows) * cols * 4)
            let buf = scratch.base.assumingMemoryBound(to: Float.self)
            scales.withUnsafeMutableBufferPointer { sp in
                var r0 = 0
                while r0 < rows {
                    let rn = min(chunkRows, rows - r0)
                    Convert.toFloat(from: weight.raw + r0 * cols * es, dtype: weight.dtype, into: buf, count: rn * cols)
                    ck_int8_quantize_rows(buf, Int64(rn), Int64(cols),
                                          codes.base.assumingMemoryBound(to: Int8.self) + r0 * cols, sp.baseAddress! + r0)
                    r0 += rn
                }
            }
            return QuantizedMatrix(scheme: scheme, rows: rows, cols: cols, codes: codes, rowScales: scales)
        case .nf4:
            let packed = TensorStorage(zeroedByteCount: (n + 1) / 2)
            let blocks = (n + nf4BlockSize - 1) / nf4BlockSize
            var absmax = [Float](repeating: 0, count: blocks)
            let chunk = (chunkElements / nf4BlockSize) * nf4BlockSize
            let scratch = TensorStorage(uninitializedByteCount: min(chunk, max(n, 1)) * 4)
            let buf = scratch.base.assumingMemoryBound(to: Float.self)
            absmax.withUnsafeMutableBufferPointer { ap in
                var e0 = 0
                while e0 < n {
                    let en = min(chunk, n - e0)
                    Convert.toFloat(from: weight.raw + e0 * es, dtype: weight.dtype, into: buf, count: en)
                    ck_nf4_quantize(buf, Int64(en), Int64(e0), packed.base.assumingMemoryBound(to: UInt8.self),
                                    ap.baseAddress! + e0 / nf4BlockSize)
                    e0 += en
                }
            }
            // Double quantisation: the absmax values minus their mean, 8-bit dynamic code in blocks of 256.
            var sum = 0.0
            for a in absmax { sum += Double(a) }
            let offset = blocks > 0 ? Float(sum / Double(blocks)) : 0
            let centred = absmax.map { $0 - offset }
            let groups = (blocks + absmaxBlockSize - 1) / absmaxBlockSize
            var q = [UInt8](repeating: 0, count: blocks)
            var scales2 = [Float](repeating: 0, count: groups)
            DynamicCode.values.withUnsafeBufferPointer { code in
                centred.withUnsafeBufferPointer { c in
                    q.withUnsafeMutableBufferPointer { qp in
                        scales2.withUnsafeMutableBufferPointer { sp in
                            ck_dynamic_quantize(c.baseAddress!, Int64(blocks), Int64(absmaxBlockSize), code.baseAddress!,
                                                qp.baseAddress!, sp.baseAddress!)
                        }
                    }
                }
            }
            return QuantizedMatrix(scheme: .nf4, rows: rows, cols: cols, codes: packed, absmaxCodes: q,
                                   absmaxScales: scales2, absmaxOffset: offset)
        }
    }

    /// Writes rows [r0, r0 + count) dequantised to float32 into `out` ([count, cols]).
    public func dequantize(rows r0: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch scheme {
        case .none:
            return
        case .int8, .w8a8:
            rowScales.withUnsafeBufferPointer { s in
                ck_int8_dequantize_rows(codes.base.assumingMemoryBound(to: Int8.self) + r0 * cols, s.baseAddress! + r0,
                                        Int64(count), Int64(cols), out)
            }
        case .nf4:
            absmaxCodes.withUnsafeBufferPointer { q in
                absmaxScales.withUnsafeBufferPointer { s in
                    DynamicCode.values.withUnsafeBufferPointer { code in
                        ck_nf4_dequantize(codes.base.assumingMemoryBound(to: UInt8.self), q.baseAddress!, s.baseAddress!,
                                          absmaxOffset, code.baseAddress!, Int64(r0 * cols), Int64(count * cols), out)
                    }
                }
            }
        }
    }

    /// The whole matrix dequantised (tests and small matrices only).
    public func dequantized() -> Tensor {
        let t = Tensor(zeros: [rows, cols])
        if rows > 0 { dequantize(rows: 0, count: rows, into: t.f32) }
        return t
    }

    /// Dequantised first-level absmax of each NF4 block (tests).
    public func blockAbsmax() -> [Float] {
        let code = DynamicCode.values
        return absmaxCodes.enumerated().map { b, q in code[Int(q)] * absmaxScales[b / Self.absmaxBlockSize] + absmaxOffset }
    }
}

extension Tensor {
    /// Tells the kernel that the pages of a memory-mapped tensor are not needed for now: they leave the
    /// process's resident set (and are read from the file again if touched). No-op for allocated tensors.
    public func releaseMappedPages() {
        guard storage.isBorrowed else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: raw)
        let lo = (start + page - 1) / page * page
        let hi = (start + byteCount) / page * page
        guard hi > lo, let p = UnsafeMutableRawPointer(bitPattern: lo) else { return }
        _ = madvise(p, hi - lo, Int32(MADV_DONTNEED))
    }
}
