import DICOM
import Foundation

/// What was subtracted from what.
public struct SubtractionRecord: Sendable, Equatable {
    public enum Method: String, Sendable {
        /// Native run, subtracted as the Mask Subtraction Sequence (0028,6100) says.
        case maskSequence = "mask-subtraction-sequence"
        /// Native run without a mask sequence, subtracted against the configured mask frame.
        case configuredMaskFrame = "configured-mask-frame"
        /// The file's pixels are already subtracted (Image Type) and are used as they are.
        case alreadySubtracted = "already-subtracted"
        /// Nothing to subtract from (a single native frame, or a file that is only displayed).
        case notSubtracted = "not-subtracted"
    }

    public var method: Method
    /// AVG_SUB or TID per mask item, for subtracted runs.
    public var operations: [String]
    /// LIN (log ratio) or LOG (difference), for subtracted runs.
    public var intensityRelationship: String?
    /// 1-based mask frames used (the union over all contrast frames).
    public var maskFrames: [Int]
    /// 1-based frames that came out of this stage (the candidates of the frame strategy).
    public var frames: [Int]
    public var notes: [String]
}

/// Display values of the frames a run offers to the frame strategy, with vessels lower than background.
public struct SubtractedRun: Sendable {
    public var rows: Int
    public var columns: Int
    /// 1-based frame numbers, one per entry of `values`.
    public var frameNumbers: [Int]
    /// Row-major values of each frame.
    public var values: [[Float]]
    public var record: SubtractionRecord
    /// True when this stage computed the subtraction: the polarity is then fixed by physics (contrast is
    /// negative), so MONOCHROME1 inversion and the file's window, which describe the stored values, do not apply.
    public var isComputedSubtraction: Bool { record.method == .maskSequence || record.method == .configuredMaskFrame }
}

/// Turns decoded frames into display values: modality LUT, then for native runs log subtraction.
///
/// - LIN data: sub = ln(max(contrast, 1)) − ln(max(mask, 1)) of modality values.
/// - LOG or DISP data: sub = (contrast − mask) / (2^BitsStored − 1).
/// - Pixel Intensity Relationship Sign −1 negates sub, so contrast is always negative.
/// - AVG_SUB: the mask is the mean of the mask frames' modality values; TID: the frame TID Offset earlier.
/// - Contrast Frame Averaging n: the contrast is the mean of frames f…f+n−1 (cut at the last frame).
/// - Mask Sub-pixel Shift (Δrow, Δcolumn): the mask is resampled bilinearly at (r − Δrow, c + Δcolumn),
///   edge pixels repeated — a positive row shift moves it down, a positive column shift to the left (PS3.3).
/// - Averaging and shifting happen on modality values, before the logarithm.
/// - Each frame uses the first mask item whose Applicable Frame Range holds it; mask frames, frames outside
///   every range and TID frames without an earlier partner are not offered to the frame strategy.
public struct MaskSubtraction: Sendable {
    /// 1-based mask frame for native runs without a Mask Subtraction Sequence.
    public var fallbackMaskFrame: Int

    public init(fallbackMaskFrame: Int = 1) { self.fallbackMaskFrame = fallbackMaskFrame }

    /// Every offered frame's display values at once.
    public func run(frames: [PixelFrame], attributes attr: AngiogramAttributes, subtract: Bool = true) throws -> SubtractedRun {
        try Self.checkSizes(frames, source: attr.source)
        return try plan(try FrameAccess(frames: frames), attributes: attr, subtract: subtract).materialized()
    }

    /// Frames decoded elsewhere must exist and share one size.
    static func checkSizes(_ frames: [PixelFrame], source: String) throws {
        guard let first = frames.first else { throw AngiographyError.unsupportedImage(file: source, reason: "no frames") }
        for (i, f) in frames.enumerated() where f.rows != first.rows || f.columns != first.columns {
            throw AngiographyError.inconsistentFrames(file: source, reason: "frame \(i + 1) is \(f.rows)×\(f.columns), frame 1 \(first.rows)×\(first.columns)")
        }
    }

