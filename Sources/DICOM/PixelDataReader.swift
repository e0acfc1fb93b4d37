import Foundation

/// Decodes the frames of a file's Pixel Data into stored values, as pydicom 3's `pixel_array` does.
///
/// Construction checks the Image Pixel attributes, that the transfer syntax is one this reader decodes, that
/// native pixel data is long enough and that encapsulated fragments map onto the frames; frames are decoded
/// on demand, so a caller that wants one frame of a long run pays for one frame.
///
/// What pydicom 3.0 does, and so this reader does too:
/// - For native, RLE and JPEG data, bits above Bits Stored are cleared (and the sign taken from bit
///   Bits Stored - 1 for Pixel Representation 1) by keeping the low Bits Stored bits; High Bit is not used to
///   shift the values. JPEG-LS and JPEG 2000 output is not masked to Bits Stored (only the sign rules below).
/// - YBR_FULL and YBR_FULL_422 samples are converted to RGB (pydicom's default `as_rgb=True`) with its
///   float32 matrix, rounding half up and clipping to 0…255; the frame then says "RGB".
/// - JPEG-LS streams carry no sign, so for Pixel Representation 1 the low (stream precision) bits are
///   sign-extended; JPEG 2000 monochrome data whose codestream signedness disagrees with Pixel
///   Representation is reinterpreted the same way, from the codestream's precision.
/// - RLE segments that decode to more bytes than a plane holds are cut (pydicom warns), fewer is an error.
public struct PixelDataReader: Sendable {
    public let description: PixelDescription
    public let transferSyntaxUID: String
    public let source: String
    /// The memory decoding may claim; checked before each frame and before decoding a whole run.
    public var budget: DecodeBudget
    private let pixelData: DICOMPixelData
    private let codec: PixelCodec
    private let encapsulatedFrames: EncapsulatedFrames?

    public init(file: DICOMFile, budget: DecodeBudget = .standard) throws {
        self.budget = budget
        let ds = file.dataset
        description = try PixelDescription(dataset: ds, source: file.source)
        transferSyntaxUID = file.transferSyntaxUID
        source = file.source
        guard let pd = ds.pixelData else {
            throw DICOMError.pixelData(file: file.source, reason: "no Pixel Data (7FE0,0010)")
        }
        pixelData = pd
        switch pd {
        case let .native(bytes, _, _):
            guard !DICOMTransferSyntax.isEncapsulated(transferSyntaxUID) else {
                if PixelCodec(transferSyntax: transferSyntaxUID) == nil {
                    throw DICOMError.unsupportedTransferSyntax(file: source, uid: transferSyntaxUID)
                }
                throw DICOMError.pixelData(file: source, reason:
                    "native (not encapsulated) Pixel Data in compressed transfer syntax \(transferSyntaxUID)")
            }
            codec = .native
            encapsulatedFrames = nil
            var needed = description.nativeBytesTotal
            if Self.isNativeYBR422(description) {
                guard description.pixelsPerFrame % 2 == 0 else {
                    throw DICOMError.pixelData(file: source, reason: "YBR_FULL_422 with an odd number of pixels per frame")
                }
                needed = needed / 3 * 2
            }
            if bytes.count < needed {
                throw DICOMError.pixelData(file: source, reason:
                    "Pixel Data holds \(bytes.count) bytes but \(description.rows)×\(description.columns)×" +
                    "\(description.samplesPerPixel) samples × \(description.numberOfFrames) frames at " +
                    "\(description.bitsAllocated) bits need \(needed)")
            }
        case let .encapsulated(enc):
            guard DICOMTransferSyntax.isEncapsulated(transferSyntaxUID) else {
                throw DICOMError.pixelData(file: source, reason: "encapsulated Pixel Data in native transfer syntax \(transferSyntaxUID)")
            }
            guard let c = PixelCodec(transferSyntax: transferSyntaxUID) else {
                throw DICOMError.unsupportedTransferSyntax(file: source, uid: transferSyntaxUID)
            }
            guard description.bitsAllocated != 1 else {
                throw DICOMError.pixelData(file: source, reason: "Bits Allocated 1 in compressed transfer syntax \(transferSyntaxUID)")
            }
            codec = c
            encapsulatedFrames = try EncapsulatedFrames(
                enc, frameCount: description.numberOfFrames,
                extendedOffsets: try EncapsulatedFrames.extendedTable(ds, .extendedOffsetTable, source: source),
                extendedLengths: try EncapsulatedFrames.extendedTable(ds, .extendedOffsetTableLengths, source: source),
                source: source)
        }
    }

