/// Measurements of one model image (8-bit gray, as the quality checks see it) that an input-domain record
/// summarises over a training set and triage compares against it.
public struct ModelImageStatistics: Sendable, Equatable {
    /// Gray levels at or below this count as near-black.
    public static let nearBlackLevel: UInt8 = 8
    /// Gray levels at or above this count as near-white.
    public static let nearWhiteLevel: UInt8 = 247

    public var sourceKind: InputSourceKind
    public var meanGray: Double
    public var stdGray: Double
    /// 99th minus 1st percentile of the gray levels (as `QualityChecks`).
    public var dynamicRange: Double
    /// Share of pixels at or below `nearBlackLevel`.
    public var nearBlackFraction: Double
    /// Share of pixels at or above `nearWhiteLevel`.
    public var nearWhiteFraction: Double
    /// Frames of the DICOM run the image came from; nil for a picture.
    public var frames: Int?

    /// Measures `gray`; nil for an image without pixels.
    public init?(gray: [UInt8], frames: Int?, sourceKind: InputSourceKind) {
        guard let (mean, std, range) = QualityChecks.measure(gray: gray) else { return nil }
        var black = 0, white = 0
        for v in gray {
            if v <= Self.nearBlackLevel { black += 1 }
            if v >= Self.nearWhiteLevel { white += 1 }
        }
        self.init(sourceKind: sourceKind, meanGray: mean, stdGray: std, dynamicRange: range,
                  nearBlackFraction: Double(black) / Double(gray.count), nearWhiteFraction: Double(white) / Double(gray.count),
                  frames: frames)
    }

    /// Measures a model image made by `TriagePipeline.modelImages`.
    public init?(_ image: PreparedImage) {
        self.init(gray: image.gray, frames: image.frames, sourceKind: image.sourceKind)
    }

    /// Values given directly.
    public init(sourceKind: InputSourceKind, meanGray: Double, stdGray: Double, dynamicRange: Double,
                nearBlackFraction: Double, nearWhiteFraction: Double, frames: Int?) {
        self.sourceKind = sourceKind
        self.meanGray = meanGray
        self.stdGray = stdGray
        self.dynamicRange = dynamicRange
        self.nearBlackFraction = nearBlackFraction
        self.nearWhiteFraction = nearWhiteFraction
        self.frames = frames
    }
}
