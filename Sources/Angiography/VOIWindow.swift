import Foundation

/// The value-of-interest window that maps display values to 8-bit gray, and where it came from.
///
/// The file's window follows PS3.3 §C.11.2.1.2 to an output range of 0…255:
/// - LINEAR: x ≤ c − ½ − (w−1)/2 → 0; x > c − ½ + (w−1)/2 → 255; else ((x − (c − ½)) / (w − 1) + ½) · 255
/// - LINEAR_EXACT: x ≤ c − w/2 → 0; x > c + w/2 → 255; else ((x − c) / w + ½) · 255
/// - SIGMOID: 255 / (1 + exp(−4 (x − c) / w))
/// A percentile window is LINEAR_EXACT from the low to the high percentile. Gray levels are rounded half up
/// (⌊y + ½⌋); MONOCHROME1 inverts afterwards (255 − y).
public struct VOIWindow: Sendable, Equatable {
    public enum Source: String, Sendable {
        /// Window Center/Width of the file.
        case file
        /// Percentiles of the image's own values (numpy's default linear interpolation).
        case percentile
        /// The percentiles coincided: minimum to maximum of the image.
        case minMax = "min-max"
        /// Every value is the same: mid-gray.
        case flat
    }

    public var source: Source
    public var center: Double
    public var width: Double
    public var function: FileWindow.Function

    public init(source: Source, center: Double, width: Double, function: FileWindow.Function) {
        self.source = source
        self.center = center
        self.width = width
        self.function = function
    }

    public init(file w: FileWindow) {
        self.init(source: .file, center: w.center, width: w.width, function: w.function)
    }

    public static let defaultPercentiles = (low: 0.5, high: 99.5)

    /// A window from the `low` to the `high` percentile of `values`; the range of the values when those
    /// coincide (a flat background with a few vessels), mid-gray when all values are equal.
    public static func percentile(of values: [Float], low: Double = defaultPercentiles.low,
                                  high: Double = defaultPercentiles.high) -> VOIWindow {
        let (lo, hi) = Percentile.values(values, low, high)
        if hi > lo { return VOIWindow(source: .percentile, center: (lo + hi) / 2, width: hi - lo, function: .linearExact) }
        var mn = Float.infinity, mx = -Float.infinity
        for v in values { mn = min(mn, v); mx = max(mx, v) }
        if mx > mn {
            return VOIWindow(source: .minMax, center: (Double(mn) + Double(mx)) / 2, width: Double(mx) - Double(mn), function: .linearExact)
        }
        return VOIWindow(source: .flat, center: values.first.map(Double.init) ?? 0, width: 0, function: .linearExact)
    }

    /// 8-bit gray of `values` through this window, inverted (255 − y) when `invert`.
    public func render(_ values: [Float], invert: Bool) -> [UInt8] {
        let n = values.count
        if source == .flat { return [UInt8](repeating: 128, count: n) }
        var out = [UInt8](repeating: 0, count: n)
        let c = center, w = width
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                // Empty buffers have no base address and nothing to render.
                guard let sStart = src.baseAddress, let dStart = dst.baseAddress else { return }
                nonisolated(unsafe) let s = sStart, d = dStart
                ParallelChunks.run(count: n) { range in
                    switch function {
                    case .sigmoid:
                        for i in range {
                            let y = 255 / (1 + exp(-4 * (Double(s[i]) - c) / w))
                            d[i] = Self.quantize(y, invert)
                        }
                    case .linear where w <= 1:
                        // Width 1: a step at c − ½.
                        for i in range { d[i] = Self.quantize(Double(s[i]) <= c - 0.5 ? 0 : 255, invert) }
                    case .linear, .linearExact:
                        // y = x·a + b on the sloped part; clamping reproduces the two flat parts exactly.
                        let (a, b) = function == .linear
                            ? (255 / (w - 1), (0.5 - (c - 0.5) / (w - 1)) * 255)
                            : (255 / w, (0.5 - c / w) * 255)
                        for i in range { d[i] = Self.quantize(Double(s[i]) * a + b, invert) }
                    }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func quantize(_ y: Double, _ invert: Bool) -> UInt8 {
        let g = UInt8((min(max(y, 0), 255) + 0.5).rounded(.down))
        return invert ? 255 - g : g
    }
}

/// Percentiles with numpy's default ("linear") interpolation, by selection rather than a full sort.
enum Percentile {
    /// The `p`-th and `q`-th percentiles (0…100) of `values`.
    static func values(_ values: [Float], _ p: Double, _ q: Double) -> (Double, Double) {
        guard !values.isEmpty else { return (0, 0) }
        var a = values
        return a.withUnsafeMutableBufferPointer { buf in
            (interpolated(buf, p), interpolated(buf, q))
        }
    }

    private static func interpolated(_ a: UnsafeMutableBufferPointer<Float>, _ p: Double) -> Double {
        let n = a.count
        let pos = min(max(p, 0), 100) / 100 * Double(n - 1)
        let k = Int(pos.rounded(.down))
        let frac = pos - Double(k)
        let lo = Double(select(a, k))
        guard frac > 0, k + 1 < n else { return lo }
        // After selecting k, everything past k is ≥ a[k]; the next order statistic is their minimum.
        var next = Float.infinity
        for i in (k + 1)..<n { next = min(next, a[i]) }
        return lo + (Double(next) - lo) * frac
    }

    /// The k-th smallest element (0-based); partially reorders `a` so that a[..<k] ≤ a[k] ≤ a[(k+1)...].
    static func select(_ a: UnsafeMutableBufferPointer<Float>, _ k: Int) -> Float {
        var lo = 0, hi = a.count - 1
        while hi > lo {
            // Median of three as pivot; Hoare partition.
            let mid = lo + (hi - lo) / 2
            if a[mid] < a[lo] { a.swapAt(mid, lo) }
            if a[hi] < a[lo] { a.swapAt(hi, lo) }
            if a[hi] < a[mid] { a.swapAt(hi, mid) }
            let pivot = a[mid]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return a[k] }
        }
        return a[k]
    }
}

/// Splits 0..<count into one contiguous chunk per core and runs them concurrently.
enum ParallelChunks {
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    static func run(count: Int, minChunk: Int = 65_536, _ body: (Range<Int>) -> Void) {
        let chunks = max(1, min(cores, count / max(minChunk, 1)))
        if chunks == 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { escapable in
            nonisolated(unsafe) let run = escapable
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                run((count * c / chunks)..<(count * (c + 1) / chunks))
            }
        }
    }

    /// `body(i)` for every i in 0..<count, several at a time, in index order; the error of the lowest
    /// failing index is thrown.
    static func map<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
        var results = [Result<T, Error>?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { out in
            // An empty buffer has no base address and nothing to do.
            guard let start = out.baseAddress else { return }
            nonisolated(unsafe) let o = start
            forEach(count) { i in o[i] = Result { try body(i) } }
        }
        return try results.map { r in
            // Cannot be nil: forEach ran body for every index.
            guard let r else { throw AngiographyError.unsupportedImage(file: "-", reason: "a parallel task did not run") }
            return try r.get()
        }
    }

    /// Runs `body(i)` for every i in 0..<count, several at a time.
    static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || cores == 1 { for i in 0..<count { body(i) }; return }
        withoutActuallyEscaping(body) { escapable in
            nonisolated(unsafe) let run = escapable
            DispatchQueue.concurrentPerform(iterations: count) { run($0) }
        }
    }
}
