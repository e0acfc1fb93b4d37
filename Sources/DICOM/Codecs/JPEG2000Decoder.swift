import CDICOMCodecs

/// JPEG 2000 (1.2.840.10008.1.2.4.90/.91) and High-Throughput JPEG 2000 (.4.201–.4.203) through OpenJPEG,
/// which undoes the codestream's multiple component transform itself.
enum JPEG2000Decoder {
    /// Decodes one frame to interleaved sample values after checking the header against the dataset.
    static func decode(_ bytes: [UInt8], description d: PixelDescription, source: String) throws -> CodecImage {
        func fail(_ reason: String) -> DICOMError { .pixelData(file: source, reason: "JPEG 2000: " + reason) }
        var error = [CChar](repeating: 0, count: 512)
        var info = cdc_j2k_info()
        let status = bytes.withUnsafeBufferPointer { src in
            cdc_j2k_read_header(src.baseAddress, src.count, &info, &error, error.count)
        }
        guard status == CDC_OK else { throw fail(CodecImage.message(error)) }
        guard info.uniform == 1 else {
            throw fail("components differ in precision, signedness or subsampling, which DICOM does not allow")
        }
        let width = Int(info.width), height = Int(info.height), components = Int(info.components)
        let precision = Int(info.precision)
        try CodecImage.check(width: width, height: height, components: components, precision: precision,
                             against: d, codec: "JPEG 2000", source: source)
        var values = [Int32](repeating: 0, count: width * height * components)
        let s = bytes.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                cdc_j2k_decode(src.baseAddress, src.count, dst.baseAddress, dst.count, &error, error.count)
            }
        }
        guard s == CDC_OK else { throw fail(CodecImage.message(error)) }
        return CodecImage(width: width, height: height, components: components, precision: precision,
                          isSigned: info.is_signed != 0, values: values)
    }
}
