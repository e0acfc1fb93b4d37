import CDICOMCodecs

/// JPEG-LS lossless and near-lossless (1.2.840.10008.1.2.4.80/.81) through CharLS.
enum JPEGLSDecoder {
    /// Decodes one frame to interleaved sample values after checking the header against the dataset.
    static func decode(_ bytes: [UInt8], description d: PixelDescription, source: String) throws -> CodecImage {
        func fail(_ reason: String) -> DICOMError { .pixelData(file: source, reason: "JPEG-LS: " + reason) }
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
        var values = [Int32](repeating: 0, count: count)
        if bytesPerSample == 1 {
            var out = [UInt8](repeating: 0, count: count)
            let s = bytes.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBytes { dst in
                    cdc_jls_decode(src.baseAddress, src.count, dst.baseAddress, dst.count, &error, error.count)
                }
            }
            guard s == CDC_OK else { throw fail(CodecImage.message(error)) }
            for i in 0..<count { values[i] = Int32(out[i]) }
        } else {
            var out = [UInt16](repeating: 0, count: count)
            let s = bytes.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBytes { dst in
                    cdc_jls_decode(src.baseAddress, src.count, dst.baseAddress, dst.count, &error, error.count)
                }
            }
            guard s == CDC_OK else { throw fail(CodecImage.message(error)) }
            for i in 0..<count { values[i] = Int32(out[i]) }
        }
        // Interleave mode 0 decodes one plane per component.
        if info.interleave_mode == 0 && components > 1 {
            values = CodecImage.interleave(planes: values, components: components)
        }
        return CodecImage(width: width, height: height, components: components, precision: precision,
                          isSigned: false, values: values)
    }
}
