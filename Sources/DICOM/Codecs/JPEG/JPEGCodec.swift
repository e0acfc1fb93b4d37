import CDICOMCodecs

/// One decoded JPEG image.
public struct JPEGImage: Sendable {
    public let width: Int
    public let height: Int
    public let components: Int
    /// Bits per sample of the stream (2…16).
    public let precision: Int
    /// Interleaved, row-major samples; lossless samples are already shifted back by the point transform.
    public let samples: [UInt16]
    /// True when colour samples were converted from YCbCr to RGB (or are RGB).
    public let isRGB: Bool

    public init(width: Int, height: Int, components: Int, precision: Int, samples: [UInt16], isRGB: Bool) {
        self.width = width
        self.height = height
        self.components = components
        self.precision = precision
        self.samples = samples
        self.isRGB = isRGB
    }
}

/// A JPEG stream could not be decoded; names the source and what was wrong.
public struct JPEGError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Decodes the JPEG processes DICOM uses.
///
/// - Lossless (process 14, SOF3; transfer syntaxes .57 and .70): own decoder.
/// - Sequential DCT with 12-bit samples (process 4, .51): own decoder with libjpeg 6b's arithmetic.
/// - DCT with 8-bit samples (.50, and 8-bit data in .51): libjpeg-turbo through the C shim, as pydicom's
///   Pillow plugin does.
///
/// Colour rule (pydicom 3 `pixel_array` with its defaults, Pillow plugin): for 3-component DCT streams
/// without an Adobe APP14 marker Pillow asks libjpeg for the components as stored (`draft("YCbCr")`), and
/// pydicom then converts YBR_FULL / YBR_FULL_422 to RGB itself (`as_rgb=True`) in float32:
/// R = Y + 1.402 (Cr−128), G = Y − 0.114·1.772/0.587 (Cb−128) − 0.299·1.402/0.587 (Cr−128),
/// B = Y + 1.772 (Cb−128), each floor(x + 0.5) clipped to 0…255. libjpeg's own upsampling ("fancy") is
/// used for 4:2:2 / 4:2:0. Before that pydicom corrects the photometric interpretation from the stream:
/// component ids "RGB"/"rgb" mean RGB (no conversion); a JFIF APP0 marker under a non-YBR value means
/// YBR_FULL_422 (.50) or YBR_FULL (other syntaxes). With an Adobe APP14 marker Pillow lets libjpeg convert
/// to RGB (transform 1) or keep RGB (transform 0); we stop there, whereas pydicom would convert a second
/// time if (0028,0004) still said YBR. Lossless streams are never colour-converted (isRGB means the file
/// says RGB). 12-bit colour DCT samples are returned as stored.
public enum JPEGCodec {
    /// Decodes one complete JPEG stream (SOI…EOI). `photometricInterpretation` is the file's (0028,0004).
    public static func decode(_ bytes: [UInt8], photometricInterpretation: String, source: String) throws -> JPEGImage {
        try decode(bytes, photometricInterpretation: photometricInterpretation, source: source, maxSamples: nil)
    }

    /// As `decode(_:photometricInterpretation:source:)`, refusing before any allocation a frame whose
    /// width × height × components exceeds `maxSamples` (the size the DICOM attributes promise).
    public static func decode(_ bytes: [UInt8], photometricInterpretation: String, source: String,
                              maxSamples: Int?) throws -> JPEGImage {
        do {
            return try bytes.withUnsafeBufferPointer { buffer in
                try decodeStream(buffer, photometricInterpretation: photometricInterpretation, maxSamples: maxSamples)
            }
        } catch let e as JPEGError {
            throw JPEGError(description: "\(source): JPEG stream: \(e.description)")
        }
    }