    public var frameCount: Int { description.numberOfFrames }

    /// Bytes of one decoded frame.
    public var frameBytes: Int { DecodeBudget.product(description.samplesPerFrame, description.sampleType.bitWidth / 8) }

    /// Upper estimate of what decoding one frame holds besides the frame itself (codec buffers).
    public var frameScratchBytes: Int {
        let d = description
        switch codec {
        case .native:
            // YBR_FULL_422 expands through a packed copy; planar data is interleaved into a copy.
            if Self.isNativeYBR422(d) { return DecodeBudget.product(frameBytes, 2) }
            return d.planarConfiguration == 1 && d.samplesPerPixel > 1 ? frameBytes : 0
        case .rle:
            // Int32 bit patterns of the frame, plus one byte plane while a segment unpacks.
            return DecodeBudget.sum(DecodeBudget.product(d.samplesPerFrame, 4), d.pixelsPerFrame)
        case .jpeg:
            // The codec's 16-bit output, and its Int32 widening.
            return DecodeBudget.product(d.samplesPerFrame, 6)
        case .jpegLS, .jpeg2000:
            // The library's buffer and its Int32 copy.
            return DecodeBudget.product(d.samplesPerFrame, 8)
        }
    }

    /// Frames decoded at once by `frames()`.
    static var concurrency: Int { max(ProcessInfo.processInfo.activeProcessorCount, 1) }

    /// Upper estimate of the peak bytes of `frames()`: every frame, plus the scratch of those decoding at once.
    public var allFramesPeakBytes: Int {
        DecodeBudget.sum(DecodeBudget.product(frameBytes, frameCount),
                         DecodeBudget.product(frameScratchBytes, min(frameCount, Self.concurrency)))
    }

    static func isNativeYBR422(_ d: PixelDescription) -> Bool {
        d.photometricInterpretation == "YBR_FULL_422" && d.samplesPerPixel == 3 && d.bitsAllocated >= 8
    }

    /// Decodes frame `index` (0-based).
    public func frame(_ index: Int) throws -> PixelFrame {
        guard index >= 0, index < frameCount else {
            throw DICOMError.pixelData(file: source, reason: "frame \(index) requested but the file has \(frameCount)")
        }
        let d = description
        try budget.check(DecodeBudget.sum(frameBytes, frameScratchBytes), for: "decoding one frame", file: source, description: d, frames: 1)
        switch pixelData {
        case let .native(bytes, vr, bigEndian):
            if Self.isNativeYBR422(d) {
                // Two luma samples share one Cb/Cr pair (Y1 Y2 Cb Cr): unpack as one row of 2 samples per
                // pixel, then give each pixel its pair (PS3.3 C.7.6.3.1.2), as pydicom does.
                var flat = d
                flat.samplesPerPixel = 1
                flat.columns = d.columns * 2
                flat.planarConfiguration = 0
                let packed = try NativePixelUnpacker(description: flat, bigEndian: bigEndian, vr: vr).frame(index, from: bytes)
                let full = PixelFrame(rows: d.rows, columns: d.columns, samplesPerPixel: 3,
                                      photometricInterpretation: "YBR_FULL", samples: packed.samples.expandingYBR422())
                return try ColorConversion.toRGBIfYBR(full, source: source)
            }
            let frame = try NativePixelUnpacker(description: d, bigEndian: bigEndian, vr: vr).frame(index, from: bytes)
            return try ColorConversion.toRGBIfYBR(frame, source: source)
        case .encapsulated:
            guard let frames = encapsulatedFrames else {
                throw DICOMError.pixelData(file: source, reason: "encapsulated Pixel Data without a frame map")
            }
            let bytes = frames.bytes(ofFrame: index)
            let image: CodecImage
            let correction: CodecImage.Correction
            switch codec {
            case .native:
                throw DICOMError.pixelData(file: source, reason: "encapsulated Pixel Data in a native transfer syntax")
            case .rle:
                let planes = try RLEDecoder.decode(bytes, rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel,
                                                   bitsAllocated: d.bitsAllocated, source: "\(source) frame \(index)")
                image = CodecImage(width: d.columns, height: d.rows, components: d.samplesPerPixel,
                                   precision: d.bitsAllocated, isSigned: false,
                                   values: CodecImage.interleave(planes: planes, components: d.samplesPerPixel))
                correction = .bitsStored
            case .jpegLS:
                image = try JPEGLSDecoder.decode(bytes, description: d, source: "\(source) frame \(index)")
                correction = d.isSigned ? .codecPrecision : .none
            case .jpeg2000:
                image = try JPEG2000Decoder.decode(bytes, description: d, source: "\(source) frame \(index)")
                if d.photometricInterpretation == "MONOCHROME1" || d.photometricInterpretation == "MONOCHROME2" {
                    correction = image.isSigned != d.isSigned ? .codecPrecision : .none
                } else {
                    correction = .none
                }
            case .jpeg:
                return try decodeJPEGFrame(bytes, index: index)
            }
            return try ColorConversion.toRGBIfYBR(image.frame(description: d, correction: correction), source: "\(source) frame \(index)")
        }
    }

