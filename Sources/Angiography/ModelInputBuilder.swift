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
    /// The attributes the images were made from; nil when no image was made.
    public var attributes: AngiogramAttributes? = nil
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
        try checkMemory(file, attributes: attributes, route: decision.route, decodedFrames: frames?.count ?? 0)
        if frames == nil && decision.route == .triage {
            // Frames are decoded as the frame strategy asks for them, a few at a time.
            let reader = try PixelDataReader(file: file, budget: budget)
            guard reader.frameCount == attributes.numberOfFrames else {
                throw AngiographyError.inconsistentFrames(file: file.source, reason:
                    "\(reader.frameCount) frames decoded, Number of Frames says \(attributes.numberOfFrames)")
            }
            let run = try MaskSubtraction(fallbackMaskFrame: options.fallbackMaskFrame)
                .plan(try FrameAccess(reader: reader), attributes: attributes, subtract: true)
            let (images, record) = try render(run, attributes: attributes, subtract: true)
            return AngiogramRun(decision: decision, images: images, record: record, attributes: attributes)
        }
        let decoded: [PixelFrame]
        if let frames {
            decoded = frames
        } else {
            decoded = [try PixelDataReader(file: file, budget: budget).frame(0)]
        }
        guard decoded.count == attributes.numberOfFrames || decision.route == .skip else {
            throw AngiographyError.inconsistentFrames(file: file.source, reason:
                "\(decoded.count) frames decoded, Number of Frames says \(attributes.numberOfFrames)")
        }
        if decision.route == .skip && decoded.first?.samplesPerPixel != 1 {
            return AngiogramRun(decision: decision, images: [], record: nil)
        }
        let (images, record) = try render(decoded, attributes: attributes, subtract: decision.route == .triage)
        return AngiogramRun(decision: decision, images: images, record: record, attributes: attributes)
    }

    /// The budget of `options.maxDecodeBytes`.
    public var budget: DecodeBudget { DecodeBudget(maxBytes: options.maxDecodeBytes) }

    /// Refuses, before anything frame-sized is allocated, a file whose decoding or display pipeline would need
    /// more than `options.maxDecodeBytes` (a `DecodeBudgetError` naming the file, its size and the limit).
    /// Callers that decode every frame themselves first (inspect) say so with `decodedFrames`.
    public func checkMemory(_ file: DICOMFile, route: RouteDecision.Route, decodedFrames: Int = 0) throws {
        try checkMemory(file, attributes: try AngiogramAttributes(file: file), route: route, decodedFrames: decodedFrames)
    }

    /// The estimate follows what `build` holds at once: frames decoded a chunk at a time (one per core), the
    /// display values of that chunk, for native runs the masks (and the modality values of averaged or
    /// shifted frames), the running result (minimum projection, or the best frame so far for peak), every
    /// frame's values for the every-frame strategy, and per model image its 8-bit gray and the caller's RGB
    /// copy; plus frames a caller decoded beforehand.
    func checkMemory(_ file: DICOMFile, attributes: AngiogramAttributes, route: RouteDecision.Route, decodedFrames: Int) throws {
        guard file.dataset.pixelData != nil else { return }
        let reader = try PixelDataReader(file: file, budget: budget)
        let d = reader.description
        let triage = route == .triage
        let n = triage ? d.numberOfFrames : 1
        let pixels = d.pixelsPerFrame
        let floatFrame = DecodeBudget.product(pixels, 4)
        let chunk = min(n, ParallelChunks.cores)
        // A frame being made holds its decoded samples and, first, the codec's buffers, then its values.
        let perFrame = DecodeBudget.sum(reader.frameBytes, max(reader.frameScratchBytes, floatFrame))
        let inFlight = DecodeBudget.product(perFrame, chunk)
        var masks = 0
        if triage && !attributes.isSubtracted && n > 1 {
            let items = attributes.maskSubtraction
            // Shared masks are held; a time-interval mask is made beside its frame.
            masks = DecodeBudget.product(floatFrame, max(items.filter { $0.operation == .averageSubtraction }.count, 1))
            if items.contains(where: { $0.operation == .timeIntervalDifferencing }) { masks = DecodeBudget.sum(masks, inFlight) }
            let averaged = items.contains {
                $0.maskFrameNumbers.count > 1 || $0.subPixelShift != nil || $0.contrastFrameAveraging > 1
            }
            // Averaging holds the modality values of the averaged frames and a Double accumulator.
            if averaged { masks = DecodeBudget.sum(masks, DecodeBudget.product(floatFrame, n), DecodeBudget.product(pixels, 8)) }
        }
        let every = triage && options.strategy == .everyFrame && n > 1
        let held = every ? DecodeBudget.product(floatFrame, n + 1) : DecodeBudget.product(floatFrame, 2)
        let images = DecodeBudget.product(pixels, 4, every ? n : 1)
        let predecoded = DecodeBudget.product(reader.frameBytes, decodedFrames)
        try budget.check(DecodeBudget.sum(predecoded, inFlight, masks, held, images), for: "decoding and the display pipeline",
                         file: file.source, description: d, frames: n)
    }

    /// The display pipeline on decoded frames.
    public func render(_ frames: [PixelFrame], attributes: AngiogramAttributes, subtract: Bool = true) throws -> ([ModelImage], ProcessingRecord) {
        try MaskSubtraction.checkSizes(frames, source: attributes.source)
        let run = try MaskSubtraction(fallbackMaskFrame: options.fallbackMaskFrame)
            .plan(try FrameAccess(frames: frames), attributes: attributes, subtract: subtract)
        return try render(run, attributes: attributes, subtract: subtract)
    }

    /// The display pipeline on a run whose values are made as the frame strategy asks for them.
    func render(_ run: LazySubtractedRun, attributes: AngiogramAttributes, subtract: Bool) throws -> ([ModelImage], ProcessingRecord) {
        var notes = attributes.notes
        if !subtract { notes.append("not routed to triage: display of frame 1 only") }
        let strategy: FrameStrategy? = run.count > 1 ? options.strategy : nil
        let composed = try (strategy ?? .minimumIntensityProjection).compose(run, chunk: ParallelChunks.cores)

        // The file's window and MONOCHROME1 describe stored values; a computed subtraction has its own scale
        // and a fixed polarity (contrast negative), so it always gets the percentile window and no inversion.
        let window: VOIWindow
        if !run.isComputedSubtraction, let w = attributes.window {
            window = VOIWindow(file: w)
        } else {
            // Every-frame images share one window (that of their minimum projection), so a frame without
            // contrast is not stretched until its noise looks like vessels.
            let basis = composed.count == 1 ? composed[0].values : FrameStrategy.minimumProjection(composed.map(\.values))
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