    static func decodeStream(_ buffer: UnsafeBufferPointer<UInt8>, photometricInterpretation: String,
                             maxSamples: Int?) throws -> JPEGImage {
        var stream = JPEGStream(bytes: buffer)
        try stream.start()
        guard let scan = try stream.nextScan() else {
            throw JPEGError(description: "no scan (SOS) before the end of the data")
        }
        guard let frame = stream.frame else { throw JPEGError(description: "no frame header (SOF)") }
        let nc = frame.components.count
        let (pixels, o1) = frame.width.multipliedReportingOverflow(by: frame.height)
        let (count, o2) = pixels.multipliedReportingOverflow(by: nc)
        guard !o1, !o2 else { throw JPEGError(description: "frame size \(frame.width)×\(frame.height) overflows") }
        if let maxSamples, count > maxSamples {
            throw JPEGError(description: "frame \(frame.width)×\(frame.height)×\(nc) holds \(count) samples, the DICOM attributes allow \(maxSamples)")
        }
        // Every sample (lossless) or block (DCT) takes at least one bit of entropy-coded data.
        let entropyBits = (buffer.count - stream.position) * 8
        let minimumUnits = frame.process == 3 ? count : (frame.width / 8) * (frame.height / 8)
        guard minimumUnits <= entropyBits + 64 else {
            throw JPEGError(description: "frame \(frame.width)×\(frame.height)×\(nc) cannot fit in \(buffer.count - stream.position) bytes of coded data")
        }
        let pi = String(photometricInterpretation.filter { $0 != " " && $0 != "\0" }).uppercased()
        switch frame.process {
        case 3:
            let samples = try JPEGLosslessDecoder.decode(&stream, frame: frame, firstScan: scan)
            return JPEGImage(width: frame.width, height: frame.height, components: nc, precision: frame.precision,
                             samples: samples, isRGB: nc == 3 && pi == "RGB")
        case _ where frame.precision == 8 && frame.process <= 2:
            return try decode8(buffer, frame: frame, info: stream.info, pi: pi, count: count)
        case _ where frame.precision == 12 && frame.process <= 1:
            let samples = try JPEGDCTDecoder.decode(&stream, frame: frame, firstScan: scan)
            return JPEGImage(width: frame.width, height: frame.height, components: nc, precision: frame.precision,
                             samples: samples, isRGB: nc == 3 && pi == "RGB")
        default:
            let names = [2: "progressive DCT", 5: "differential sequential", 6: "differential progressive",
                         7: "differential lossless", 9: "arithmetic sequential", 10: "arithmetic progressive",
                         11: "arithmetic lossless", 13: "arithmetic differential sequential",
                         14: "arithmetic differential progressive", 15: "arithmetic differential lossless"]
            throw JPEGError(description: "unsupported JPEG process SOF\(frame.process) (\(names[frame.process] ?? "unknown"), \(frame.precision)-bit)")
        }
    }

    /// 8-bit DCT through libjpeg-turbo, with pydicom's colour rule (see the type's documentation).
    static func decode8(_ buffer: UnsafeBufferPointer<UInt8>, frame: JPEGFrameHeader, info: JPEGMarkerInfo, pi: String,
                        count: Int) throws -> JPEGImage {
        let nc = frame.components.count
        let adobe = info.adobeTransform != nil
        var raw = [UInt8](repeating: 0, count: count)
        var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = raw.withUnsafeMutableBufferPointer { out in
            cdc_jpeg8_decode(buffer.baseAddress, buffer.count, Int32(adobe ? CDC_JPEG8_RGB : CDC_JPEG8_RAW),
                             out.baseAddress, out.count, &w, &h, &c, &message, message.count)
        }
        guard status == CDC_OK else {
            let text = CodecImage.message(message)
            throw JPEGError(description: text == "unknown error" ? "libjpeg failed" : text)
        }
        guard Int(w) == frame.width, Int(h) == frame.height, Int(c) == nc else {
            throw JPEGError(description: "libjpeg decoded \(w)×\(h)×\(c), the header says \(frame.width)×\(frame.height)×\(nc)")
        }
        var isRGB = false
        if nc == 3 {
            let ids = frame.components.map(\.id)
            var effective = pi
            if ids == [82, 71, 66] || ids == [114, 103, 98] {
                effective = "RGB"
            } else if info.sawJFIF && !pi.contains("YBR") {
                effective = frame.process == 0 ? "YBR_FULL_422" : "YBR_FULL"
            }
            if adobe {
                isRGB = true
            } else if effective == "YBR_FULL" || effective == "YBR_FULL_422" {
                ColorConversion.ybrFullToRGB(&raw)
                isRGB = true
            } else {
                isRGB = effective == "RGB"
            }
        }
        return JPEGImage(width: frame.width, height: frame.height, components: nc, precision: 8,
                         samples: raw.map { UInt16($0) }, isRGB: isRGB)
    }
}