    /// Decodes every frame, several at a time.
    public func frames() throws -> [PixelFrame] {
        let n = frameCount
        try budget.check(allFramesPeakBytes, for: "decoding every frame", file: source, description: description)
        var results = [Result<PixelFrame, Error>?](repeating: nil, count: n)
        results.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return }
            nonisolated(unsafe) let slots = base
            DispatchQueue.concurrentPerform(iterations: n) { i in
                let r: Result<PixelFrame, Error>
                do { r = .success(try frame(i)) } catch { r = .failure(error) }
                slots[i] = r
            }
        }
        return try results.enumerated().map { i, r in
            guard let r else { throw DICOMError.pixelData(file: source, reason: "frame \(i) was not decoded") }
            return try r.get()
        }
    }

    // MARK: JPEG

    /// JPEG Baseline, Extended, Lossless and Lossless SV1 (.4.50, .4.51, .4.57, .4.70): the one place that calls
    /// the JPEG codec. The codec refuses a stream larger than the header's frame before allocating.
    private func decodeJPEGFrame(_ bytes: [UInt8], index: Int) throws -> PixelFrame {
        let image: JPEGImage
        do {
            image = try JPEGCodec.decode(bytes, photometricInterpretation: description.photometricInterpretation,
                                         source: "\(source) frame \(index)", maxSamples: description.samplesPerFrame)
        } catch let error as JPEGError {
            throw DICOMError.pixelData(file: source, reason: "frame \(index): \(error.description)")
        }
        return try frameFromJPEG(samples: image.samples, width: image.width, height: image.height,
                                 components: image.components, precision: image.precision,
                                 isRGB: image.isRGB, index: index)
    }

    /// Converts a JPEG decoder's interleaved 16-bit samples into a frame of the file's sample type: values
    /// are narrowed to Bits Allocated, then the low Bits Stored bits are kept and, for Pixel Representation 1,
    /// sign-extended (pydicom applies no other sign handling to JPEG). `isRGB` says the decoder already
    /// converted YBR to RGB; otherwise YBR_FULL data is converted here as for any other codec.
    func frameFromJPEG(samples: [UInt16], width: Int, height: Int, components: Int, precision: Int,
                       isRGB: Bool, index: Int) throws -> PixelFrame {
        let d = description
        try CodecImage.check(width: width, height: height, components: components, precision: precision,
                             against: d, codec: "JPEG", source: "\(source) frame \(index)")
        guard samples.count == width * height * components else {
            throw DICOMError.pixelData(file: "\(source) frame \(index)", reason:
                "JPEG decoder returned \(samples.count) samples for \(width)×\(height)×\(components)")
        }
        let image = CodecImage(width: width, height: height, components: components, precision: precision,
                               isSigned: false, values: samples.map { Int32($0) })
        let frame = image.frame(description: d, correction: .bitsStored)
        if isRGB {
            return PixelFrame(rows: frame.rows, columns: frame.columns, samplesPerPixel: frame.samplesPerPixel,
                              photometricInterpretation: "RGB", samples: frame.samples)
        }
        return try ColorConversion.toRGBIfYBR(frame, source: "\(source) frame \(index)")
    }
}

