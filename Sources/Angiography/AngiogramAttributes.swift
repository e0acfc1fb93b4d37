import DICOM

/// One item of the Mask Subtraction Sequence (0028,6100), PS3.3 §C.7.6.10.
public struct MaskSubtractionItem: Sendable, Equatable {
    public enum Operation: String, Sendable {
        /// Subtract the average of the mask frames from each contrast frame.
        case averageSubtraction = "AVG_SUB"
        /// Subtract the frame `tidOffset` frames earlier from each frame.
        case timeIntervalDifferencing = "TID"
    }

    public var operation: Operation
    /// 1-based mask frame numbers (AVG_SUB).
    public var maskFrameNumbers: [Int]
    /// 1-based inclusive ranges of frames the operation applies to; nil: every frame.
    public var applicableFrameRanges: [ClosedRange<Int>]?
    /// Contrast frames averaged before subtraction (1: none).
    public var contrastFrameAveraging: Int
    /// Mask Sub-pixel Shift (0028,6114): rows then columns, applied to the mask before subtraction.
    public var subPixelShift: (row: Double, column: Double)?
    /// TID Offset (0028,6120), default 1.
    public var tidOffset: Int

    public init(operation: Operation, maskFrameNumbers: [Int] = [], applicableFrameRanges: [ClosedRange<Int>]? = nil,
                contrastFrameAveraging: Int = 1, subPixelShift: (row: Double, column: Double)? = nil, tidOffset: Int = 1) {
        self.operation = operation
        self.maskFrameNumbers = maskFrameNumbers
        self.applicableFrameRanges = applicableFrameRanges
        self.contrastFrameAveraging = contrastFrameAveraging
        self.subPixelShift = subPixelShift
        self.tidOffset = tidOffset
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.operation == b.operation && a.maskFrameNumbers == b.maskFrameNumbers
            && a.applicableFrameRanges == b.applicableFrameRanges && a.contrastFrameAveraging == b.contrastFrameAveraging
            && a.subPixelShift?.row == b.subPixelShift?.row && a.subPixelShift?.column == b.subPixelShift?.column
            && a.tidOffset == b.tidOffset
    }

    /// Whether 1-based `frame` falls in the applicable range.
    public func applies(to frame: Int) -> Bool {
        applicableFrameRanges.map { $0.contains { $0.contains(frame) } } ?? true
    }
}

/// How stored values relate to X-ray intensity (Pixel Intensity Relationship (0028,1040)).
public enum PixelIntensityRelationship: String, Sendable {
    /// Proportional to intensity: subtraction takes the log ratio.
    case linear = "LIN"
    /// Proportional to log intensity: subtraction is a difference.
    case logarithmic = "LOG"
    /// Already mapped for display: treated as logarithmic.
    case display = "DISP"
}

/// A window from the file: center, width and VOI LUT Function (PS3.3 §C.11.2.1.2).
public struct FileWindow: Sendable, Equatable {
    public enum Function: String, Sendable {
        case linear = "LINEAR", linearExact = "LINEAR_EXACT", sigmoid = "SIGMOID"
    }
    public var center: Double
    public var width: Double
    public var function: Function
    public init(center: Double, width: Double, function: Function = .linear) {
        self.center = center
        self.width = width
        self.function = function
    }
}

/// The attributes of an X-ray image the display and subtraction stages read, gathered from the top level of
/// the dataset or, for enhanced (multi-frame functional group) objects, from the shared and per-frame groups.
public struct AngiogramAttributes: Sendable {
    public var source: String
    public var imageType: [String]
    /// Frame Type (0008,9007) of the first frame of an enhanced object.
    public var frameType: [String]?
    public var photometricInterpretation: String
    public var pixelIntensityRelationship: PixelIntensityRelationship?
    /// The raw value when it is none of LIN, LOG, DISP.
    public var pixelIntensityRelationshipText: String?
    /// +1: higher values mean more X-ray intensity; −1: the reverse.
    public var pixelIntensitySign: Int
    /// Modality LUT for each frame (one entry shared by all frames for classic objects).
    public var modalityLUTs: [ModalityLUT]
    /// The file's VOI window (first of several), nil when the file has none.
    public var window: FileWindow?
    public var maskSubtraction: [MaskSubtractionItem]
    public var recommendedViewingMode: String?
    public var numberOfFrames: Int
    public var bitsStored: Int
    public var isSigned: Bool
    /// Problems worth telling the user about that did not stop processing.
    public var notes: [String]

    /// Image Type (or the enhanced Frame Type) marks the pixels as already subtracted: a value SUBTRACTION
    /// or DSA anywhere after the first two.
    public var isSubtracted: Bool {
        func marks(_ v: [String]) -> Bool { v.dropFirst(2).contains { $0 == "SUBTRACTION" || $0 == "DSA" } }
        return marks(imageType) || (frameType.map(marks) ?? false)
    }

