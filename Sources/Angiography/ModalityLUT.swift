import DICOM

/// The modality transformation from stored values to modality values (PS3.3 §C.11.1): Rescale Slope and
/// Intercept, or a Modality LUT Sequence (0028,3000) table, which takes precedence when both are present.
public struct ModalityLUT: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case rescale(slope: Double, intercept: Double)
        /// Stored values below `firstMapped` take the first entry, values past the end the last.
        case table(firstMapped: Int, values: [Double])
    }

    public var kind: Kind

    public static let identity = ModalityLUT(kind: .rescale(slope: 1, intercept: 0))

    public init(kind: Kind) { self.kind = kind }

    /// Reads the Modality LUT Sequence or Rescale Slope/Intercept (defaults 1 and 0) of `ds`.
    public init(dataset ds: DICOMDataset, source: String) throws {
        if let item = ds.sequence(XATag.modalityLUTSequence)?.first {
            guard let d = item.ints(XATag.lutDescriptor), d.count == 3 else {
                throw AngiographyError.invalidAttribute(file: source, attribute: "Modality LUT Sequence (0028,3000) LUT Descriptor (0028,3002)",
                                                        reason: "expected 3 values")
            }
            let entries = d[0] == 0 ? 65536 : d[0]
            // The first mapped value is US or SS by Pixel Representation; a US-read value above 32767 of a
            // signed image is negative.
            var first = d[1]
            if (ds.int(.pixelRepresentation) ?? 0) == 1, first > 32767 { first -= 65536 }
            let data: [Int]
            if let v = item.ints(XATag.lutData) {
                data = v
            } else if let bytes = item.data(XATag.lutData) {
                data = stride(from: 0, to: bytes.count - 1, by: 2).map { Int(bytes[$0]) | Int(bytes[$0 + 1]) << 8 }
            } else {
                data = []
            }
            guard data.count >= entries else {
                throw AngiographyError.invalidAttribute(file: source, attribute: "Modality LUT Sequence (0028,3000) LUT Data (0028,3006)",
                                                        reason: "\(data.count) entries, the descriptor says \(entries)")
            }
            kind = .table(firstMapped: first, values: data.prefix(entries).map(Double.init))
            return
        }
        let slope = ds.double(.rescaleSlope) ?? 1
        let intercept = ds.double(.rescaleIntercept) ?? 0
        guard slope.isFinite, intercept.isFinite, slope != 0 else {
            throw AngiographyError.invalidAttribute(file: source, attribute: "Rescale Slope/Intercept (0028,1053/1052)",
                                                    reason: "slope \(slope), intercept \(intercept): need finite values and a non-zero slope")
        }
        kind = .rescale(slope: slope, intercept: intercept)
    }

    public var isIdentity: Bool { kind == .rescale(slope: 1, intercept: 0) }

    /// The modality value of one stored value.
    @inline(__always)
    public func apply(_ stored: Double) -> Double {
        switch kind {
        case let .rescale(s, b): return stored * s + b
        case let .table(first, values):
            let i = Int(stored) - first
            return values[min(max(i, 0), values.count - 1)]
        }
    }

    /// `f(modality value)` for every stored value of `frame` (first sample of each pixel), as Float.
    public func map(_ frame: PixelFrame, _ f: (Double) -> Double = { $0 }) -> [Float] {
        if let table = StoredValueTable(self, sampleType: frame.sampleType, f) { return table.map(frame) }
        let n = frame.rows * frame.columns
        let step = frame.samplesPerPixel
        func direct<T: BinaryInteger>(_ a: [T]) -> [Float] { (0..<n).map { Float(f(apply(Double(a[$0 * step])))) } }
        switch frame.samples {
        case let .uint8(a): return direct(a)
        case let .int8(a): return direct(a)
        case let .uint16(a): return direct(a)
        case let .int16(a): return direct(a)
        case let .uint32(a): return direct(a)
        case let .int32(a): return direct(a)
        }
    }
}

/// `f(modality value)` tabulated over every stored value of a ≤ 16-bit sample type, so that `f` (a
/// logarithm, say) runs 65 536 times per run rather than once per pixel and frame.
public struct StoredValueTable: Sendable {
    public let sampleType: PixelSampleType
    let offset: Int
    let values: [Float]

    /// Nil for 32-bit sample types, which are mapped directly.
    public init?(_ lut: ModalityLUT, sampleType: PixelSampleType, _ f: (Double) -> Double) {
        let size: Int
        switch sampleType {
        case .uint8: (offset, size) = (0, 256)
        case .int8: (offset, size) = (128, 256)
        case .uint16: (offset, size) = (0, 65536)
        case .int16: (offset, size) = (32768, 65536)
        case .uint32, .int32: return nil
        }
        self.sampleType = sampleType
        let off = offset
        values = (0..<size).map { Float(f(lut.apply(Double($0 - off)))) }
    }

    /// Table values of the first sample of each pixel of `frame`.
    public func map(_ frame: PixelFrame) -> [Float] {
        let n = frame.rows * frame.columns
        return [Float](unsafeUninitializedCapacity: n) { out, done in
            visit(frame) { i, v in out[i] = v }
            done = n
        }
    }

    /// sign · (table(frame) − mask), the fused subtraction step.
    public func subtracting(_ frame: PixelFrame, _ mask: [Float], sign: Float) -> [Float] {
        let n = min(frame.rows * frame.columns, mask.count)
        return mask.withUnsafeBufferPointer { m in
            [Float](unsafeUninitializedCapacity: n) { out, done in
                visit(frame, count: n) { i, v in out[i] = sign * (v - m[i]) }
                done = n
            }
        }
    }

    @inline(__always)
    private func visit(_ frame: PixelFrame, count: Int? = nil, _ body: (Int, Float) -> Void) {
        let n = count ?? frame.rows * frame.columns
        let step = frame.samplesPerPixel
        let off = offset
        values.withUnsafeBufferPointer { t in
            func run<T: BinaryInteger>(_ a: [T]) {
                a.withUnsafeBufferPointer { src in
                    let n = min(n, src.count / max(step, 1))
                    if step == 1 {
                        for i in 0..<n { body(i, t[Int(truncatingIfNeeded: src[i]) &+ off]) }
                    } else {
                        for i in 0..<n { body(i, t[Int(truncatingIfNeeded: src[i * step]) &+ off]) }
                    }
                }
            }
            switch frame.samples {
            case let .uint8(a) where sampleType == .uint8: run(a)
            case let .int8(a) where sampleType == .int8: run(a)
            case let .uint16(a) where sampleType == .uint16: run(a)
            case let .int16(a) where sampleType == .int16: run(a)
            default: break
            }
        }
    }
}
