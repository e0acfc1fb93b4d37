import Foundation

/// Decodes the frames of a file's Pixel Data into stored values.
///
/// Construction checks the Image Pixel attributes and that the pixel data is present and long enough;
/// frames are decoded on demand, so a caller that wants one frame of a long run pays for one frame.
public struct PixelDataReader: Sendable {
    public let description: PixelDescription
    public let transferSyntaxUID: String
    public let source: String
    private let pixelData: DICOMPixelData

    public init(file: DICOMFile) throws {
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
            let needed = description.nativeBytesTotal
            if bytes.count < needed {
                throw DICOMError.pixelData(file: source, reason:
                    "Pixel Data holds \(bytes.count) bytes but \(description.rows)×\(description.columns)×" +
                    "\(description.samplesPerPixel) samples × \(description.numberOfFrames) frames at " +
                    "\(description.bitsAllocated) bits need \(needed)")
            }
        case .encapsulated:
            guard DICOMTransferSyntax.isEncapsulated(transferSyntaxUID) else {
                throw DICOMError.pixelData(file: source, reason: "encapsulated Pixel Data in native transfer syntax \(transferSyntaxUID)")
            }
            throw DICOMError.unsupportedTransferSyntax(file: source, uid: transferSyntaxUID)
        }
    }

    public var frameCount: Int { description.numberOfFrames }

    /// Decodes frame `index` (0-based).
    public func frame(_ index: Int) throws -> PixelFrame {
        guard index >= 0, index < frameCount else {
            throw DICOMError.pixelData(file: source, reason: "frame \(index) requested but the file has \(frameCount)")
        }
        switch pixelData {
        case let .native(bytes, vr, bigEndian):
            return NativePixelUnpacker(description: description, bigEndian: bigEndian, vr: vr).frame(index, from: bytes)
        case .encapsulated:
            throw DICOMError.unsupportedTransferSyntax(file: source, uid: transferSyntaxUID)
        }
    }

    /// Decodes every frame, several at a time.
    public func frames() throws -> [PixelFrame] {
        let n = frameCount
        var results = [Result<PixelFrame, Error>?](repeating: nil, count: n)
        results.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let base = out.baseAddress!
            DispatchQueue.concurrentPerform(iterations: n) { i in
                let r: Result<PixelFrame, Error>
                do { r = .success(try frame(i)) } catch { r = .failure(error) }
                (base + i).initialize(to: r)
            }
        }
        return try results.map { try $0!.get() }
    }
}

/// Native (uncompressed) pixel data to stored values: bit unpacking, byte order, Bits Stored masking, sign
/// extension and planar-to-interleaved reordering.
struct NativePixelUnpacker {
    let description: PixelDescription
    let bigEndian: Bool
    let vr: DICOMVR

    func frame(_ index: Int, from bytes: [UInt8]) -> PixelFrame {
        let d = description
        let n = d.samplesPerFrame
        let shift = d.highBit + 1 - d.bitsStored
        let mask: UInt32 = d.bitsStored >= 32 ? .max : (1 << UInt32(d.bitsStored)) - 1
        let signBit: UInt32 = 1 << UInt32(d.bitsStored - 1)
        func signExtend(_ v: UInt32) -> Int32 {
            d.bitsStored >= 32 ? Int32(bitPattern: v) : Int32(bitPattern: (v ^ signBit) &- signBit)
        }
        var raw = [UInt32](repeating: 0, count: n)
        bytes.withUnsafeBufferPointer { src in
            switch d.bitsAllocated {
            case 1:
                let firstBit = index * n
                for i in 0..<n {
                    let bit = firstBit + i
                    raw[i] = UInt32(src[bit >> 3] >> UInt8(bit & 7)) & 1
                }
            case 8:
                let start = index * n
                // Big endian OW pixel data of 8-bit samples is byte-swapped within each 16-bit word.
                let swapped = bigEndian && vr == .OW
                for i in 0..<n {
                    let j = start + i
                    raw[i] = UInt32(src[swapped ? (j ^ 1) : j])
                }
            default:
                let width = d.bitsAllocated / 8
                let start = index * n * width
                for i in 0..<n {
                    var v: UInt32 = 0
                    let p = start + i * width
                    if bigEndian {
                        for k in 0..<width { v = v << 8 | UInt32(src[p + k]) }
                    } else {
                        for k in stride(from: width - 1, through: 0, by: -1) { v = v << 8 | UInt32(src[p + k]) }
                    }
                    raw[i] = v
                }
            }
        }
        if d.bitsAllocated > 1 {
            for i in 0..<n { raw[i] = (raw[i] >> UInt32(shift)) & mask }
        }
        if d.planarConfiguration == 1 && d.samplesPerPixel > 1 {
            let plane = d.pixelsPerFrame
            var inter = [UInt32](repeating: 0, count: n)
            for s in 0..<d.samplesPerPixel {
                for p in 0..<plane { inter[p * d.samplesPerPixel + s] = raw[s * plane + p] }
            }
            raw = inter
        }
        let samples: PixelFrame.Samples
        switch d.sampleType {
        case .uint8: samples = .uint8(raw.map { UInt8(truncatingIfNeeded: $0) })
        case .int8: samples = .int8(raw.map { Int8(truncatingIfNeeded: signExtend($0)) })
        case .uint16: samples = .uint16(raw.map { UInt16(truncatingIfNeeded: $0) })
        case .int16: samples = .int16(raw.map { Int16(truncatingIfNeeded: signExtend($0)) })
        case .uint32: samples = .uint32(raw)
        case .int32: samples = .int32(raw.map(signExtend))
        }
        return PixelFrame(rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel,
                          photometricInterpretation: d.photometricInterpretation, samples: samples)
    }
}