/// The decoder a transfer syntax needs.
enum PixelCodec: Sendable {
    case native, rle, jpegLS, jpeg2000, jpeg

    init?(transferSyntax uid: String) {
        switch uid {
        case DICOMTransferSyntax.implicitVRLittleEndian, DICOMTransferSyntax.explicitVRLittleEndian,
             DICOMTransferSyntax.deflatedExplicitVRLittleEndian, DICOMTransferSyntax.explicitVRBigEndian:
            self = .native
        case "1.2.840.10008.1.2.5": self = .rle
        case "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81": self = .jpegLS
        case "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
             "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203":
            self = .jpeg2000
        case "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70":
            self = .jpeg
        default: return nil
        }
    }
}

extension DICOMTransferSyntax {
    /// The standard name of a transfer syntax UID (PS3.6 Annex A), for messages; nil when unknown.
    public static func name(of uid: String) -> String? {
        switch uid {
        case "1.2.840.10008.1.2": return "Implicit VR Little Endian"
        case "1.2.840.10008.1.2.1": return "Explicit VR Little Endian"
        case "1.2.840.10008.1.2.1.98": return "Encapsulated Uncompressed Explicit VR Little Endian"
        case "1.2.840.10008.1.2.1.99": return "Deflated Explicit VR Little Endian"
        case "1.2.840.10008.1.2.2": return "Explicit VR Big Endian"
        case "1.2.840.10008.1.2.4.50": return "JPEG Baseline (Process 1)"
        case "1.2.840.10008.1.2.4.51": return "JPEG Extended (Process 2 & 4)"
        case "1.2.840.10008.1.2.4.57": return "JPEG Lossless, Non-Hierarchical (Process 14)"
        case "1.2.840.10008.1.2.4.70": return "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, Selection Value 1)"
        case "1.2.840.10008.1.2.4.80": return "JPEG-LS Lossless Image Compression"
        case "1.2.840.10008.1.2.4.81": return "JPEG-LS Lossy (Near-Lossless) Image Compression"
        case "1.2.840.10008.1.2.4.90": return "JPEG 2000 Image Compression (Lossless Only)"
        case "1.2.840.10008.1.2.4.91": return "JPEG 2000 Image Compression"
        case "1.2.840.10008.1.2.4.92": return "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)"
        case "1.2.840.10008.1.2.4.93": return "JPEG 2000 Part 2 Multi-component Image Compression"
        case "1.2.840.10008.1.2.4.94": return "JPIP Referenced"
        case "1.2.840.10008.1.2.4.95": return "JPIP Referenced Deflate"
        case "1.2.840.10008.1.2.4.100": return "MPEG2 Main Profile / Main Level"
        case "1.2.840.10008.1.2.4.100.1": return "Fragmentable MPEG2 Main Profile / Main Level"
        case "1.2.840.10008.1.2.4.101": return "MPEG2 Main Profile / High Level"
        case "1.2.840.10008.1.2.4.101.1": return "Fragmentable MPEG2 Main Profile / High Level"
        case "1.2.840.10008.1.2.4.102": return "MPEG-4 AVC/H.264 High Profile / Level 4.1"
        case "1.2.840.10008.1.2.4.102.1": return "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1"
        case "1.2.840.10008.1.2.4.103": return "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1"
        case "1.2.840.10008.1.2.4.103.1": return "Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1"
        case "1.2.840.10008.1.2.4.104": return "MPEG-4 AVC/H.264 High Profile For 2D Video"
        case "1.2.840.10008.1.2.4.105": return "MPEG-4 AVC/H.264 High Profile For 3D Video"
        case "1.2.840.10008.1.2.4.106": return "MPEG-4 AVC/H.264 Stereo High Profile"
        case "1.2.840.10008.1.2.4.107": return "HEVC/H.265 Main Profile / Level 5.1"
        case "1.2.840.10008.1.2.4.108": return "HEVC/H.265 Main 10 Profile / Level 5.1"
        case "1.2.840.10008.1.2.4.201": return "High-Throughput JPEG 2000 Image Compression (Lossless Only)"
        case "1.2.840.10008.1.2.4.202": return "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)"
        case "1.2.840.10008.1.2.4.203": return "High-Throughput JPEG 2000 Image Compression"
        case "1.2.840.10008.1.2.4.204": return "JPIP HTJ2K Referenced"
        case "1.2.840.10008.1.2.4.205": return "JPIP HTJ2K Referenced Deflate"
        case "1.2.840.10008.1.2.5": return "RLE Lossless"
        case "1.2.840.10008.1.2.6.1": return "RFC 2557 MIME encapsulation"
        case "1.2.840.10008.1.2.6.2": return "XML Encoding"
        case "1.2.840.10008.1.2.7.1": return "SMPTE ST 2110-20 Uncompressed Progressive Active Video"
        case "1.2.840.10008.1.2.7.2": return "SMPTE ST 2110-20 Uncompressed Interlaced Active Video"
        case "1.2.840.10008.1.2.7.3": return "SMPTE ST 2110-30 PCM Digital Audio"
        case "1.2.840.10008.1.2.8.1": return "Deflated Image Frame Compression"
        case "1.2.840.10008.1.20": return "Papyrus 3 Implicit VR Little Endian"
        default: return nil
        }
    }
}

