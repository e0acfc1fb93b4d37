import DICOM

/// The modality transformation from stored values to modality values (PS3.3 §C.11.1): Rescale Slope and
/// Intercept, or a Modality LUT Sequence (0028,3000) table, which takes precedence when both are present.
public struct ModalityLUT: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
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
    /// Samples of 16 bits or fewer go through a lookup table over the whole stored range, so `f` (a
    /// logarithm, say) runs 65 536 times, not once per pixel.
    public func map(_ frame: PixelFrame, _ f: (Double) -> Double = { $0 }) -> [Float] {
        let n = frame.rows * frame.columns
        let step = frame.samplesPerPixel
        func viaTable<T: BinaryInteger>(_ a: [T], offset: Int, size: Int) -> [Float] {
            let table = (0..<size).map { Float(f(apply(Double($0 - offset)))) }
            return [Float](unsafeUninitializedCapacity: n) { out, done in
                table.withUnsafeBufferPointer { t in
                    a.withUnsafeBufferPointer { src in
                        for i in 0..<n { out[i] = t[Int(src[i * step]) + offset] }
                    }
                }
                done = n
            }
        }
        func direct<T: BinaryInteger>(_ a: [T]) -> [Float] {
            (0..<n).map { Float(f(apply(Double(a[$0 * step])))) }
        }
        switch frame.samples {
        case let .uint8(a): return viaTable(a, offset: 0, size: 256)
        case let .int8(a): return viaTable(a, offset: 128, size: 256)
        case let .uint16(a): return viaTable(a, offset: 0, size: 65536)
        case let .int16(a): return viaTable(a, offset: 32768, size: 65536)
        case let .uint32(a): return direct(a)
        case let .int32(a): return direct(a)
        }
    }
}
