import Foundation

/// Measurements of one model image and the checks it failed.
public struct QualityReport: Sendable, Codable, Equatable {
    public var meanGray: Double
    public var stdGray: Double
    /// 99th minus 1st percentile of the 8-bit gray levels.
    public var dynamicRange: Double
    /// Frames of the run the image came from (nil for PNG/JPEG inputs).
    public var frames: Int?
    /// One sentence per failed check; empty when the image passed.
    public var issues: [String]

    public var passed: Bool { issues.isEmpty }

    enum CodingKeys: String, CodingKey {
        case meanGray = "mean_gray", stdGray = "std_gray", dynamicRange = "dynamic_range", frames, issues
    }
}

/// Input quality checks on the 8-bit image the model sees (after subtraction, frame strategy and window).
public struct QualityChecks: Sendable {
    public var settings: TaskProfile.Quality

    public init(settings: TaskProfile.Quality) { self.settings = settings }

    /// Checks `gray` (width·height values); `frames` is the run's frame count, nil for still images.
    public func check(gray: [UInt8], frames: Int?) -> QualityReport {
        var issues: [String] = []
        guard let (mean, std, range) = Self.measure(gray: gray) else {
            return QualityReport(meanGray: 0, stdGray: 0, dynamicRange: 0, frames: frames, issues: ["empty image"])
        }
        func f(_ x: Double) -> String { String(format: "%.1f", x) }
        if let frames, frames < settings.minFrames {
            issues.append("too few frames (\(frames) < \(settings.minFrames))")
        }
        if mean < settings.minMeanGray {
            issues.append("too dark (mean gray \(f(mean)) < \(f(settings.minMeanGray)))")
        }
        if std < settings.minStdGray {
            issues.append("too flat (gray standard deviation \(f(std)) < \(f(settings.minStdGray)))")
        }
        if range < settings.minDynamicRange {
            issues.append("no contrast (1st–99th percentile range \(f(range)) < \(f(settings.minDynamicRange)))")
        }
        return QualityReport(meanGray: mean, stdGray: std, dynamicRange: range, frames: frames, issues: issues)
    }

    /// Mean, standard deviation and 1st-to-99th percentile range of 8-bit gray levels (nil for no pixels):
    /// the measurements the checks and the input-domain record share.
    public static func measure(gray: [UInt8]) -> (mean: Double, std: Double, dynamicRange: Double)? {
        let n = gray.count
        guard n > 0 else { return nil }
        var hist = [Int](repeating: 0, count: 256)
        for v in gray { hist[Int(v)] += 1 }
        var sum = 0.0, sq = 0.0
        for (v, c) in hist.enumerated() where c > 0 {
            sum += Double(v * c)
            sq += Double(v * v) * Double(c)
        }
        let mean = sum / Double(n)
        let std = max(0, sq / Double(n) - mean * mean).squareRoot()
        return (mean, std, Double(percentile(hist, n, 0.99) - percentile(hist, n, 0.01)))
    }

    /// Smallest gray level with at least `q`·n values at or below it.
    static func percentile(_ hist: [Int], _ n: Int, _ q: Double) -> Int {
        let target = max(1, Int((q * Double(n)).rounded(.up)))
        var acc = 0
        for (v, c) in hist.enumerated() {
            acc += c
            if acc >= target { return v }
        }
        return 255
    }
}
