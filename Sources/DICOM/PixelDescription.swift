/// The Image Pixel module attributes that say how the pixel data is laid out (PS3.3 §C.7.6.3), checked.
public struct PixelDescription: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var samplesPerPixel: Int
    /// 1, 8, 16 or 32 for native data (any multiple of 8 up to 32 is accepted).
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var highBit: Int
    /// Pixel Representation 1: two's complement stored values.
    public var isSigned: Bool
    /// 0: samples interleaved per pixel (R1 G1 B1 R2 …); 1: one plane per sample (R1 R2 … G1 G2 …).
    public var planarConfiguration: Int
    public var photometricInterpretation: String
    public var numberOfFrames: Int

    /// Limits that keep a hostile header from asking for unbounded memory.
    public static let maxDimension = 65_535
    public static let maxFrames = 100_000
    public static let maxTotalSamples = 4_000_000_000

    public init(rows: Int, columns: Int, samplesPerPixel: Int = 1, bitsAllocated: Int, bitsStored: Int,
                highBit: Int? = nil, isSigned: Bool = false, planarConfiguration: Int = 0,
                photometricInterpretation: String = "MONOCHROME2", numberOfFrames: Int = 1) {
        self.rows = rows
        self.columns = columns
        self.samplesPerPixel = samplesPerPixel
        self.bitsAllocated = bitsAllocated
        self.bitsStored = bitsStored
        self.highBit = highBit ?? bitsStored - 1
        self.isSigned = isSigned
        self.planarConfiguration = planarConfiguration
        self.photometricInterpretation = photometricInterpretation
        self.numberOfFrames = numberOfFrames
    }

    /// Reads and checks the attributes of `dataset`; `source` names the file in errors.
    public init(dataset ds: DICOMDataset, source: String) throws {
        func fail(_ reason: String) -> DICOMError { .pixelData(file: source, reason: reason) }
        func required(_ tag: DICOMTag, _ name: String) throws -> Int {
            guard let v = ds.int(tag) else { throw fail("missing \(name) \(tag)") }
            return v
        }
        let rows = try required(.rows, "Rows")
        let columns = try required(.columns, "Columns")
        let bitsAllocated = try required(.bitsAllocated, "Bits Allocated")
        let bitsStored = ds.int(.bitsStored) ?? bitsAllocated
        let samples = ds.int(.samplesPerPixel) ?? 1
        let frames = ds.int(.numberOfFrames) ?? 1
        self.init(rows: rows, columns: columns, samplesPerPixel: samples, bitsAllocated: bitsAllocated,
                  bitsStored: bitsStored, highBit: ds.int(.highBit) ?? bitsStored - 1,
                  isSigned: (ds.int(.pixelRepresentation) ?? 0) == 1,
                  planarConfiguration: ds.int(.planarConfiguration) ?? 0,
                  photometricInterpretation: ds.string(.photometricInterpretation) ?? (samples == 1 ? "MONOCHROME2" : "RGB"),
                  numberOfFrames: max(frames, 1))
        guard rows > 0, columns > 0, rows <= Self.maxDimension, columns <= Self.maxDimension else {
            throw fail("Rows \(rows) × Columns \(columns) outside 1…\(Self.maxDimension)")
        }
        guard frames >= 0, frames <= Self.maxFrames else { throw fail("Number of Frames \(frames) outside 1…\(Self.maxFrames)") }
        guard samples == 1 || samples == 3 || samples == 4 else { throw fail("Samples per Pixel \(samples) is not 1, 3 or 4") }
        guard bitsAllocated == 1 || (bitsAllocated % 8 == 0 && bitsAllocated >= 8 && bitsAllocated <= 32) else {
            throw fail("Bits Allocated \(bitsAllocated) is not 1 or a multiple of 8 up to 32")
        }
        guard bitsStored >= 1, bitsStored <= bitsAllocated else {
            throw fail("Bits Stored \(bitsStored) outside 1…Bits Allocated (\(bitsAllocated))")
        }
        guard highBit >= bitsStored - 1, highBit < bitsAllocated else {
            throw fail("High Bit \(highBit) inconsistent with Bits Stored \(bitsStored) and Bits Allocated \(bitsAllocated)")
        }
        guard planarConfiguration == 0 || planarConfiguration == 1 else {
            throw fail("Planar Configuration \(planarConfiguration) is not 0 or 1")
        }
        guard totalSamples <= Self.maxTotalSamples else {
            throw fail("\(rows)×\(columns)×\(samples)×\(numberOfFrames) samples exceed the limit of \(Self.maxTotalSamples)")
        }
    }

    public var pixelsPerFrame: Int { rows * columns }
    public var samplesPerFrame: Int { rows * columns * samplesPerPixel }
    public var totalSamples: Int { samplesPerFrame * numberOfFrames }

    /// Bytes one frame occupies in native encoding (bit-packed for Bits Allocated 1, where frames are not
    /// byte-aligned and this is the rounded-up size of a lone frame).
    public var nativeBytesPerFrame: Int {
        bitsAllocated == 1 ? (samplesPerFrame + 7) / 8 : samplesPerFrame * (bitsAllocated / 8)
    }

    /// Bytes all frames occupy in native encoding, without the even-length pad byte.
    public var nativeBytesTotal: Int {
        bitsAllocated == 1 ? (totalSamples + 7) / 8 : totalSamples * (bitsAllocated / 8)
    }

    /// The element type decoded frames use, as pydicom's pixel_array does: by Bits Allocated and sign.
    public var sampleType: PixelSampleType {
        switch (bitsAllocated, isSigned) {
        case (1, _): return .uint8
        case (8, false): return .uint8
        case (8, true): return .int8
        case (16, false): return .uint16
        case (16, true): return .int16
        case (_, false): return .uint32
        case (_, true): return .int32
        }
    }
}

/// The element type of decoded samples.
public enum PixelSampleType: String, Sendable {
    case uint8, int8, uint16, int16, uint32, int32

    /// NumPy's dtype string (little endian).
    public var numpyDescriptor: String {
        switch self {
        case .uint8: return "|u1"
        case .int8: return "|i1"
        case .uint16: return "<u2"
        case .int16: return "<i2"
        case .uint32: return "<u4"
        case .int32: return "<i4"
        }
    }
}