    /// The modality LUT of 0-based frame `i`.
    public func modalityLUT(frame i: Int) -> ModalityLUT {
        modalityLUTs.count == 1 ? modalityLUTs[0] : modalityLUTs[min(max(i, 0), modalityLUTs.count - 1)]
    }

    /// Attributes given directly (synthetic runs, tests); `init(file:)` reads them from a file.
    public init(source: String, numberOfFrames: Int, bitsStored: Int = 12, isSigned: Bool = false,
                photometricInterpretation: String = "MONOCHROME2", imageType: [String] = ["ORIGINAL", "PRIMARY", "SINGLE A"],
                frameType: [String]? = nil, pixelIntensityRelationship: PixelIntensityRelationship? = .linear,
                pixelIntensitySign: Int = 1, modalityLUTs: [ModalityLUT] = [.identity], window: FileWindow? = nil,
                maskSubtraction: [MaskSubtractionItem] = [], recommendedViewingMode: String? = nil) {
        self.source = source
        self.numberOfFrames = numberOfFrames
        self.bitsStored = bitsStored
        self.isSigned = isSigned
        self.photometricInterpretation = photometricInterpretation
        self.imageType = imageType
        self.frameType = frameType
        self.pixelIntensityRelationship = pixelIntensityRelationship
        self.pixelIntensityRelationshipText = pixelIntensityRelationship?.rawValue
        self.pixelIntensitySign = pixelIntensitySign
        self.modalityLUTs = modalityLUTs.isEmpty ? [.identity] : modalityLUTs
        self.window = window
        self.maskSubtraction = maskSubtraction
        self.recommendedViewingMode = recommendedViewingMode
        self.notes = []
    }

    public init(file: DICOMFile) throws {
        let ds = file.dataset
        let src = file.source
        source = src
        notes = []
        let description = try PixelDescription(dataset: ds, source: src)
        numberOfFrames = description.numberOfFrames
        bitsStored = description.bitsStored
        isSigned = description.isSigned
        photometricInterpretation = description.photometricInterpretation
        imageType = ds.strings(XATag.imageType) ?? []
        recommendedViewingMode = ds.string(XATag.recommendedViewingMode)

        let groups = FunctionalGroups(dataset: ds)
        // Enhanced objects: the X-Ray Frame Pixel Data Properties of the first frame speak for the run.
        let properties = groups.item(XATag.xrayFramePixelDataPropertiesSequence, frame: 0)
        frameType = properties?.strings(XATag.frameType)
        let pirText = properties?.string(XATag.pixelIntensityRelationship) ?? ds.string(XATag.pixelIntensityRelationship)
        pixelIntensityRelationship = pirText.flatMap { PixelIntensityRelationship(rawValue: $0) }
        pixelIntensityRelationshipText = pirText
        let sign = properties?.int(XATag.pixelIntensityRelationshipSign) ?? ds.int(XATag.pixelIntensityRelationshipSign) ?? 1
        guard sign == 1 || sign == -1 else {
            throw AngiographyError.invalidAttribute(file: src, attribute: "Pixel Intensity Relationship Sign (0028,1041)",
                                                    reason: "\(sign) is neither 1 nor -1")
        }
        pixelIntensitySign = sign

        // Modality LUT: per-frame Pixel Value Transformation where present, else the top-level attributes.
        if groups.isEnhanced, groups.has(XATag.pixelValueTransformationSequence) {
            var luts: [ModalityLUT] = []
            // One LUT per frame when frames may differ, one in all when only the shared group says.
            let count = groups.perFrameCount == 0 ? 1 : description.numberOfFrames
            for f in 0..<count {
                let item = groups.item(XATag.pixelValueTransformationSequence, frame: f)
                luts.append(try ModalityLUT(dataset: item ?? ds, source: src))
            }
            modalityLUTs = luts
        } else {
            modalityLUTs = [try ModalityLUT(dataset: ds, source: src)]
        }

        // VOI: the enhanced Frame VOI LUT of the first frame, else the top-level window.
        let voiSource = groups.item(XATag.frameVOILUTSequence, frame: 0) ?? ds
        window = try Self.readWindow(voiSource, source: src, notes: &notes)

        var items: [MaskSubtractionItem] = []
        for (k, item) in (ds.sequence(.maskSubtractionSequence) ?? []).enumerated() {
            items.append(try Self.readMaskItem(item, index: k, frames: description.numberOfFrames, source: src, notes: &notes))
        }
        maskSubtraction = items
    }

