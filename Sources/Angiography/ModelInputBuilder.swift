import DICOM

/// Settings of the file-to-model-image pipeline.
public struct ModelInputOptions: Sendable {
    public var strategy: FrameStrategy
    public var routing: RoutingPolicy
    /// 1-based mask frame for native runs without a Mask Subtraction Sequence.
    public var fallbackMaskFrame: Int
    /// Percentiles of the robust window used when the file's window does not apply.
    public var percentileLow: Double
    public var percentileHigh: Double
    /// The most memory decoding one file and making its model images may claim (default
    /// `DecodeBudget.defaultMaxBytes`, 2 GiB); a file that would need more is refused with a `DecodeBudgetError`.
    public var maxDecodeBytes: Int

    public init(strategy: FrameStrategy = .minimumIntensityProjection, routing: RoutingPolicy = RoutingPolicy(),
                fallbackMaskFrame: Int = 1, percentileLow: Double = VOIWindow.defaultPercentiles.low,
                percentileHigh: Double = VOIWindow.defaultPercentiles.high, maxDecodeBytes: Int = DecodeBudget.defaultMaxBytes) {
        self.maxDecodeBytes = maxDecodeBytes
        self.strategy = strategy
        self.routing = routing
        self.fallbackMaskFrame = fallbackMaskFrame
        self.percentileLow = percentileLow
        self.percentileHigh = percentileHigh
    }
}

/// An 8-bit grayscale image for the model: dark vessels on a light background, full DICOM resolution.
public struct ModelImage: Sendable, Equatable {
    public var gray: [UInt8]
    public var width: Int
    public var height: Int
    /// 1-based frames it was made from.
    public var frameNumbers: [Int]
}

/// Everything done to make the model images, for the result record (no patient data).
public struct ProcessingRecord: Sendable {
    public var subtraction: SubtractionRecord
    /// Nil when the run had a single frame to offer, so no strategy was needed.
    public var strategy: FrameStrategy?
    /// 1-based frames behind each model image.
    public var chosenFrames: [[Int]]
    public var window: VOIWindow
    /// Whether MONOCHROME1 inversion was applied.
    public var inverted: Bool
    public var notes: [String]
}

/// One file taken through routing and, when in scope, the display pipeline.
public struct AngiogramRun: Sendable {
    public var decision: RouteDecision
    /// Empty for skipped files unless a display image was asked for.
    public var images: [ModelImage]
    /// Nil when no image was made.
    public var record: ProcessingRecord?
}

/// File → route decision → model image(s): modality LUT, subtraction, frame strategy, VOI window,
/// MONOCHROME1 inversion, 8-bit quantisation.
public struct ModelInputBuilder: Sendable {
    public var options: ModelInputOptions

    public init(options: ModelInputOptions = ModelInputOptions()) { self.options = options }

    /// Routes `file` and, when it is triaged, makes its model image(s). With `displaySkipped` a skipped
    /// file still gets a plain display image of its first frame (for looking at what was skipped).
    /// `frames` may pass frames already decoded from `file`.
    public func build(_ file: DICOMFile, frames: [PixelFrame]? = nil, displaySkipped: Bool = false) throws -> AngiogramRun {
        let decision = ScopeRouter(policy: options.routing).decide(file)
        guard decision.route == .triage || displaySkipped else { return AngiogramRun(decision: decision, images: [], record: nil) }
        guard file.dataset.pixelData != nil else {
            if decision.route == .skip { return AngiogramRun(decision: decision, images: [], record: nil) }
            throw AngiographyError.unsupportedImage(file: file.source, reason: "no Pixel Data (7FE0,0010)")
        }
        let attributes = try AngiogramAttributes(file: file)
        try checkMemory(file, attributes: attributes, route: decision.route)
        let decoded: [PixelFrame]
        if let frames {
            decoded = frames
        } else if decision.route == .skip {
            decoded = [try PixelDataReader(file: file, budget: budget).frame(0)]
        } else {
            decoded = try PixelDataReader(file: file, budget: budget).frames()
        }
        guard decoded.count == attributes.numberOfFrames || decision.route == .skip else {
            throw AngiographyError.inconsistentFrames(file: file.source, reason:
                "\(decoded.count) frames decoded, Number of Frames says \(attributes.numberOfFrames)")
        }
        if decision.route == .skip && decoded.first?.samplesPerPixel != 1 {
            return AngiogramRun(decision: decision, images: [], record: nil)
        }
        let (images, record) = try render(decoded, attributes: attributes, subtract: decision.route == .triage)
        return AngiogramRun(decision: decision, images: images, record: record)
    }