    /// What `run` computes, with each offered frame's values made on demand from `access` (masks and
    /// averaged frames are made up front), so that a frame strategy can reduce a long run without holding it.
    public func plan(_ access: FrameAccess, attributes attr: AngiogramAttributes, subtract: Bool = true) throws -> LazySubtractedRun {
        let src = attr.source
        let first = access.first
        let rows = first.rows, columns = first.columns
        guard first.samplesPerPixel == 1 else {
            throw AngiographyError.unsupportedImage(file: src, reason:
                "\(first.samplesPerPixel) samples per pixel (\(first.photometricInterpretation)); angiograms are grayscale")
        }
        let n = access.count

        func modalityFrames(_ numbers: [Int], note: String?) -> LazySubtractedRun {
            let method: SubtractionRecord.Method = attr.isSubtracted && subtract ? .alreadySubtracted : .notSubtracted
            return LazySubtractedRun(rows: rows, columns: columns, frameNumbers: numbers,
                                     record: SubtractionRecord(method: method, operations: [], intensityRelationship: nil,
                                                               maskFrames: [], frames: numbers, notes: note.map { [$0] } ?? [])) { k in
                attr.modalityLUT(frame: numbers[k] - 1).map(try access.frame(numbers[k] - 1))
            }
        }

        if !subtract { return modalityFrames([1], note: nil) }
        if attr.isSubtracted {
            var note: String?
            if !attr.maskSubtraction.isEmpty { note = "Image Type says subtracted: the Mask Subtraction Sequence is not applied again" }
            return modalityFrames(Array(1...n), note: note)
        }
        if n == 1 {
            return modalityFrames([1], note: "single-frame native image: no mask to subtract, used as is")
        }

        // Native multi-frame run.
        var notes: [String] = []
        var items = attr.maskSubtraction
        let method: SubtractionRecord.Method
        if items.isEmpty {
            guard fallbackMaskFrame >= 1, fallbackMaskFrame <= n else {
                throw AngiographyError.invalidAttribute(file: src, attribute: "configured mask frame",
                                                        reason: "frame \(fallbackMaskFrame) outside 1…\(n)")
            }
            items = [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [fallbackMaskFrame])]
            method = .configuredMaskFrame
            notes.append("no Mask Subtraction Sequence: frame \(fallbackMaskFrame) used as mask")
        } else {
            method = .maskSequence
        }
        let relationship: PixelIntensityRelationship
        if let r = attr.pixelIntensityRelationship {
            relationship = r
        } else {
            relationship = .linear
            // The text is not a defined term here (those parse), so it is described, never quoted.
            notes.append("Pixel Intensity Relationship \(attr.pixelIntensityRelationshipText.map { "\(DefinedTerms.unrecognised($0)) not understood" } ?? "absent"): LIN assumed")
        }
        let isLinear = relationship == .linear
        let range = Double((1 << min(attr.bitsStored, 32)) - 1)
        let transform: @Sendable (Double) -> Double
        if isLinear {
            transform = { (x: Double) -> Double in Foundation.log(Swift.max(x, 1)) }
        } else {
            transform = { (x: Double) -> Double in x / range }
        }
        let sign = Float(attr.pixelIntensitySign)

        // Which item subtracts which frame, and with which mask frames.
        struct Plan { var frame: Int; var item: Int; var masks: [Int] }
        var plans: [Plan] = []
        for f in 1...n {
            for (k, item) in items.enumerated() where item.applies(to: f) {
                switch item.operation {
                case .averageSubtraction:
                    if !item.maskFrameNumbers.contains(f) { plans.append(Plan(frame: f, item: k, masks: item.maskFrameNumbers)) }
                case .timeIntervalDifferencing:
                    if f - item.tidOffset >= 1 { plans.append(Plan(frame: f, item: k, masks: [f - item.tidOffset])) }
                }
                break
            }
        }
        guard !plans.isEmpty else {
            throw AngiographyError.inconsistentFrames(file: src, reason:
                "no frame to subtract: every frame is a mask frame or outside the Applicable Frame Range")
        }
        let skipped = n - plans.count - Set(items.flatMap(\.maskFrameNumbers)).count
        if skipped > 0 { notes.append("\(skipped) frame(s) outside every Applicable Frame Range or without a TID partner are not used") }