/// What a codec hands back before it becomes a frame: interleaved values of one frame, with the stream's
/// own precision and signedness.
struct CodecImage {
    var width: Int
    var height: Int
    var components: Int
    var precision: Int
    var isSigned: Bool
    var values: [Int32]

    /// How stored values are recovered from the decoded ones (pydicom's shift and sign corrections).
    enum Correction {
        /// Keep the value's bit pattern in the sample type.
        case none
        /// Keep the low Bits Stored bits, sign-extended for Pixel Representation 1.
        case bitsStored
        /// Keep the low (codec precision) bits, sign-extended for Pixel Representation 1.
        case codecPrecision
    }

    /// The text of a C message buffer (up to its terminating NUL).
    static func message(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? "unknown error" : String(decoding: bytes, as: UTF8.self)
    }

    /// The most samples one compressed frame may decode to (256 Mi: 16k × 16k × 1), so that a hostile header
    /// cannot make a codec allocate without bound.
    static let maxDecodedSamplesPerFrame = 1 << 28

    /// Checks a codec header against the Image Pixel attributes before anything is allocated.
    static func check(width: Int, height: Int, components: Int, precision: Int, against d: PixelDescription,
                      codec: String, source: String) throws {
        func fail(_ reason: String) -> DICOMError { .pixelData(file: source, reason: "\(codec): " + reason) }
        guard width == d.columns, height == d.rows else {
            throw fail("stream is \(width)×\(height) but Columns × Rows is \(d.columns)×\(d.rows)")
        }
        guard components == d.samplesPerPixel else {
            throw fail("stream has \(components) components but Samples per Pixel is \(d.samplesPerPixel)")
        }
        guard precision >= 1, precision <= d.bitsAllocated else {
            throw fail("stream precision \(precision) bits does not fit Bits Allocated \(d.bitsAllocated)")
        }
        guard d.samplesPerFrame <= maxDecodedSamplesPerFrame else {
            throw fail("a frame of \(d.samplesPerFrame) samples exceeds the decoding limit of \(maxDecodedSamplesPerFrame)")
        }
    }