    /// The budget of `options.maxDecodeBytes`.
    public var budget: DecodeBudget { DecodeBudget(maxBytes: options.maxDecodeBytes) }

    /// Refuses, before anything frame-sized is allocated, a file whose decoding or display pipeline would need
    /// more than `options.maxDecodeBytes` (a `DecodeBudgetError` naming the file, its size and the limit).
    /// Callers that decode the frames themselves (inspect) call it first.
    public func checkMemory(_ file: DICOMFile, route: RouteDecision.Route) throws {
        try checkMemory(file, attributes: try AngiogramAttributes(file: file), route: route)
    }

    func checkMemory(_ file: DICOMFile, attributes: AngiogramAttributes, route: RouteDecision.Route) throws {
        guard file.dataset.pixelData != nil else { return }
        let reader = try PixelDataReader(file: file, budget: budget)
        let d = reader.description
        let triage = route == .triage
        let n = triage ? d.numberOfFrames : 1
        let pixels = d.pixelsPerFrame
        let floatFrame = DecodeBudget.product(pixels, 4)
        // Decoding: every frame at once, with the scratch of those decoding concurrently.
        let decoding = triage ? reader.allFramesPeakBytes : DecodeBudget.sum(reader.frameBytes, reader.frameScratchBytes)
        // The display pipeline holds the decoded frames, display values of each, for native runs the masks
        // (and the modality values of averaged or shifted frames), one composed frame, and per model image
        // its 8-bit gray and the caller's RGB copy.
        var extra = 0
        if triage && !attributes.isSubtracted && n > 1 {
            extra = DecodeBudget.sum(DecodeBudget.product(floatFrame, 2), DecodeBudget.product(pixels, 8))
            let averaged = attributes.maskSubtraction.contains {
                $0.maskFrameNumbers.count > 1 || $0.subPixelShift != nil || $0.contrastFrameAveraging > 1
            }
            if averaged { extra = DecodeBudget.sum(extra, DecodeBudget.product(floatFrame, n)) }
        }
        let images = triage && options.strategy == .everyFrame ? n : 1
        // A single frame is its own projection; several make one more frame of display values.
        let composed = n > 1 ? floatFrame : 0
        let display = DecodeBudget.sum(DecodeBudget.product(reader.frameBytes, n), DecodeBudget.product(floatFrame, n), extra,
                                       composed, DecodeBudget.product(pixels, 4, images))
        try budget.check(max(decoding, display), for: "decoding and the display pipeline", file: file.source, description: d,
                         frames: n)
    }

    /// The display pipeline on decoded frames.
    public func render(_ frames: [PixelFrame], attributes: AngiogramAttributes, subtract: Bool = true) throws -> ([ModelImage], ProcessingRecord) {
        let run = try MaskSubtraction(fallbackMaskFrame: options.fallbackMaskFrame).run(frames: frames, attributes: attributes, subtract: subtract)
        var notes = attributes.notes
        if !subtract { notes.append("not routed to triage: display of frame 1 only") }
        let strategy: FrameStrategy? = run.values.count > 1 ? options.strategy : nil
        let composed = (strategy ?? .minimumIntensityProjection).compose(run)

        // The file's window and MONOCHROME1 describe stored values; a computed subtraction has its own scale
        // and a fixed polarity (contrast negative), so it always gets the percentile window and no inversion.
        let window: VOIWindow
        if !run.isComputedSubtraction, let w = attributes.window {
            window = VOIWindow(file: w)
        } else {
            // Every-frame images share one window (that of their minimum projection), so a frame without
            // contrast is not stretched until its noise looks like vessels.
            let basis = composed.count == 1 ? composed[0].values : FrameStrategy.minimumProjection(run.values)
            window = VOIWindow.percentile(of: basis, low: options.percentileLow, high: options.percentileHigh)
        }
        let invert = !run.isComputedSubtraction && attributes.photometricInterpretation == "MONOCHROME1"
        var images = [ModelImage](repeating: ModelImage(gray: [], width: run.columns, height: run.rows, frameNumbers: []), count: composed.count)
        images.withUnsafeMutableBufferPointer { out in
            // An empty buffer has no base address and nothing to do.
            guard let oStart = out.baseAddress else { return }
            nonisolated(unsafe) let o = oStart
            ParallelChunks.forEach(composed.count) { k in
                o[k] = ModelImage(gray: window.render(composed[k].values, invert: invert), width: run.columns,
                                  height: run.rows, frameNumbers: composed[k].frameNumbers)
            }
        }
        let record = ProcessingRecord(subtraction: run.record, strategy: strategy, chosenFrames: composed.map(\.frameNumbers),
                                      window: window, inverted: invert, notes: notes + run.record.notes)
        return (images, record)
    }
}
