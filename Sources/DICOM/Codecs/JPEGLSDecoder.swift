import CDICOMCodecs

/// JPEG-LS lossless and near-lossless (1.2.840.10008.1.2.4.80/.81) through CharLS.
enum JPEGLSDecoder {
    /// Decodes one frame to interleaved sample values after checking the header against the dataset.
    static func decode(_ bytes: [UInt8], description d: PixelDescription, source: String) throws -> CodecImage {
        func fail(_ reason: String) -> DICOMError { .pixelData(file: source, reason: "JPEG-LS: " + reason) }
        // CharLS 2.4 spends seconds on a stream that ends without a marker (it decodes past the end of the
        // data before failing), so a stream must end with EOI (FF D9), allowing for trailing padding bytes.
        var end = bytes.count
        while end > 0 && bytes[end - 1] == 0 && bytes.count - end < 8 { end -= 1 }
        guard end >= 2, bytes[end - 2] == 0xFF, bytes[end - 1] == 0xD9 else {
            throw fail("stream of \(bytes.count) bytes does not end with an end-of-image marker (FF D9): truncated or corrupt")
        }
        var error = [CChar](repeating: 0, count: 512)
        var info = cdc_jls_info()
        let status = bytes.withUnsafeBufferPointer { src in
            cdc_jls_read_header(src.baseAddress, src.count, &info, &error, error.count)
        }
        guard status == CDC_OK else { throw fail(CodecImage.message(error)) }
        let width = Int(info.width), height = Int(info.height), components = Int(info.component_count)
        let precision = Int(info.bits_per_sample)
        try CodecImage.check(width: width, height: height, components: components, precision: precision,
                             against: d, codec: "JPEG-LS", source: source)
        let bytesPerSample = precision <= 8 ? 1 : 2
        let count = width * height * components
        func decode<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws -> [Int32] {
            var out = [T](repeating: 0, count: count)
            let s = bytes.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBytes { dst in
                    cdc_jls_decode(src.baseAddress, src.count, dst.baseAddress, dst.count, &error, error.count)
                }
            }
            guard s == CDC_OK else { throw fail(CodecImage.message(error)) }
            return out.map { Int32(truncatingIfNeeded: $0) }
        }
        var values = bytesPerSample == 1 ? try decode(UInt8.self) : try decode(UInt16.self)
        // Interleave mode 0 decodes one plane per component.
        if info.interleave_mode == 0 && components > 1 {
            values = CodecImage.interleave(planes: values, components: components)
        }
        return CodecImage(width: width, height: height, components: components, precision: precision,
                          isSigned: false, values: values)
    }
}