    /// Reorders planes (all of sample 0, then sample 1, …) into interleaved pixels.
    static func interleave<T>(planes: [T], components: Int) -> [T] {
        guard components > 1 else { return planes }
        let plane = planes.count / components
        var out = planes
        planes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for s in 0..<components {
                    for p in 0..<plane { dst[p * components + s] = src[s * plane + p] }
                }
            }
        }
        return out
    }

    /// The frame in the file's sample type after `correction`.
    func frame(description d: PixelDescription, correction: Correction) -> PixelFrame {
        let width = d.sampleType.bitWidth
        var keep: Int
        switch correction {
        case .none: keep = width
        case .bitsStored: keep = d.bitsStored
        case .codecPrecision: keep = precision
        }
        keep = min(max(keep, 1), width)
        let samples = values.withUnsafeBufferPointer { src in
            SampleNarrowing.samples(d.sampleType, count: src.count, keepBits: keep, Int32Samples(src: src))
        }
        return PixelFrame(rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel,
                          photometricInterpretation: d.photometricInterpretation, samples: samples)
    }
}

extension PixelSampleType {
    var bitWidth: Int {
        switch self {
        case .uint8, .int8: return 8
        case .uint16, .int16: return 16
        case .uint32, .int32: return 32
        }
    }
}

/// Where raw sample bit patterns come from; concrete types let the compiler specialise and inline the
/// per-sample read in the narrowing loop (a closure there costs a call per sample).
protocol RawSamples {
    func raw(_ i: Int) -> UInt32
}

/// Bytes of the file, read by the native layouts.
struct NativeSamples {
    struct Bits: RawSamples {
        let src: UnsafeRawBufferPointer, firstBit: Int
        @inline(__always) func raw(_ i: Int) -> UInt32 { let b = firstBit + i; return UInt32(src[b >> 3] >> UInt8(b & 7)) & 1 }
    }
    struct Bytes: RawSamples {
        let src: UnsafeRawBufferPointer, start: Int
        @inline(__always) func raw(_ i: Int) -> UInt32 { UInt32(src[start + i]) }
    }
    /// 8-bit samples in big endian OW: byte-swapped within each 16-bit word.
    struct SwappedBytes: RawSamples {
        let src: UnsafeRawBufferPointer, start: Int
        @inline(__always) func raw(_ i: Int) -> UInt32 { let j = (start + i) ^ 1; return j < src.count ? UInt32(src[j]) : 0 }
    }
    struct LE16: RawSamples {
        let src: UnsafeRawBufferPointer, start: Int
        @inline(__always) func raw(_ i: Int) -> UInt32 {
            UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self)))
        }
    }
    struct BE16: RawSamples {
        let src: UnsafeRawBufferPointer, start: Int
        @inline(__always) func raw(_ i: Int) -> UInt32 {
            UInt32(UInt16(bigEndian: src.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self)))
        }
    }
    struct LE32: RawSamples {
        let src: UnsafeRawBufferPointer, start: Int
        @inline(__always) func raw(_ i: Int) -> UInt32 { UInt32(littleEndian: src.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)) }
    }
    struct BE32: RawSamples {
        let src: UnsafeRawBufferPointer, start: Int
        @inline(__always) func raw(_ i: Int) -> UInt32 { UInt32(bigEndian: src.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)) }
    }
    /// Any other whole number of bytes per sample (24 bits).
    struct Wide: RawSamples {
        let src: UnsafeRawBufferPointer, start: Int, width: Int, bigEndian: Bool
        func raw(_ i: Int) -> UInt32 {
            var v: UInt32 = 0
            let p = start + i * width
            for k in 0..<width { v = v << 8 | UInt32(src[bigEndian ? p + k : p + width - 1 - k]) }
            return v
        }
    }
}

/// Codec output: Int32 values taken as bit patterns.
struct Int32Samples: RawSamples {
    let src: UnsafeBufferPointer<Int32>
    @inline(__always) func raw(_ i: Int) -> UInt32 { UInt32(bitPattern: src[i]) }
}

/// Turns raw bit patterns into typed samples: keep the low `keepBits` bits and, for signed types,
/// sign-extend from the top kept bit.
enum SampleNarrowing {
    static func samples<S: RawSamples>(_ type: PixelSampleType, count: Int, keepBits: Int, _ source: S) -> PixelFrame.Samples {
        switch type {
        case .uint8: return .uint8(typed(count, keepBits, false, source))
        case .int8: return .int8(typed(count, keepBits, true, source))
        case .uint16: return .uint16(typed(count, keepBits, false, source))
        case .int16: return .int16(typed(count, keepBits, true, source))
        case .uint32: return .uint32(typed(count, keepBits, false, source))
        case .int32: return .int32(typed(count, keepBits, true, source))
        }
    }