        // Modality values of frames that are averaged or shifted, computed once.
        var needLinear = Set<Int>()
        for p in plans {
            let item = items[p.item]
            if p.masks.count > 1 || item.subPixelShift != nil { needLinear.formUnion(p.masks) }
            if item.contrastFrameAveraging > 1 { needLinear.formUnion(p.frame...min(p.frame + item.contrastFrameAveraging - 1, n)) }
        }
        let linearList = needLinear.sorted()
        let linearValues = try ParallelChunks.map(linearList.count) { k in
            attr.modalityLUT(frame: linearList[k] - 1).map(try access.frame(linearList[k] - 1))
        }
        let linear = Dictionary(uniqueKeysWithValues: zip(linearList, linearValues))

        func mean(_ numbers: [Int]) -> [Float] {
            guard numbers.count > 1 else { return linear[numbers[0]] ?? [] }
            var acc = [Double](repeating: 0, count: rows * columns)
            for f in numbers {
                guard let v = linear[f] else { continue }
                for i in 0..<acc.count { acc[i] += Double(v[i]) }
            }
            let k = Double(numbers.count)
            return acc.map { Float($0 / k) }
        }
        // One table per distinct modality LUT (usually one for the run), built before the parallel part.
        var tables: [ModalityLUT: StoredValueTable] = [:]
        for f in 0..<n {
            let lut = attr.modalityLUT(frame: f)
            if tables[lut] == nil, let t = StoredValueTable(lut, sampleType: access.sampleType(f), transform) { tables[lut] = t }
        }
        func transformed(_ frame: Int, _ decoded: PixelFrame) -> [Float] {
            let lut = attr.modalityLUT(frame: frame - 1)
            if let t = tables[lut], t.sampleType == decoded.sampleType { return t.map(decoded) }
            return lut.map(decoded, transform)
        }

        // Masks after averaging, shift and transform, one per distinct (item, mask frames), made up front when
        // several frames share one or it is averaged or shifted; a mask of one frame only (time interval
        // differencing) is made with that frame, so a long TID run never holds every mask.
        struct MaskKey: Hashable { var item: Int; var masks: [Int] }
        var users: [MaskKey: Int] = [:]
        for p in plans { users[MaskKey(item: p.item, masks: p.masks), default: 0] += 1 }
        var masks: [MaskKey: [Float]] = [:]
        for p in plans {
            let key = MaskKey(item: p.item, masks: p.masks)
            if masks[key] != nil { continue }
            let item = items[p.item]
            if p.masks.count == 1 && item.subPixelShift == nil {
                if users[key] == 1 { continue }
                masks[key] = transformed(p.masks[0], try access.frame(p.masks[0] - 1))
            } else {
                var m = mean(p.masks)
                if let s = item.subPixelShift { m = SubPixelShift.apply(m, rows: rows, columns: columns, rowShift: s.row, columnShift: s.column) }
                masks[key] = m.map { Float(transform(Double($0))) }
            }
        }

        let usedMasks = Set(plans.flatMap(\.masks)).sorted()
        let ops = items.map(\.operation.rawValue)
        if items.contains(where: { $0.subPixelShift != nil }) { notes.append("mask sub-pixel shift applied") }
        let record = SubtractionRecord(method: method, operations: ops, intensityRelationship: relationship.rawValue,
                                       maskFrames: usedMasks, frames: plans.map(\.frame), notes: notes)
        return LazySubtractedRun(rows: rows, columns: columns, frameNumbers: plans.map(\.frame), record: record) { k in
            let p = plans[k]
            let item = items[p.item]
            let mask = try masks[MaskKey(item: p.item, masks: p.masks)] ?? transformed(p.masks[0], try access.frame(p.masks[0] - 1))
            let lut = attr.modalityLUT(frame: p.frame - 1)
            var contrast: [Float]
            if item.contrastFrameAveraging > 1 {
                contrast = mean(Array(p.frame...min(p.frame + item.contrastFrameAveraging - 1, n))).map { Float(transform(Double($0))) }
            } else {
                let decoded = try access.frame(p.frame - 1)
                if let t = tables[lut], t.sampleType == decoded.sampleType {
                    return t.subtracting(decoded, mask, sign: sign)
                }
                contrast = transformed(p.frame, decoded)
            }
            contrast.withUnsafeMutableBufferPointer { c in
                mask.withUnsafeBufferPointer { m in
                    for i in 0..<min(c.count, m.count) { c[i] = sign * (c[i] - m[i]) }
                }
            }
            return contrast
        }
    }
}

