/// Which fragments of encapsulated pixel data make up each frame (PS3.5 §A.4).
///
/// The sources of truth, in order: the Extended Offset Table (7FE0,0001) with its lengths (7FE0,0002); the
/// Basic Offset Table; one fragment per frame when the counts match; every fragment for a lone frame; and
/// finally end-of-image marker boundaries, as pydicom does when it has no table. Offsets count from the first fragment's item tag, and each fragment item adds an
/// 8-byte header to the byte stream the offsets index.
public struct EncapsulatedFrames: Sendable {
    /// One frame: a run of fragments, and how many of their concatenated bytes belong to it (nil: all).
    public struct Frame: Sendable, Equatable {
        public var fragments: Range<Int>
        public var length: Int?
    }

    public let frames: [Frame]
    private let data: EncapsulatedPixelData

    /// Maps the fragments of `data` onto `frameCount` frames; `extendedOffsets`/`extendedLengths` are the
    /// decoded values of (7FE0,0001) and (7FE0,0002) when the dataset has them.
    public init(_ data: EncapsulatedPixelData, frameCount: Int, extendedOffsets: [UInt64]? = nil,
                extendedLengths: [UInt64]? = nil, source: String) throws {
        self.data = data
        func fail(_ reason: String) -> DICOMError { .pixelData(file: source, reason: reason) }
        let fragments = data.fragments
        guard !fragments.isEmpty else { throw fail("encapsulated Pixel Data has no fragments") }
        guard frameCount >= 1 else { throw fail("Number of Frames \(frameCount) for encapsulated Pixel Data") }

        // Start of each fragment's item tag in the stream the offset tables index.
        var starts: [Int] = []
        starts.reserveCapacity(fragments.count + 1)
        var position = 0
        for f in fragments {
            starts.append(position)
            position += 8 + f.count
        }
        let streamEnd = position
        func fragmentIndex(at offset: UInt64, table: String, frame: Int) throws -> Int {
            guard offset <= UInt64(streamEnd) else {
                throw fail("\(table) offset \(offset) of frame \(frame) is past the end of the fragments (\(streamEnd) bytes)")
            }
            var lo = 0, hi = starts.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if starts[mid] < Int(offset) { lo = mid + 1 } else { hi = mid }
            }
            guard lo < starts.count, starts[lo] == Int(offset) else {
                throw fail("\(table) offset \(offset) of frame \(frame) does not point at a fragment item tag")
            }
            return lo
        }
        func framesFromOffsets(_ offsets: [UInt64], lengths: [UInt64]?, table: String) throws -> [Frame] {
            guard offsets.count == frameCount else {
                throw fail("\(table) has \(offsets.count) entries but the file has \(frameCount) frames")
            }
            guard offsets.first == 0 else {
                throw fail("\(table) starts at offset \(offsets.first ?? 0), not 0 (the first fragment)")
            }
            let firsts = try offsets.enumerated().map { try fragmentIndex(at: $0.element, table: table, frame: $0.offset) }
            var result: [Frame] = []
            for i in 0..<frameCount {
                let end = i + 1 < frameCount ? firsts[i + 1] : fragments.count
                guard firsts[i] < end else {
                    throw fail("\(table) offsets are not increasing at frame \(i) (\(offsets[i]) then \(i + 1 < frameCount ? offsets[i + 1] : 0))")
                }
                var length: Int?
                if let lengths {
                    let available = fragments[firsts[i]..<end].reduce(0) { $0 + $1.count }
                    guard lengths[i] <= UInt64(available) else {
                        throw fail("\(table) length \(lengths[i]) of frame \(i) exceeds its \(available) fragment bytes")
                    }
                    length = Int(lengths[i])
                }
                result.append(Frame(fragments: firsts[i]..<end, length: length))
            }
            return result
        }

        if let extendedOffsets {
            guard let extendedLengths else {
                throw fail("Extended Offset Table (7FE0,0001) without Extended Offset Table Lengths (7FE0,0002)")
            }
            guard extendedLengths.count == extendedOffsets.count else {
                throw fail("Extended Offset Table has \(extendedOffsets.count) offsets but \(extendedLengths.count) lengths")
            }
            frames = try framesFromOffsets(extendedOffsets, lengths: extendedLengths, table: "Extended Offset Table")
        } else if !data.basicOffsetTable.isEmpty {
            frames = try framesFromOffsets(data.basicOffsetTable.map(UInt64.init), lengths: nil, table: "Basic Offset Table")
        } else if fragments.count == frameCount {
            frames = (0..<frameCount).map { Frame(fragments: $0..<$0 + 1, length: nil) }
        } else if frameCount == 1 {
            frames = [Frame(fragments: 0..<fragments.count, length: nil)]
        } else if fragments.count < frameCount {
            throw fail("\(fragments.count) fragments cannot hold \(frameCount) frames and there is no offset table")
        } else {
            // JPEG, JPEG-LS and JPEG 2000 streams end with FF D9 (EOI / EOC); like pydicom, a fragment with that
            // marker in its last 10 bytes ends a frame, and fragments left over after the last marker make one.
            var found: [Frame] = []
            var first = 0
            for (i, f) in fragments.enumerated() where Self.endsWithEOI(f) {
                found.append(Frame(fragments: first..<i + 1, length: nil))
                first = i + 1
            }
            if first < fragments.count { found.append(Frame(fragments: first..<fragments.count, length: nil)) }
            guard found.count >= frameCount else {
                throw fail("\(fragments.count) fragments for \(frameCount) frames, no offset table, and the " +
                           "end-of-image markers delimit only \(found.count) frames")
            }
            frames = Array(found.prefix(frameCount))
        }
    }

    /// Whether FF D9 occurs in the last 10 bytes of a fragment (allowing for padding after the marker).
    static func endsWithEOI(_ f: [UInt8]) -> Bool {
        var i = max(f.count - 10, 0)
        while i + 1 < f.count {
            if f[i] == 0xFF && f[i + 1] == 0xD9 { return true }
            i += 1
        }
        return false
    }

    public var count: Int { frames.count }

    /// The encoded bytes of frame `index`: its fragments concatenated (and cut to the table's length).
    public func bytes(ofFrame index: Int) -> [UInt8] {
        let frame = frames[index]
        let fragments = data.fragments[frame.fragments]
        if fragments.count == 1, let only = fragments.first, frame.length == nil || frame.length == only.count {
            return only
        }
        var out: [UInt8] = []
        out.reserveCapacity(frame.length ?? fragments.reduce(0) { $0 + $1.count })
        for f in fragments { out.append(contentsOf: f) }
        if let length = frame.length, length < out.count { out.removeLast(out.count - length) }
        return out
    }

    /// Reads the Extended Offset Table values, 64-bit little endian, from a dataset (nil when absent).
    static func extendedTable(_ ds: DICOMDataset, _ tag: DICOMTag, source: String) throws -> [UInt64]? {
        guard let e = ds[tag] else { return nil }
        guard case let .bytes(b) = e.value, b.count % 8 == 0 else {
            throw DICOMError.pixelData(file: source, reason: "\(tag) is not a whole number of 64-bit values")
        }
        return stride(from: 0, to: b.count, by: 8).map { i in
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(b[i + k]) << (e.bigEndian ? UInt64(56 - 8 * k) : UInt64(8 * k)) }
            return v
        }
    }
}