    static func typed<T: FixedWidthInteger, S: RawSamples>(_ count: Int, _ keepBits: Int, _ signed: Bool, _ source: S) -> [T] {
        let mask: UInt32 = keepBits >= 32 ? .max : (1 << UInt32(keepBits)) - 1
        let signBit: UInt32 = 1 << UInt32(max(keepBits, 1) - 1)
        return [T](unsafeUninitializedCapacity: count) { out, initialized in
            guard let base = out.baseAddress else { initialized = 0; return }
            if signed {
                for i in 0..<count {
                    let v = source.raw(i) & mask
                    base[i] = T(truncatingIfNeeded: Int32(bitPattern: (v ^ signBit) &- signBit))
                }
            } else {
                for i in 0..<count { base[i] = T(truncatingIfNeeded: source.raw(i) & mask) }
            }
            initialized = count
        }
    }
}

extension PixelFrame.Samples {
    /// Y1 Y2 Cb Cr per pixel pair → Y1 Cb Cr Y2 Cb Cr.
    func expandingYBR422() -> PixelFrame.Samples {
        func expand<T>(_ a: [T]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(a.count / 2 * 3)
            var i = 0
            while i + 3 < a.count {
                out.append(contentsOf: [a[i], a[i + 2], a[i + 3], a[i + 1], a[i + 2], a[i + 3]])
                i += 4
            }
            return out
        }
        switch self {
        case let .uint8(a): return .uint8(expand(a))
        case let .int8(a): return .int8(expand(a))
        case let .uint16(a): return .uint16(expand(a))
        case let .int16(a): return .int16(expand(a))
        case let .uint32(a): return .uint32(expand(a))
        case let .int32(a): return .int32(expand(a))
        }
    }
}

/// YBR_FULL / YBR_FULL_422 → RGB as pydicom 3 converts by default: subtract 128 from Cb and Cr, multiply by
/// its float32 matrix, round half up, clip to 0…255.
enum ColorConversion {
    // pydicom's matrix entries are Python double products rounded to float32.
    static let cbToG = Float(Double(-0.114) * 1.772 / 0.587)
    static let crToG = Float(Double(-0.299) * 1.402 / 0.587)
    static let cbToB = Float(Double(1.772))
    static let crToR = Float(Double(1.402))

    /// pydicom converts only 8-bit unsigned samples and refuses others; so does this, with a DICOMError.
    static func toRGBIfYBR(_ frame: PixelFrame, source: String) throws -> PixelFrame {
        let pi = frame.photometricInterpretation
        guard frame.samplesPerPixel == 3, pi == "YBR_FULL" || pi == "YBR_FULL_422" else { return frame }
        guard case let .uint8(a) = frame.samples else {
            throw DICOMError.pixelData(file: source, reason:
                "\(pi) to RGB conversion needs 8-bit unsigned samples, not \(frame.sampleType.rawValue)")
        }
        var out = a
        ybrFullToRGB(&out)
        return PixelFrame(rows: frame.rows, columns: frame.columns, samplesPerPixel: 3,
                          photometricInterpretation: "RGB", samples: .uint8(out))
    }

    /// Converts interleaved 8-bit Y Cb Cr triplets to R G B in place.
    static func ybrFullToRGB(_ samples: inout [UInt8]) {
        samples.withUnsafeMutableBufferPointer { p in
            var i = 0
            while i + 2 < p.count {
                let y = Float(p[i]), cb = Float(p[i + 1]) - 128, cr = Float(p[i + 2]) - 128
                let r = y + cb * 0 + cr * crToR
                let g = y + cb * cbToG + cr * crToG
                let b = y + cb * cbToB + cr * 0
                p[i] = clamp(r); p[i + 1] = clamp(g); p[i + 2] = clamp(b)
                i += 3
            }
        }
    }

    @inline(__always)
    private static func clamp(_ v: Float) -> UInt8 {
        let f = (v + 0.5).rounded(.down)
        return f <= 0 ? 0 : f >= 255 ? 255 : UInt8(f)
    }
}

