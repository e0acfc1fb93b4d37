/// How a multi-frame run becomes the image (or images) the model sees.
public enum FrameStrategy: String, Sendable, CaseIterable {
    /// Per-pixel minimum over the subtracted frames: the whole opacified tree in one image.
    case minimumIntensityProjection = "minip"
    /// The subtracted frame with the most contrast: the lowest mean value (ties: the earliest).
    case peakOpacification = "peak"
    /// Every subtracted frame on its own; the caller scores each and keeps the worst (most blocked).
    case everyFrame = "every"
}

/// One composed image of display values and the 1-based frames it came from.
public struct ComposedFrame: Sendable {
    public var values: [Float]
    public var frameNumbers: [Int]
}

extension FrameStrategy {
    /// Applies the strategy to the frames a run offers.
    public func compose(_ run: SubtractedRun) -> [ComposedFrame] {
        switch self {
        case .minimumIntensityProjection:
            return [ComposedFrame(values: Self.minimumProjection(run.values), frameNumbers: run.frameNumbers)]
        case .peakOpacification:
            let k = Self.peakIndex(run.values)
            return [ComposedFrame(values: run.values[k], frameNumbers: [run.frameNumbers[k]])]
        case .everyFrame:
            return zip(run.values, run.frameNumbers).map { ComposedFrame(values: $0, frameNumbers: [$1]) }
        }
    }

    /// Applies the strategy computing the frames' values a chunk at a time: minimum projection and peak
    /// opacification hold one chunk and their result, never the whole run; every-frame needs all values.
    /// Gives exactly what `compose(run.materialized())` gives (the same values, reduced in frame order).
    public func compose(_ run: LazySubtractedRun, chunk: Int) throws -> [ComposedFrame] {
        let step = max(chunk, 1)
        switch self {
        case .minimumIntensityProjection:
            var out: [Float] = []
            for start in stride(from: 0, to: run.count, by: step) {
                var values = try run.values(start..<min(start + step, run.count))
                if start == 0 { out = values.removeFirst() }
                Self.foldMinimum(into: &out, values)
            }
            return [ComposedFrame(values: out, frameNumbers: run.frameNumbers)]
        case .peakOpacification:
            var best: (index: Int, mean: Double, values: [Float])?
            for start in stride(from: 0, to: run.count, by: step) {
                let values = try run.values(start..<min(start + step, run.count))
                for (k, m) in Self.means(values).enumerated() where best == nil || m < best?.mean ?? 0 {
                    best = (start + k, m, values[k])
                }
            }
            guard let best else { return [] }
            return [ComposedFrame(values: best.values, frameNumbers: [run.frameNumbers[best.index]])]
        case .everyFrame:
            return compose(try run.materialized())
        }
    }

    /// Per-pixel minimum of equally long frames, split by pixel range across cores.
    public static func minimumProjection(_ frames: [[Float]]) -> [Float] {
        guard var out = frames.first else { return [] }
        if frames.count == 1 { return out }
        foldMinimum(into: &out, frames.dropFirst())
        return out
    }

    /// `out[i] = min(out[i], f[i])` for each frame in order, split by pixel range across cores.
    static func foldMinimum<C: Collection>(into out: inout [Float], _ frames: C) where C.Element == [Float] {
        if frames.isEmpty { return }
        let n = out.count
        out.withUnsafeMutableBufferPointer { dst in
            // An empty buffer has no base address and nothing to do.
            guard let dStart = dst.baseAddress else { return }
            nonisolated(unsafe) let d = dStart
            ParallelChunks.run(count: n) { range in
                for f in frames {
                    f.withUnsafeBufferPointer { s in
                        for i in range where i < s.count { d[i] = Swift.min(d[i], s[i]) }
                    }
                }
            }
        }
    }

    /// Mean value of each frame (the opacification score is its negative).
    public static func means(_ frames: [[Float]]) -> [Double] {
        var out = [Double](repeating: 0, count: frames.count)
        out.withUnsafeMutableBufferPointer { dst in
            // An empty buffer has no base address and nothing to do.
            guard let dStart = dst.baseAddress else { return }
            nonisolated(unsafe) let d = dStart
            ParallelChunks.forEach(frames.count) { k in
                var sum = 0.0
                frames[k].withUnsafeBufferPointer { s in
                    // Float partial sums of 4096 values keep the loop vectorisable without losing precision.
                    var i = 0
                    while i < s.count {
                        let end = Swift.min(i + 4096, s.count)
                        var part: Float = 0
                        for j in i..<end { part += s[j] }
                        sum += Double(part)
                        i = end
                    }
                }
                d[k] = frames[k].isEmpty ? 0 : sum / Double(frames[k].count)
            }
        }
        return out
    }

    /// Index of the frame with the lowest mean (most contrast); the earliest on ties.
    public static func peakIndex(_ frames: [[Float]]) -> Int {
        let m = means(frames)
        var best = 0
        for k in m.indices where m[k] < m[best] { best = k }
        return best
    }
}
