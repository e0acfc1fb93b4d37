import Foundation

/// Bilinear resizing with antialiasing of 8-bit RGB, bit-exact with one of the two implementations transformers
/// uses for Gemma 3. Both are separable (a horizontal and a vertical pass through an 8-bit intermediate image)
/// and share the same coefficients, computed in double precision per output pixel `i` of each axis:
///
///     scale = in / out;  support = max(scale, 1);  center = scale * (i + 0.5)
///     taps j in [max(Int(center - support + 0.5), 0), min(Int(center + support + 0.5), in))
///     w_j = max(0, 1 - |(j - center + 0.5) / support|), then divided by their sum
///
/// (the triangle filter widened by the downscale factor, i.e. Pillow's BILINEAR). They differ in the integer
/// arithmetic:
/// - `.torchvision`: PyTorch's uint8 `_upsample_bilinear2d_aa` kernel (AVX2/AVX-512, which torchvision's
///   `resize` picks for uint8 CPU tensors on x86). Weights become int16 with the largest precision `p` (< 22) for
///   which `Int(0.5 + maxWeight * 2^(p+1))` stays below 2^15; `out = clamp((2^(p-1) + sum w*x) >> p, 0, 255)`.
///   Horizontal pass first, then vertical.
/// - `.pil`: Pillow 13's `ImagingResample`: weights `Int(0.5 + w * 2^22)`, the same rounding and clamping with
///   p = 22. Horizontal first, unless the height shrinks by more than twice as many pixels as the width
///   (`inH - outH > 2 * (inW - outW)`, new in Pillow 13), then vertical first.
/// An axis whose size does not change is not resampled.
enum AntialiasedBilinearResampler {
    enum Arithmetic: Sendable {
        case torchvision
        case pil
    }

    /// Integer weights for one axis.
    struct Axis {
        let outSize: Int
        /// First input index of each output.
        let start: [Int32]
        /// Number of taps of each output.
        let count: [Int32]
        /// Weights, `stride` per output (zero past `count`).
        let weights: [Int32]
        let stride: Int
        let precision: Int32

        init(inSize: Int, outSize: Int, arithmetic: Arithmetic) {
            let scale = Double(inSize) / Double(outSize)
            let filterScale = max(scale, 1.0)
            let support = 1.0 * filterScale
            let invFilterScale = 1.0 / filterScale
            let stride = Int(support.rounded(.up)) * 2 + 1
            var start = [Int32](repeating: 0, count: outSize)
            var count = [Int32](repeating: 0, count: outSize)
            var real = [Double](repeating: 0, count: outSize * stride)
            for i in 0..<outSize {
                let center = scale * (Double(i) + 0.5)
                let lo = max(Int(center - support + 0.5), 0)
                let hi = min(Int(center + support + 0.5), inSize)
                let n = max(hi - lo, 0)
                var total = 0.0
                for j in 0..<n {
                    let x = abs((Double(j + lo) - center + 0.5) * invFilterScale)
                    let w = x < 1.0 ? 1.0 - x : 0.0
                    real[i * stride + j] = w
                    total += w
                }
                if total != 0.0 {
                    for j in 0..<n { real[i * stride + j] /= total }
                }
                start[i] = Int32(lo)
                count[i] = Int32(n)
            }
            let precision: Int
            switch arithmetic {
            case .pil:
                precision = 22
            case .torchvision:
                let maxWeight = real.max() ?? 0
                var p = 0
                while p < 22 {
                    if Int(0.5 + maxWeight * Double(1 << (p + 1))) >= 1 << 15 { break }
                    p += 1
                }
                precision = p
            }
            let unit = Double(1 << precision)
            self.weights = real.map { w in
                Int32(w < 0 ? (-0.5 + w * unit).rounded(.towardZero) : (0.5 + w * unit).rounded(.towardZero))
            }
            self.outSize = outSize
            self.start = start
            self.count = count
            self.stride = stride
            self.precision = Int32(precision)
        }

        /// The input indices [first, last) the outputs read.
        var inputRange: Range<Int> {
            guard outSize > 0 else { return 0..<0 }
            let first = Int(start[0])
            let last = Int(start[outSize - 1] + count[outSize - 1])
            return first..<max(first, last)
        }
    }

