/// Decoded samples of one frame, row-major with the samples of a pixel adjacent (R G B R G B …, whatever
/// the file's planar configuration was). Values are the stored values: masked to Bits Stored and sign
/// extended for Pixel Representation 1, before any modality or VOI transformation.
public struct PixelFrame: Sendable, Equatable {
    public enum Samples: Sendable, Equatable {
        case uint8([UInt8])
        case int8([Int8])
        case uint16([UInt16])
        case int16([Int16])
        case uint32([UInt32])
        case int32([Int32])
    }

    public let rows: Int
    public let columns: Int
    public let samplesPerPixel: Int
    /// The photometric interpretation of these samples (a codec that converts YBR to RGB says RGB).
    public let photometricInterpretation: String
    public var samples: Samples

    public init(rows: Int, columns: Int, samplesPerPixel: Int, photometricInterpretation: String, samples: Samples) {
        self.rows = rows
        self.columns = columns
        self.samplesPerPixel = samplesPerPixel
        self.photometricInterpretation = photometricInterpretation
        self.samples = samples
    }

    public var count: Int {
        switch samples {
        case let .uint8(a): return a.count
        case let .int8(a): return a.count
        case let .uint16(a): return a.count
        case let .int16(a): return a.count
        case let .uint32(a): return a.count
        case let .int32(a): return a.count
        }
    }

    public var sampleType: PixelSampleType {
        switch samples {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        }
    }

    /// One stored value.
    public func value(row: Int, column: Int, sample: Int = 0) -> Int {
        let i = (row * columns + column) * samplesPerPixel + sample
        switch samples {
        case let .uint8(a): return Int(a[i])
        case let .int8(a): return Int(a[i])
        case let .uint16(a): return Int(a[i])
        case let .int16(a): return Int(a[i])
        case let .uint32(a): return Int(a[i])
        case let .int32(a): return Int(a[i])
        }
    }

    /// All stored values widened to Float (exact up to 24 bits).
    public func floatValues() -> [Float] {
        switch samples {
        case let .uint8(a): return a.map { Float($0) }
        case let .int8(a): return a.map { Float($0) }
        case let .uint16(a): return a.map { Float($0) }
        case let .int16(a): return a.map { Float($0) }
        case let .uint32(a): return a.map { Float($0) }
        case let .int32(a): return a.map { Float($0) }
        }
    }

    /// All stored values widened to Int32 (UInt32 values above Int32.max saturate).
    public func int32Values() -> [Int32] {
        switch samples {
        case let .uint8(a): return a.map { Int32($0) }
        case let .int8(a): return a.map { Int32($0) }
        case let .uint16(a): return a.map { Int32($0) }
        case let .int16(a): return a.map { Int32($0) }
        case let .uint32(a): return a.map { Int32(clamping: $0) }
        case let .int32(a): return a
        }
    }

    /// Little-endian bytes of the samples, as NumPy stores them.
    public func littleEndianBytes() -> [UInt8] {
        func bytes<T: FixedWidthInteger>(_ a: [T]) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: a.count * MemoryLayout<T>.size)
            out.withUnsafeMutableBytes { raw in
                for (i, v) in a.enumerated() { raw.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self) }
            }
            return out
        }
        switch samples {
        case let .uint8(a): return a
        case let .int8(a): return a.map { UInt8(bitPattern: $0) }
        case let .uint16(a): return bytes(a)
        case let .int16(a): return bytes(a)
        case let .uint32(a): return bytes(a)
        case let .int32(a): return bytes(a)
        }
    }
}
