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

    /// Per-pixel minimum of equally long frames, split by pixel range across cores.
    public static func minimumProjection(_ frames: [[Float]]) -> [Float] {
        guard var out = frames.first else { return [] }
        if frames.count == 1 { return out }
        let n = out.count
        out.withUnsafeMutableBufferPointer { dst in
            // An empty buffer has no base address and nothing to do.
            guard let dStart = dst.baseAddress else { return }
            nonisolated(unsafe) let d = dStart
            ParallelChunks.run(count: n) { range in
                for f in frames.dropFirst() {
                    f.withUnsafeBufferPointer { s in
                        for i in range where i < s.count { d[i] = Swift.min(d[i], s[i]) }
                    }
                }
            }
        }
        return out
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