/// Native (uncompressed) pixel data to stored values: bit unpacking, byte order, Bits Stored masking, sign
/// extension and planar-to-interleaved reordering.
struct NativePixelUnpacker {
    let description: PixelDescription
    let bigEndian: Bool
    let vr: DICOMVR

    /// Frame `index` of native pixel bytes: straight from memory, or only the frame's own bytes read from the file.
    /// The caller has checked that the value holds every frame.
    func frame(_ index: Int, from bytes: NativePixelBytes) throws -> PixelFrame {
        switch bytes {
        case let .memory(b):
            return frame(index, from: b)
        case let .file(f):
            let span = byteSpan(ofFrame: index)
            return frame(index, from: try f.read(span), origin: span.lowerBound)
        }
    }

    /// The bytes frame `index` occupies, widened to even offsets (8-bit OW in big endian swaps within words).
    func byteSpan(ofFrame index: Int) -> Range<Int> {
        let bits = description.samplesPerFrame * description.bitsAllocated
        var lower = index * bits / 8, upper = ((index + 1) * bits + 7) / 8
        lower -= lower % 2
        upper += upper % 2
        return lower..<upper
    }

    /// Frame `index` from `bytes`, which start at byte `origin` of the pixel data value; the caller has checked
    /// that they hold the frame.
    func frame(_ index: Int, from bytes: [UInt8], origin: Int = 0) -> PixelFrame {
        let d = description
        let n = d.samplesPerFrame
        // pydicom keeps the low Bits Stored bits (High Bit does not shift them).
        let keep = d.bitsAllocated == 1 ? 8 : d.bitsStored
        let type = d.sampleType
        let samples: PixelFrame.Samples = bytes.withUnsafeBytes { src in
            switch d.bitsAllocated {
            case 1:
                return SampleNarrowing.samples(type, count: n, keepBits: keep, NativeSamples.Bits(src: src, firstBit: index * n - origin * 8))
            case 8:
                if bigEndian && vr == .OW {
                    return SampleNarrowing.samples(type, count: n, keepBits: keep, NativeSamples.SwappedBytes(src: src, start: index * n - origin))
                }
                return SampleNarrowing.samples(type, count: n, keepBits: keep, NativeSamples.Bytes(src: src, start: index * n - origin))
            case 16:
                if bigEndian {
                    return SampleNarrowing.samples(type, count: n, keepBits: keep, NativeSamples.BE16(src: src, start: index * n * 2 - origin))
                }
                return SampleNarrowing.samples(type, count: n, keepBits: keep, NativeSamples.LE16(src: src, start: index * n * 2 - origin))
            case 32:
                if bigEndian {
                    return SampleNarrowing.samples(type, count: n, keepBits: keep, NativeSamples.BE32(src: src, start: index * n * 4 - origin))
                }
                return SampleNarrowing.samples(type, count: n, keepBits: keep, NativeSamples.LE32(src: src, start: index * n * 4 - origin))
            default:
                let width = d.bitsAllocated / 8
                return SampleNarrowing.samples(type, count: n, keepBits: keep,
                                               NativeSamples.Wide(src: src, start: index * n * width - origin, width: width, bigEndian: bigEndian))
            }
        }
        var frame = PixelFrame(rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel,
                               photometricInterpretation: d.photometricInterpretation, samples: samples)
        if d.planarConfiguration == 1 && d.samplesPerPixel > 1 {
            let c = d.samplesPerPixel
            switch frame.samples {
            case let .uint8(a): frame.samples = .uint8(CodecImage.interleave(planes: a, components: c))
            case let .int8(a): frame.samples = .int8(CodecImage.interleave(planes: a, components: c))
            case let .uint16(a): frame.samples = .uint16(CodecImage.interleave(planes: a, components: c))
            case let .int16(a): frame.samples = .int16(CodecImage.interleave(planes: a, components: c))
            case let .uint32(a): frame.samples = .uint32(CodecImage.interleave(planes: a, components: c))
            case let .int32(a): frame.samples = .int32(CodecImage.interleave(planes: a, components: c))
            }
        }
        return frame
    }
}