    /// Resizes interleaved 8-bit pixels with `channels` samples each.
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, toWidth outWidth: Int,
                       height outHeight: Int, arithmetic: Arithmetic) -> [UInt8] {
        // Programmer error only: RGBImage and the processor config guarantee the sizes before any call.
        precondition(pixels.count == width * height * channels && outWidth > 0 && outHeight > 0)
        let needHorizontal = outWidth != width
        let needVertical = outHeight != height
        if !needHorizontal && !needVertical { return pixels }
        let horizontal = needHorizontal ? Axis(inSize: width, outSize: outWidth, arithmetic: arithmetic) : nil
        let vertical = needVertical ? Axis(inSize: height, outSize: outHeight, arithmetic: arithmetic) : nil

        var verticalFirst = false
        if arithmetic == .pil {
            verticalFirst = height - outHeight > 0 && height - outHeight > (width - outWidth) * 2
        }
        if verticalFirst, let vertical {
            let tall = verticalPass(pixels, width: width, channels: channels, rows: 0..<height, axis: vertical)
            guard let horizontal else { return tall }
            return horizontalPass(tall, width: width, channels: channels, rows: 0..<outHeight, axis: horizontal)
        }
        guard let horizontal else {
            // Without a horizontal pass a vertical one is needed (the no-op case returned above).
            guard let vertical else { return pixels }
            return verticalPass(pixels, width: width, channels: channels, rows: 0..<height, axis: vertical)
        }
        // Only the input rows the vertical pass reads need the horizontal pass.
        let rows = vertical?.inputRange ?? 0..<height
        let wide = horizontalPass(pixels, width: width, channels: channels, rows: rows, axis: horizontal)
        guard let vertical else { return wide }
        return verticalPass(wide, width: outWidth, channels: channels, rows: rows, axis: vertical)
    }

    /// Resamples each row in `rows` of `input` (width `width`); the output holds just those rows.
    static func horizontalPass(_ input: [UInt8], width: Int, channels: Int, rows: Range<Int>, axis: Axis) -> [UInt8] {
        let outWidth = axis.outSize
        var output = [UInt8](repeating: 0, count: rows.count * outWidth * channels)
        let shift = axis.precision
        let half: Int32 = shift > 0 ? 1 << (shift - 1) : 0
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                axis.weights.withUnsafeBufferPointer { w in
                    axis.start.withUnsafeBufferPointer { start in
                        axis.count.withUnsafeBufferPointer { count in
                            // Sizes are positive (checked on entry), so no buffer is empty.
                            guard let srcBase = src.baseAddress, let dstBase = dst.baseAddress, let wBase = w.baseAddress else { return }
                            for (r, y) in rows.enumerated() {
                                let inRow = srcBase + y * width * channels
                                let outRow = dstBase + r * outWidth * channels
                                if channels == 3 {
                                    for x in 0..<outWidth {
                                        let k = wBase + x * axis.stride
                                        let p0 = inRow + Int(start[x]) * 3
                                        var s0 = half, s1 = half, s2 = half
                                        for t in 0..<Int(count[x]) {
                                            let wt = k[t]
                                            s0 &+= Int32(p0[3 * t]) &* wt
                                            s1 &+= Int32(p0[3 * t + 1]) &* wt
                                            s2 &+= Int32(p0[3 * t + 2]) &* wt
                                        }
                                        outRow[3 * x] = clamp8(s0 >> shift)
                                        outRow[3 * x + 1] = clamp8(s1 >> shift)
                                        outRow[3 * x + 2] = clamp8(s2 >> shift)
                                    }
                                } else {
                                    for x in 0..<outWidth {
                                        let k = wBase + x * axis.stride
                                        let p0 = inRow + Int(start[x]) * channels
                                        for c in 0..<channels {
                                            var s = half
                                            for t in 0..<Int(count[x]) {
                                                s &+= Int32(p0[channels * t + c]) &* k[t]
                                            }
                                            outRow[channels * x + c] = clamp8(s >> shift)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Resamples columns; `input` holds the rows `rows` of the source (so `axis.start` is offset by
    /// `rows.lowerBound`), each `width * channels` bytes.
    static func verticalPass(_ input: [UInt8], width: Int, channels: Int, rows: Range<Int>, axis: Axis) -> [UInt8] {
        let rowLength = width * channels
        let outHeight = axis.outSize
        var output = [UInt8](repeating: 0, count: outHeight * rowLength)
        let shift = axis.precision
        let half: Int32 = shift > 0 ? 1 << (shift - 1) : 0
        var accumulator = [Int32](repeating: 0, count: rowLength)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                accumulator.withUnsafeMutableBufferPointer { acc in
                    // Sizes are positive (checked on entry), so no buffer is empty.
                    guard let a = acc.baseAddress, let srcBase = src.baseAddress, let dstBase = dst.baseAddress else { return }
                    for y in 0..<outHeight {
                        for i in 0..<rowLength { a[i] = half }
                        let first = Int(axis.start[y]) - rows.lowerBound
                        for t in 0..<Int(axis.count[y]) {
                            let wt = axis.weights[y * axis.stride + t]
                            let inRow = srcBase + (first + t) * rowLength
                            for i in 0..<rowLength { a[i] &+= Int32(inRow[i]) &* wt }
                        }
                        let outRow = dstBase + y * rowLength
                        for i in 0..<rowLength { outRow[i] = clamp8(a[i] >> shift) }
                    }
                }
            }
        }
        return output
    }

    @inline(__always)
    static func clamp8(_ v: Int32) -> UInt8 {
        UInt8(clamping: v)
    }
}
