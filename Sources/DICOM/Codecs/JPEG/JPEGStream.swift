/// The marker segments of one JPEG stream (ITU T.81 annex B), parsed up to each scan.
///
/// `JPEGStream` walks SOI … EOI, keeps the frame header, Huffman and quantisation tables and the
/// restart interval current at each scan, and hands the entropy-coded bytes of every scan to a decoder.
struct JPEGFrameComponent: Sendable {
    var id: UInt8
    var h: Int
    var v: Int
    var quantTable: Int
}

struct JPEGFrameHeader: Sendable {
    /// The SOF marker's low nibble: 0 baseline, 1 extended, 2 progressive, 3 lossless, …
    var process: Int
    var precision: Int
    var height: Int
    var width: Int
    var components: [JPEGFrameComponent]
    var hMax: Int { components.map(\.h).max() ?? 1 }
    var vMax: Int { components.map(\.v).max() ?? 1 }
}

struct JPEGScanComponent: Sendable {
    /// Index into the frame's components.
    var index: Int
    var dcTable: Int
    var acTable: Int
}

struct JPEGScanHeader: Sendable {
    var components: [JPEGScanComponent]
    /// Ss (lossless: the predictor selection value), Se, Ah, Al (lossless: the point transform).
    var ss: Int
    var se: Int
    var ah: Int
    var al: Int
}

/// Marker-level information the colour rules need.
struct JPEGMarkerInfo: Sendable {
    var sawJFIF = false
    var adobeTransform: Int? = nil
}

/// Reads marker segments; the decoders call `nextScan` and then decode the entropy-coded data that follows.
struct JPEGStream {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    var frame: JPEGFrameHeader?
    var dcTables: [JPEGHuffmanTable?] = [nil, nil, nil, nil]
    var acTables: [JPEGHuffmanTable?] = [nil, nil, nil, nil]
    /// Quantisation tables in natural (row-major) order.
    var quantTables: [[Int32]?] = [nil, nil, nil, nil]
    var restartInterval = 0
    var info = JPEGMarkerInfo()

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func error(_ what: String) -> JPEGError {
        JPEGError(description: what)
    }

    /// Checks SOI at the start.
    mutating func start() throws {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else {
            throw error("does not start with the SOI marker FFD8")
        }
        position = 2
    }

    /// The next marker code, skipping fill bytes (0xFF runs); nil at the end of the data.
    mutating func nextMarker() throws -> UInt8? {
        // Tolerate stray bytes between segments the way libjpeg does (it warns and skips them).
        while position < bytes.count && bytes[position] != 0xFF { position += 1 }
        while position < bytes.count && bytes[position] == 0xFF { position += 1 }
        guard position < bytes.count else { return nil }
        let m = bytes[position]
        position += 1
        return m
    }

    /// Reads marker segments until a SOS; returns its header, or nil at EOI / end of data.
    /// On return `position` is the first byte of the entropy-coded data.
    mutating func nextScan() throws -> JPEGScanHeader? {
        while true {
            guard let marker = try nextMarker() else { return nil }
            switch marker {
            case 0xD9: return nil
            case 0xD8: throw error("a second SOI marker at offset \(position - 2)")
            case 0xD0...0xD7, 0x01: continue  // stray RSTn or TEM: no segment
            default: break
            }
            let segment = try readSegment(marker)
            switch marker {
            case 0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
                guard frame == nil else { throw error("more than one frame header (SOF)") }
                frame = try parseFrame(Int(marker & 0x0F), segment)
            case 0xC4: try parseHuffman(segment)
            case 0xDB: try parseQuant(segment)
            case 0xDD:
                guard segment.count >= 2 else { throw error("DRI segment shorter than 2 bytes") }
                restartInterval = Int(segment[0]) << 8 | Int(segment[1])
            case 0xDA: return try parseScan(segment)
            case 0xE0:
                if segment.count >= 5, Array(segment[0..<5]) == [0x4A, 0x46, 0x49, 0x46, 0] { info.sawJFIF = true }
            case 0xEE:
                if segment.count >= 12, Array(segment[0..<5]) == [0x41, 0x64, 0x6F, 0x62, 0x65] {
                    info.adobeTransform = Int(segment[11])
                }
            case 0xCC: throw error("arithmetic coding (DAC) is not supported")
            default: break  // APPn, COM, DNL, DHP, EXP and others: skipped
            }
        }
    }

    /// The payload of a length-prefixed segment (without the two length bytes).
    mutating func readSegment(_ marker: UInt8) throws -> ArraySlice<UInt8> {
        guard position + 2 <= bytes.count else {
            throw error("truncated in the length of marker FF\(hex(marker)) at offset \(position)")
        }
        let length = Int(bytes[position]) << 8 | Int(bytes[position + 1])
        guard length >= 2, position + length <= bytes.count else {
            throw error("marker FF\(hex(marker)) at offset \(position - 2) declares length \(length), \(bytes.count - position) bytes left")
        }
        let segment = Array(bytes[(position + 2)..<(position + length)])[...]
        position += length
        return segment
    }

