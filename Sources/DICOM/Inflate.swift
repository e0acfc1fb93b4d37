import CDICOMCodecs

/// Raw DEFLATE (RFC 1951) decompression through zlib, for the deflated explicit VR little endian transfer
/// syntax. The output is capped, so a hostile stream (a decompression bomb) cannot exhaust memory. zlib
/// replaced a hand-written decoder: 103 against 24 MB/s of output on a 257 MB stream of synthetic XA
/// files (tools/make_inflate_bench.py, InflateSpeedTests), same machine and run.
public enum Inflate {
    public enum Failure: Error, Equatable, CustomStringConvertible, Sendable {
        case truncated
        case outputTooLarge(limit: Int)
        /// zlib's own words ("invalid block type", "invalid distance too far back", …).
        case invalidStream(String)

        public var description: String {
            switch self {
            case .truncated: return "stream ends early"
            case let .outputTooLarge(l): return "output exceeds \(l) bytes"
            case let .invalidStream(s): return s
            }
        }
    }

    /// Inflates a raw DEFLATE stream (no zlib or gzip header). Trailing bytes after the final block are
    /// ignored; more than `maxOutput` bytes of output is an error.
    public static func inflate(_ input: [UInt8], maxOutput: Int) throws(Failure) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var count = 0
        var message = [CChar](repeating: 0, count: 256)
        let rc = input.withUnsafeBufferPointer { inp in
            cdc_inflate_raw(inp.baseAddress, inp.count, max(0, maxOutput), &out, &count, &message, message.count)
        }
        switch rc {
        case CDC_OK:
            guard let out else { return [] }
            defer { cdc_inflate_free(out) }
            return Array(UnsafeBufferPointer(start: out, count: count))
        case CDC_INFLATE_TRUNCATED: throw .truncated
        case CDC_INFLATE_TOO_LARGE: throw .outputTooLarge(limit: maxOutput)
        default: throw .invalidStream(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}