    static func readWindow(_ ds: DICOMDataset, source: String, notes: inout [String]) throws -> FileWindow? {
        guard let centers = ds.doubles(.windowCenter), let widths = ds.doubles(.windowWidth),
              let c = centers.first, let w = widths.first else { return nil }
        if centers.count > 1 || widths.count > 1 { notes.append("file has \(max(centers.count, widths.count)) VOI windows; the first is used") }
        let fn: FileWindow.Function
        if let text = ds.string(XATag.voiLUTFunction), !text.isEmpty {
            guard let f = FileWindow.Function(rawValue: text) else {
                throw AngiographyError.invalidAttribute(file: source, attribute: "VOI LUT Function (0028,1056)",
                                                        reason: "\(DefinedTerms.unrecognised(text))"
                                                            + ", not LINEAR, LINEAR_EXACT or SIGMOID")
            }
            fn = f
        } else {
            fn = .linear
        }
        guard c.isFinite, w.isFinite else {
            throw AngiographyError.invalidAttribute(file: source, attribute: "Window Center/Width (0028,1050/1051)", reason: "not finite")
        }
        // PS3.3 C.11.2.1.2: width ≥ 1 for LINEAR, > 0 otherwise. An unusable window falls back to percentiles.
        if (fn == .linear && w < 1) || w <= 0 {
            notes.append("Window Width \(w) is not valid for \(fn.rawValue); a percentile window is used")
            return nil
        }
        return FileWindow(center: c, width: w, function: fn)
    }

    static func readMaskItem(_ item: DICOMDataset, index k: Int, frames: Int, source: String,
                             notes: inout [String]) throws -> MaskSubtractionItem {
        let where_ = "Mask Subtraction Sequence (0028,6100) item \(k + 1)"
        func bad(_ attr: String, _ reason: String) -> AngiographyError {
            .invalidAttribute(file: source, attribute: "\(where_) \(attr)", reason: reason)
        }
        let opText = item.string(XATag.maskOperation) ?? ""
        guard let op = MaskSubtractionItem.Operation(rawValue: opText) else {
            throw bad("Mask Operation (0028,6101)", opText.isEmpty ? "absent, not AVG_SUB or TID"
                      : "\(DefinedTerms.unrecognised(opText))" + ", not AVG_SUB or TID")
        }
        let masks = item.ints(XATag.maskFrameNumbers) ?? []
        if op == .averageSubtraction {
            guard !masks.isEmpty else { throw bad("Mask Frame Numbers (0028,6110)", "AVG_SUB without mask frames") }
            for m in masks where m < 1 || m > frames {
                throw bad("Mask Frame Numbers (0028,6110)", "frame \(m) outside 1…\(frames)")
            }
        }
        var ranges: [ClosedRange<Int>]?
        if let r = item.ints(XATag.applicableFrameRange), !r.isEmpty {
            guard r.count % 2 == 0 else { throw bad("Applicable Frame Range (0028,6102)", "\(r.count) values, not pairs") }
            var list: [ClosedRange<Int>] = []
            for i in stride(from: 0, to: r.count, by: 2) {
                guard r[i] >= 1, r[i] <= r[i + 1] else {
                    throw bad("Applicable Frame Range (0028,6102)", "range \(r[i])…\(r[i + 1]) is empty or below 1")
                }
                list.append(r[i]...r[i + 1])
            }
            ranges = list
        }
        let averaging = item.int(XATag.contrastFrameAveraging) ?? 1
        guard averaging >= 1, averaging <= max(frames, 1) else {
            throw bad("Contrast Frame Averaging (0028,6112)", "\(averaging) outside 1…\(frames)")
        }
        var shift: (row: Double, column: Double)?
        if let s = item.doubles(XATag.maskSubPixelShift) {
            guard s.count == 2, s.allSatisfy({ $0.isFinite && abs($0) < 1e4 }) else {
                throw bad("Mask Sub-pixel Shift (0028,6114)", "expected two finite values, got \(s)")
            }
            if s[0] != 0 || s[1] != 0 { shift = (s[0], s[1]) }
        }
        var offset = item.int(XATag.tidOffset) ?? 1
        if offset == 0 { offset = 1 }
        if op == .timeIntervalDifferencing, offset < 0 {
            throw bad("TID Offset (0028,6120)", "\(offset) is negative")
        }
        return MaskSubtractionItem(operation: op, maskFrameNumbers: masks, applicableFrameRanges: ranges,
                                   contrastFrameAveraging: averaging, subPixelShift: shift, tidOffset: offset)
    }
}

/// Access to the multi-frame functional groups of enhanced objects (PS3.3 §C.7.6.16): an attribute's
/// macro is looked up in the per-frame item first, then in the shared item.
struct FunctionalGroups {
    let shared: DICOMDataset?
    let perFrame: [DICOMDataset]

    init(dataset ds: DICOMDataset) {
        shared = ds.sequence(XATag.sharedFunctionalGroupsSequence)?.first
        perFrame = ds.sequence(XATag.perFrameFunctionalGroupsSequence) ?? []
    }

    var isEnhanced: Bool { shared != nil || !perFrame.isEmpty }
    var perFrameCount: Int { perFrame.count }

    func has(_ macro: DICOMTag) -> Bool {
        shared?.sequence(macro)?.first != nil || perFrame.contains { $0.sequence(macro)?.first != nil }
    }

    /// The first item of sequence `macro` for 0-based `frame`.
    func item(_ macro: DICOMTag, frame: Int) -> DICOMDataset? {
        if frame < perFrame.count, let item = perFrame[frame].sequence(macro)?.first { return item }
        return shared?.sequence(macro)?.first
    }
}
