import Dispatch
import Foundation
import Tensor

/// Block dequantization of ggml tensor data to float32. Each kernel reproduces the reference arithmetic
/// exactly (float32 products of f16 scales and small integers, in the reference order), so results are
/// bit-identical to ggml's and gguf-py's.
public enum GGMLDequantizer {
    /// Work below this many elements stays on the calling thread.
    public static let parallelThreshold = 1 << 18

    /// Dequantizes `count` elements of `type` (a multiple of its block size) from `src` into `dst`.
    /// Large spans are split into block ranges across the cores.
    public static func dequantize(_ type: GGMLType, from src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>,
                                  count: Int, parallel: Bool = true) {
        // Programmer errors only: GGUFFile checks the type (checkDequantizable) and that rows are whole blocks
        // (when the tensor index is read) before any call.
        precondition(type.canDequantize, "no dequantizer for \(type)")
        precondition(count % type.blockSize == 0, "\(count) elements is not a whole number of \(type) blocks")
        let blocks = count / type.blockSize
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard parallel, cores > 1, count >= parallelThreshold else {
            run(type, src, dst, blocks: blocks)
            return
        }
        let chunks = min(blocks, cores * 4)
        let task = Task(src: src, dst: dst)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = blocks * c / chunks, hi = blocks * (c + 1) / chunks
            run(type, task.src + lo * type.blockBytes, task.dst + lo * type.blockSize, blocks: hi - lo)
        }
    }

    /// Pointers handed to worker threads; each worker touches a disjoint block range.
    private struct Task: @unchecked Sendable {
        let src: UnsafeRawPointer
        let dst: UnsafeMutablePointer<Float>
    }

    private static func run(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
        let p = src.assumingMemoryBound(to: UInt8.self)
        switch type {
        case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: blocks &* 4)
        case .f16: Convert.toFloat(from: src, dtype: .f16, into: dst, count: blocks)
        case .bf16: Convert.toFloat(from: src, dtype: .bf16, into: dst, count: blocks)
        case .q4_0: q4_0(p, dst, blocks)
        case .q4_1: q4_1(p, dst, blocks)
        case .q5_0: q5_0(p, dst, blocks)
        case .q5_1: q5_1(p, dst, blocks)
        case .q8_0: q8_0(p, dst, blocks)
        case .q2_K: q2_K(p, dst, blocks)
        case .q3_K: q3_K(p, dst, blocks)
        case .q4_K: q4_K(p, dst, blocks)
        case .q5_K: q5_K(p, dst, blocks)
        case .q6_K: q6_K(p, dst, blocks)
        default: preconditionFailure("no dequantizer for \(type)")  // excluded by the precondition above
        }
    }

    // MARK: - Scalars

    /// IEEE half bits to float32 (exact; NaN payloads kept).
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24 is exact in float32.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    @inline(__always)
    private static func half(_ p: UnsafePointer<UInt8>) -> Float {
        halfToFloat(UInt16(p[0]) | UInt16(p[1]) << 8)
    }

    @inline(__always)
    private static func u32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
    }

    // MARK: - 32-element blocks

    // Q4_0: f16 d, 16 bytes of nibbles; element j is the low nibble of byte j, element j+16 the high nibble.
    private static func q4_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        for b in 0..<blocks {
            let p = src + b &* 18, y = dst + b &* 32
            let d = half(p), qs = p + 2
            for j in 0..<16 {
                y[j] = Float(Int32(qs[j] & 0x0F) &- 8) * d
                y[j &+ 16] = Float(Int32(qs[j] >> 4) &- 8) * d
            }
        }
    }

    // Q4_1: f16 d, f16 m, 16 bytes of nibbles; value = d·q + m.
    private static func q4_1(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        for b in 0..<blocks {
            let p = src + b &* 20, y = dst + b &* 32
            let d = half(p), m = half(p + 2), qs = p + 4
            for j in 0..<16 {
                y[j] = d * Float(qs[j] & 0x0F) + m
                y[j &+ 16] = d * Float(qs[j] >> 4) + m
            }
        }
    }

    // Q5_0: f16 d, 32 fifth bits (u32, bit j for element j), 16 bytes of nibbles; value = d·(q − 16).
    private static func q5_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        for b in 0..<blocks {
            let p = src + b &* 22, y = dst + b &* 32
            let d = half(p), qh = u32(p + 2), qs = p + 6
            for j in 0..<16 {
                let lo = UInt32(qs[j] & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
                let hi = UInt32(qs[j] >> 4) | ((qh >> UInt32(j &+ 16)) & 1) << 4
                y[j] = Float(Int32(lo) &- 16) * d
                y[j &+ 16] = Float(Int32(hi) &- 16) * d
            }
        }
    }

    // Q5_1: f16 d, f16 m, fifth bits, nibbles; value = d·q + m.
    private static func q5_1(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        for b in 0..<blocks {
            let p = src + b &* 24, y = dst + b &* 32
            let d = half(p), m = half(p + 2), qh = u32(p + 4), qs = p + 8
            for j in 0..<16 {
                let lo = UInt32(qs[j] & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
                let hi = UInt32(qs[j] >> 4) | ((qh >> UInt32(j &+ 16)) & 1) << 4
                y[j] = d * Float(lo) + m
                y[j &+ 16] = d * Float(hi) + m
            }
        }
    }

    // Q8_0: f16 d, 32 signed bytes; value = d·q.
    private static func q8_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        for b in 0..<blocks {
            let p = src + b &* 34, y = dst + b &* 32
            let d = half(p)
            let qs = UnsafeRawPointer(p + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { y[j] = Float(qs[j]) * d }
        }
    }

    // MARK: - 256-element super-blocks

    // Q2_K: 16 bytes of (min << 4 | scale) per 16 elements, 64 bytes of 2-bit values, f16 d, f16 dmin.
    // Element h·128 + s·32 + l takes bits 2s of byte h·32 + l.
    private static func q2_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        for b in 0..<blocks {
            let p = src + b &* 84, y = dst + b &* 256
            let scales = p, qs = p + 16
            let d = half(p + 80), dmin = half(p + 82)
            for h in 0..<2 {
                for s in 0..<4 {
                    let shift = UInt8(2 &* s)
                    for g in 0..<2 {
                        let sc = scales[h &* 8 &+ s &* 2 &+ g]
                        let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                        let out = y + (h &* 128 &+ s &* 32 &+ g &* 16)
                        let q = qs + (h &* 32 &+ g &* 16)
                        for l in 0..<16 { out[l] = dl * Float((q[l] >> shift) & 3) - ml }
                    }
                }
            }
        }
    }

    // Q3_K: 32 bytes of high bits (bit b of byte l for element b·32 + l; a clear bit subtracts 4),
    // 64 bytes of 2-bit values (as Q2_K), 12 bytes of sixteen 6-bit signed scales, f16 d.
    private static func q3_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { scale in
            for b in 0..<blocks {
                let p = src + b &* 110, y = dst + b &* 256
                let hmask = p, qs = p + 32, sc = p + 96
                let d = half(p + 108)
                for k in 0..<16 {
                    let low = k < 8 ? sc[k] & 0x0F : sc[k &- 8] >> 4
                    let high = (sc[8 &+ (k & 3)] >> UInt8(2 &* (k >> 2))) & 3
                    scale[k] = d * Float(Int32(low | high << 4) &- 32)
                }
                for h in 0..<2 {
                    for s in 0..<4 {
                        let shift = UInt8(2 &* s), bit = UInt8(h &* 4 &+ s)
                        let out = y + (h &* 128 &+ s &* 32)
                        let q = qs + h &* 32
                        let s0 = scale[h &* 8 &+ s &* 2], s1 = scale[h &* 8 &+ s &* 2 &+ 1]
                        for l in 0..<32 {
                            let lo = Int32((q[l] >> shift) & 3)
                            let v = lo &- (((hmask[l] >> bit) & 1) == 0 ? 4 : 0)
                            out[l] = (l < 16 ? s0 : s1) * Float(v)
                        }
                    }
                }
            }
        }
    }

    /// The 6-bit scale and min of sub-block j (0..<8) of a Q4_K/Q5_K super-block.
    @inline(__always)
    private static func scaleMin(_ s: UnsafePointer<UInt8>, _ j: Int) -> (UInt8, UInt8) {
        if j < 4 {
            return (s[j] & 63, s[j &+ 4] & 63)
        }
        return ((s[j &+ 4] & 0x0F) | ((s[j &- 4] >> 6) << 4), (s[j &+ 4] >> 4) | ((s[j] >> 6) << 4))
    }

    // Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles. Sub-block j (32 elements)
    // uses the low (even j) or high (odd j) nibbles of bytes (j/2)·32 ..< (j/2)·32 + 32; value = d·sc·q − dmin·m.
    private static func q4_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        for b in 0..<blocks {
            let p = src + b &* 144, y = dst + b &* 256
            let d = half(p), dmin = half(p + 2), scales = p + 4, qs = p + 16
            for j in 0..<8 {
                let (sc, m) = scaleMin(scales, j)
                let d1 = d * Float(sc), m1 = dmin * Float(m)
                let q = qs + (j >> 1) &* 32, shift = UInt8((j & 1) &* 4)
                let out = y + j &* 32
                for l in 0..<32 { out[l] = d1 * Float((q[l] >> shift) & 0x0F) - m1 }
            }
        }
    }

    // Q5_K: as Q4_K plus 32 bytes of fifth bits (bit j of byte l for element j·32 + l).
    private static func q5_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        for b in 0..<blocks {
            let p = src + b &* 176, y = dst + b &* 256
            let d = half(p), dmin = half(p + 2), scales = p + 4, qh = p + 16, qs = p + 48
            for j in 0..<8 {
                let (sc, m) = scaleMin(scales, j)
                let d1 = d * Float(sc), m1 = dmin * Float(m)
                let q = qs + (j >> 1) &* 32, shift = UInt8((j & 1) &* 4), bit = UInt8(j)
                let out = y + j &* 32
                for l in 0..<32 {
                    let v = ((q[l] >> shift) & 0x0F) | ((qh[l] >> bit) & 1) << 4
                    out[l] = d1 * Float(v) - m1
                }
            }
        }
    }

    // Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 signed 8-bit scales, f16 d.
    // Element h·128 + r: low nibble from byte h·64 + r%64 (high nibble when r ≥ 64), high bits 2·(r/32) of
    // byte h·32 + r%32; value = d·scale[i/16]·(q − 32).
    private static func q6_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
        for b in 0..<blocks {
            let p = src + b &* 210, y = dst + b &* 256
            let ql = p, qh = p + 128
            let scales = UnsafeRawPointer(p + 192).assumingMemoryBound(to: Int8.self)
            let d = half(p + 208)
            for h in 0..<2 {
                for s in 0..<4 {
                    let lowBytes = ql + (h &* 64 &+ (s & 1) &* 32), lowShift = UInt8((s >> 1) &* 4)
                    let highBytes = qh + h &* 32, highShift = UInt8(2 &* s)
                    let out = y + (h &* 128 &+ s &* 32)
                    let d0 = d * Float(scales[h &* 8 &+ s &* 2]), d1 = d * Float(scales[h &* 8 &+ s &* 2 &+ 1])
                    for l in 0..<32 {
                        let q = ((lowBytes[l] >> lowShift) & 0x0F) | ((highBytes[l] >> highShift) & 3) << 4
                        out[l] = (l < 16 ? d0 : d1) * Float(Int32(q) &- 32)
                    }
                }
            }
        }
    }
}
