/// The most memory that decoding one file's pixels (and, for callers that take it further, turning them into
/// images) may claim. Checked against an upper estimate before the large allocations, so that a small legal
/// file whose header claims gigabytes (RLE of a huge constant image is tiny) is refused with an error
/// instead of taking the process down.
public struct DecodeBudget: Sendable, Equatable {
    /// The limit in bytes.
    public var maxBytes: Int

    /// 2 GiB: a 2048×2048 16-bit run of ~100 frames, or a 1024×1024 run of several hundred, fits.
    public static let defaultMaxBytes = 2 << 30
    /// The default budget.
    public static let standard = DecodeBudget(maxBytes: defaultMaxBytes)

    public init(maxBytes: Int) { self.maxBytes = maxBytes }

    /// Throws `DecodeBudgetError` when `bytes` exceed the limit; `what` says what needs them.
    public func check(_ bytes: Int, for what: String, file: String, description d: PixelDescription, frames: Int? = nil) throws {
        guard bytes > maxBytes else { return }
        throw DecodeBudgetError(file: file, what: what, rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel,
                                bitsAllocated: d.bitsAllocated, frames: frames ?? d.numberOfFrames, bytesNeeded: bytes, limit: maxBytes)
    }

    /// `a × b`, saturating at `Int.max` (estimates must never trap).
    public static func product(_ factors: Int...) -> Int {
        var p = 1
        for f in factors {
            let (r, overflow) = p.multipliedReportingOverflow(by: Swift.max(f, 0))
            if overflow { return .max }
            p = r
        }
        return p
    }

    /// `a + b + …`, saturating at `Int.max`.
    public static func sum(_ terms: Int...) -> Int {
        var s = 0
        for t in terms {
            let (r, overflow) = s.addingReportingOverflow(Swift.max(t, 0))
            if overflow { return .max }
            s = r
        }
        return s
    }
}

/// A file whose pixels would need more memory than the decode budget allows.
public struct DecodeBudgetError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    /// What needs the memory ("decoding", "decoding and the display pipeline", …).
    public let what: String
    public let rows: Int
    public let columns: Int
    public let samplesPerPixel: Int
    public let bitsAllocated: Int
    public let frames: Int
    public let bytesNeeded: Int
    public let limit: Int

    public var description: String {
        let samples = samplesPerPixel == 1 ? "" : " × \(samplesPerPixel) samples"
        return "\(file): \(rows)×\(columns)\(samples) × \(frames) frame(s) at \(bitsAllocated) bits: \(what) needs about "
            + "\(Self.megabytes(bytesNeeded)), over the decode memory limit of \(Self.megabytes(limit)) "
            + "(raise it with --max-decode-mb, or maxDecodeBytes in the library, if such files are expected)"
    }

    /// Bytes as whole MiB (the unit of --max-decode-mb).
    static func megabytes(_ bytes: Int) -> String {
        bytes == .max ? "more than the address space" : "\((bytes + (1 << 20) - 1) >> 20) MB"
    }
}