    func parseFrame(_ process: Int, _ s: ArraySlice<UInt8>) throws -> JPEGFrameHeader {
        let s = Array(s)
        guard s.count >= 6 else { throw error("SOF segment shorter than 6 bytes") }
        let precision = Int(s[0]), height = Int(s[1]) << 8 | Int(s[2]), width = Int(s[3]) << 8 | Int(s[4])
        let n = Int(s[5])
        guard n >= 1, n <= 4, s.count >= 6 + 3 * n else { throw error("SOF declares \(n) components in \(s.count) bytes") }
        guard width > 0, height > 0 else {
            throw error("frame size \(width)×\(height) (a zero height needs DNL, which is not supported)")
        }
        var comps: [JPEGFrameComponent] = []
        for i in 0..<n {
            let b = 6 + 3 * i
            let h = Int(s[b + 1] >> 4), v = Int(s[b + 1] & 15), q = Int(s[b + 2])
            guard (1...4).contains(h), (1...4).contains(v) else { throw error("component \(i) has sampling factors \(h)×\(v)") }
            guard q < 4 else { throw error("component \(i) uses quantisation table \(q)") }
            guard !comps.contains(where: { $0.id == s[b] }) else { throw error("duplicate component id \(s[b])") }
            comps.append(JPEGFrameComponent(id: s[b], h: h, v: v, quantTable: q))
        }
        return JPEGFrameHeader(process: process, precision: precision, height: height, width: width, components: comps)
    }

    mutating func parseHuffman(_ s: ArraySlice<UInt8>) throws {
        let s = Array(s)
        var i = 0
        while i < s.count {
            let tc = Int(s[i] >> 4), th = Int(s[i] & 15)
            guard tc <= 1, th <= 3 else { throw error("DHT table class \(tc) id \(th)") }
            guard i + 17 <= s.count else { throw error("DHT segment truncated in the code-length counts") }
            let counts = Array(s[(i + 1)..<(i + 17)])
            let total = counts.reduce(0) { $0 + Int($1) }
            guard total <= 256, i + 17 + total <= s.count else { throw error("DHT declares \(total) codes, segment too short") }
            let values = Array(s[(i + 17)..<(i + 17 + total)])
            let table = try JPEGHuffmanTable(counts: counts, values: values)
            if tc == 0 { dcTables[th] = table } else { acTables[th] = table }
            i += 17 + total
        }
    }

    mutating func parseQuant(_ s: ArraySlice<UInt8>) throws {
        let s = Array(s)
        var i = 0
        while i < s.count {
            let pq = Int(s[i] >> 4), tq = Int(s[i] & 15)
            guard pq <= 1, tq <= 3 else { throw error("DQT precision \(pq) id \(tq)") }
            let size = pq == 0 ? 64 : 128
            guard i + 1 + size <= s.count else { throw error("DQT segment truncated") }
            var table = [Int32](repeating: 0, count: 64)
            for k in 0..<64 {
                let v = pq == 0 ? Int32(s[i + 1 + k]) : Int32(s[i + 1 + 2 * k]) << 8 | Int32(s[i + 2 + 2 * k])
                table[JPEGZigZag.natural[k]] = v
            }
            quantTables[tq] = table
            i += 1 + size
        }
    }

    func parseScan(_ s: ArraySlice<UInt8>) throws -> JPEGScanHeader {
        let s = Array(s)
        guard let frame else { throw error("SOS before any frame header (SOF)") }
        guard s.count >= 1 else { throw error("empty SOS segment") }
        let n = Int(s[0])
        guard n >= 1, n <= 4, s.count >= 1 + 2 * n + 3 else { throw error("SOS declares \(n) components in \(s.count) bytes") }
        var comps: [JPEGScanComponent] = []
        for i in 0..<n {
            let id = s[1 + 2 * i], t = s[2 + 2 * i]
            guard let index = frame.components.firstIndex(where: { $0.id == id }) else {
                throw error("scan names component id \(id), not in the frame")
            }
            guard !comps.contains(where: { $0.index == index }) else { throw error("scan names component id \(id) twice") }
            let td = Int(t >> 4), ta = Int(t & 15)
            guard td <= 3, ta <= 3 else { throw error("scan component \(id) uses table \(td)/\(ta)") }
            comps.append(JPEGScanComponent(index: index, dcTable: td, acTable: ta))
        }
        let b = 1 + 2 * n
        return JPEGScanHeader(components: comps, ss: Int(s[b]), se: Int(s[b + 1]), ah: Int(s[b + 2] >> 4), al: Int(s[b + 2] & 15))
    }

    /// Skips the entropy-coded data of a scan that was not decoded: up to the next marker that is not RSTn.
    mutating func skipEntropyData() {
        while position + 1 < bytes.count {
            if bytes[position] == 0xFF {
                let m = bytes[position + 1]
                if m != 0 && m != 0xFF && !(0xD0...0xD7).contains(m) { return }
            }
            position += 1
        }
        position = bytes.count
    }
}

func hex(_ b: UInt8) -> String {
    let s = String(b, radix: 16, uppercase: true)
    return s.count == 1 ? "0" + s : s
}

enum JPEGZigZag {
    /// natural[k] is the row-major index of the k-th coefficient in zig-zag order.
    static let natural: [Int] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
        28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
        54, 47, 55, 62, 63,
    ]
}
