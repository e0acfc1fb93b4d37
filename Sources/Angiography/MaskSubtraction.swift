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

    public func run(frames: [PixelFrame], attributes attr: AngiogramAttributes, subtract: Bool = true) throws -> SubtractedRun {
        let src = attr.source
        guard let first = frames.first else { throw AngiographyError.unsupportedImage(file: src, reason: "no frames") }
        let rows = first.rows, columns = first.columns
        for (i, f) in frames.enumerated() where f.rows != rows || f.columns != columns {
            throw AngiographyError.inconsistentFrames(file: src, reason: "frame \(i + 1) is \(f.rows)×\(f.columns), frame 1 \(rows)×\(columns)")
        }
        guard first.samplesPerPixel == 1 else {
            throw AngiographyError.unsupportedImage(file: src, reason:
                "\(first.samplesPerPixel) samples per pixel (\(first.photometricInterpretation)); angiograms are grayscale")
        }
        let n = frames.count

        func modalityFrames(_ numbers: [Int], note: String?) -> SubtractedRun {
            var values = [[Float]](repeating: [], count: numbers.count)
            values.withUnsafeMutableBufferPointer { out in
                // An empty buffer has no base address and nothing to do.
                guard let oStart = out.baseAddress else { return }
                nonisolated(unsafe) let o = oStart
                ParallelChunks.forEach(numbers.count) { k in
                    o[k] = attr.modalityLUT(frame: numbers[k] - 1).map(frames[numbers[k] - 1])
                }
            }
            let method: SubtractionRecord.Method = attr.isSubtracted && subtract ? .alreadySubtracted : .notSubtracted
            return SubtractedRun(rows: rows, columns: columns, frameNumbers: numbers, values: values,
                                 record: SubtractionRecord(method: method, operations: [], intensityRelationship: nil,
                                                           maskFrames: [], frames: numbers, notes: note.map { [$0] } ?? []))
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
            notes.append("Pixel Intensity Relationship \(attr.pixelIntensityRelationshipText.map { "'\($0)' not understood" } ?? "absent"): LIN assumed")
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
        var linearValues = [[Float]](repeating: [], count: linearList.count)
        linearValues.withUnsafeMutableBufferPointer { out in
            // An empty buffer has no base address and nothing to do.
            guard let oStart = out.baseAddress else { return }
            nonisolated(unsafe) let o = oStart
            ParallelChunks.forEach(linearList.count) { k in
                o[k] = attr.modalityLUT(frame: linearList[k] - 1).map(frames[linearList[k] - 1])
            }
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
            if tables[lut] == nil, let t = StoredValueTable(lut, sampleType: frames[f].sampleType, transform) { tables[lut] = t }
        }
        func transformed(_ frame: Int) -> [Float] {
            let lut = attr.modalityLUT(frame: frame - 1)
            if let t = tables[lut], t.sampleType == frames[frame - 1].sampleType { return t.map(frames[frame - 1]) }
            return lut.map(frames[frame - 1], transform)
        }

        // Masks after averaging, shift and transform, one per distinct (item, mask frames).
        struct MaskKey: Hashable { var item: Int; var masks: [Int] }
        var masks: [MaskKey: [Float]] = [:]
        for p in plans {
            let key = MaskKey(item: p.item, masks: p.masks)
            if masks[key] != nil { continue }
            let item = items[p.item]
            if p.masks.count == 1 && item.subPixelShift == nil {
                masks[key] = transformed(p.masks[0])
            } else {
                var m = mean(p.masks)
                if let s = item.subPixelShift { m = SubPixelShift.apply(m, rows: rows, columns: columns, rowShift: s.row, columnShift: s.column) }
                masks[key] = m.map { Float(transform(Double($0))) }
            }
        }

        var values = [[Float]](repeating: [], count: plans.count)
        values.withUnsafeMutableBufferPointer { out in
            // An empty buffer has no base address and nothing to do.
            guard let oStart = out.baseAddress else { return }
            nonisolated(unsafe) let o = oStart
            ParallelChunks.forEach(plans.count) { k in
                let p = plans[k]
                let item = items[p.item]
                let mask = masks[MaskKey(item: p.item, masks: p.masks)] ?? []
                let lut = attr.modalityLUT(frame: p.frame - 1)
                if item.contrastFrameAveraging == 1, let t = tables[lut], t.sampleType == frames[p.frame - 1].sampleType {
                    o[k] = t.subtracting(frames[p.frame - 1], mask, sign: sign)
                    return
                }
                var contrast: [Float]
                if item.contrastFrameAveraging > 1 {
                    contrast = mean(Array(p.frame...min(p.frame + item.contrastFrameAveraging - 1, n))).map { Float(transform(Double($0))) }
                } else {
                    contrast = transformed(p.frame)
                }
                contrast.withUnsafeMutableBufferPointer { c in
                    mask.withUnsafeBufferPointer { m in
                        for i in 0..<min(c.count, m.count) { c[i] = sign * (c[i] - m[i]) }
                    }
                }
                o[k] = contrast
            }
        }
        let usedMasks = Set(plans.flatMap(\.masks)).sorted()
        let ops = items.map(\.operation.rawValue)
        if items.contains(where: { $0.subPixelShift != nil }) { notes.append("mask sub-pixel shift applied") }
        return SubtractedRun(rows: rows, columns: columns, frameNumbers: plans.map(\.frame), values: values,
                             record: SubtractionRecord(method: method, operations: ops, intensityRelationship: relationship.rawValue,
                                                       maskFrames: usedMasks, frames: plans.map(\.frame), notes: notes))
    }
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