/// A run's offered frames whose display values are made on demand (`value(k)`), so that minimum projection
/// and peak opacification can go through a long run a few frames at a time.
public struct LazySubtractedRun {
    public var rows: Int
    public var columns: Int
    /// 1-based frame numbers, one per offered frame.
    public var frameNumbers: [Int]
    public var record: SubtractionRecord
    let compute: (Int) throws -> [Float]

    init(rows: Int, columns: Int, frameNumbers: [Int], record: SubtractionRecord, compute: @escaping (Int) throws -> [Float]) {
        self.rows = rows
        self.columns = columns
        self.frameNumbers = frameNumbers
        self.record = record
        self.compute = compute
    }

    /// Number of offered frames.
    public var count: Int { frameNumbers.count }
    /// See `SubtractedRun.isComputedSubtraction`.
    public var isComputedSubtraction: Bool { record.method == .maskSequence || record.method == .configuredMaskFrame }

    /// Display values of offered frame `k` (0-based among the offered frames).
    public func value(_ k: Int) throws -> [Float] { try compute(k) }

    /// Display values of offered frames `range`, several at a time.
    public func values(_ range: Range<Int>) throws -> [[Float]] {
        nonisolated(unsafe) let compute = compute
        return try ParallelChunks.map(range.count) { try compute(range.lowerBound + $0) }
    }

    /// Every offered frame's values at once.
    public func materialized() throws -> SubtractedRun {
        SubtractedRun(rows: rows, columns: columns, frameNumbers: frameNumbers, values: try values(0..<count), record: record)
    }
}

/// A run's decoded frames by 0-based index: frames already decoded, or a reader that decodes each on demand.
public struct FrameAccess {
    /// Number of frames.
    public let count: Int
    /// Frame 0, decoded (its size, samples and photometric interpretation describe the run).
    public let first: PixelFrame
    let sampleTypes: (Int) -> PixelSampleType
    let decode: (Int) throws -> PixelFrame

    /// Frames already decoded (at least one).
    public init(frames: [PixelFrame]) throws {
        guard let f = frames.first else { throw AngiographyError.unsupportedImage(file: "-", reason: "no frames") }
        count = frames.count
        first = f
        sampleTypes = { frames[$0].sampleType }
        decode = { frames[$0] }
    }

    /// Frames decoded by `reader` when asked for (frame 0 now).
    public init(reader: PixelDataReader) throws {
        count = reader.frameCount
        first = try reader.frame(0)
        let type = reader.description.sampleType
        sampleTypes = { _ in type }
        decode = { try reader.frame($0) }
    }

    /// Sample type of frame `i`.
    public func sampleType(_ i: Int) -> PixelSampleType { sampleTypes(i) }

    /// Frame `i` (0-based).
    public func frame(_ i: Int) throws -> PixelFrame { try decode(i) }
}

/// Bilinear resampling of an image at (r − rowShift, c + columnShift), edge pixels repeated.
enum SubPixelShift {
    static func apply(_ m: [Float], rows: Int, columns: Int, rowShift: Double, columnShift: Double) -> [Float] {
        guard m.count == rows * columns else { return m }
        var out = [Float](repeating: 0, count: m.count)
        func axis(_ p: Double, _ size: Int) -> (Int, Int, Float) {
            let q = min(max(p, 0), Double(size - 1))
            let i0 = Int(q.rounded(.down))
            return (i0, min(i0 + 1, size - 1), Float(q - Double(i0)))
        }
        let xs = (0..<columns).map { axis(Double($0) + columnShift, columns) }
        for r in 0..<rows {
            let (y0, y1, fy) = axis(Double(r) - rowShift, rows)
            for c in 0..<columns {
                let (x0, x1, fx) = xs[c]
                let top = m[y0 * columns + x0] * (1 - fx) + m[y0 * columns + x1] * fx
                let bottom = m[y1 * columns + x0] * (1 - fx) + m[y1 * columns + x1] * fx
                out[r * columns + c] = top * (1 - fy) + bottom * fy
            }
        }
        return out
    }
}
