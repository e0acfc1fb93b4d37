/// JPEG lossless, non-hierarchical, Huffman coded (process 14, SOF3; ITU T.81 annex H).
///
/// Components must not be subsampled (every H = V = 1, as in all DICOM lossless JPEG); scans may be
/// interleaved or one per component. Samples come back unshifted by the point transform's inverse, i.e.
/// `decoded << Pt`, like libjpeg and pydicom.
enum JPEGLosslessDecoder {
    static func decode(_ stream: inout JPEGStream, frame: JPEGFrameHeader, firstScan: JPEGScanHeader) throws -> [UInt16] {
        let width = frame.width, height = frame.height, nc = frame.components.count
        guard (2...16).contains(frame.precision) else {
            throw JPEGError(description: "lossless precision \(frame.precision) is outside 2…16")
        }
        guard frame.components.allSatisfy({ $0.h == 1 && $0.v == 1 }) else {
            throw JPEGError(description: "subsampled components in a lossless frame are not supported")
        }
        var out = [UInt16](repeating: 0, count: width * height * nc)
        var decoded = [Bool](repeating: false, count: nc)
        var pointTransform = -1
        var scan: JPEGScanHeader? = firstScan
        try out.withUnsafeMutableBufferPointer { outBuffer in
            guard let outBase = outBuffer.baseAddress else { throw JPEGError(description: "empty frame") }
            while let s = scan {
                guard (1...7).contains(s.ss) else { throw JPEGError(description: "lossless predictor selection value \(s.ss)") }
                guard s.al < frame.precision else {
                    throw JPEGError(description: "point transform \(s.al) is not below the precision \(frame.precision)")
                }
                if pointTransform >= 0 && pointTransform != s.al {
                    throw JPEGError(description: "scans use different point transforms (\(pointTransform), \(s.al))")
                }
                pointTransform = s.al
                var lookups: [JPEGHuffmanLookup] = []
                for c in s.components {
                    guard !decoded[c.index] else { throw JPEGError(description: "component \(c.index) appears in two scans") }
                    guard let t = stream.dcTables[c.dcTable] else {
                        throw JPEGError(description: "scan uses Huffman table \(c.dcTable), which was not defined")
                    }
                    guard t.maxValue <= 16 else {
                        throw JPEGError(description: "lossless Huffman table \(c.dcTable) has a difference category \(t.maxValue) above 16")
                    }
                    lookups.append(JPEGHuffmanLookup(t))
                    decoded[c.index] = true
                }
                try withExtendedLifetime(lookups) {
                    try stream.bytes.withMemoryRebound(to: UInt8.self) { bytes in
                        guard let base = bytes.baseAddress else { throw JPEGError(description: "empty JPEG stream") }
                        var reader = JPEGBitReader(base: base, end: bytes.count, pos: stream.position)
                        try decodeScan(&reader, out: outBase, width: width, height: height, nc: nc, scan: s,
                                       tables: lookups.map { UnsafePointer($0.table) }, precision: frame.precision,
                                       restartInterval: stream.restartInterval)
                        stream.position = reader.pos
                    }
                }
                if decoded.allSatisfy({ $0 }) { break }
                scan = try stream.nextScan()
            }
            guard decoded.allSatisfy({ $0 }) else {
                throw JPEGError(description: "the stream ends before every component was decoded")
            }
            if pointTransform > 0 {
                let shift = UInt16(pointTransform)
                for i in 0..<outBuffer.count { outBuffer[i] = outBuffer[i] &<< shift }
            }
        }
        return out
    }

    /// Decodes one scan; restart intervals count MCUs (one sample of each scan component).
    static func decodeScan(_ r: inout JPEGBitReader, out: UnsafeMutablePointer<UInt16>, width: Int, height: Int, nc: Int,
                           scan: JPEGScanHeader, tables: [UnsafePointer<Int32>], precision: Int,
                           restartInterval: Int) throws {
        let ns = scan.components.count
        let initial = 1 << (precision - scan.al - 1)
        // Per scan component: Huffman table and output offset.
        let t0 = tables[0], o0 = scan.components[0].index
        let t1 = ns > 1 ? tables[1] : t0, o1 = ns > 1 ? scan.components[1].index : 0
        let t2 = ns > 2 ? tables[2] : t0, o2 = ns > 2 ? scan.components[2].index : 0
        let t3 = ns > 3 ? tables[3] : t0, o3 = ns > 3 ? scan.components[3].index : 0
        let rowStride = width * nc
        var mcusLeft = restartInterval > 0 ? restartInterval : Int.max
        var restartCount = 0
        // After a restart (and at the start) the rest of the current row is coded as a first line.
        var firstLineRow = 0
        var resetAt = 0  // column whose sample takes the initial prediction in `firstLineRow`

        @inline(__always)
        func sample(_ t: UnsafePointer<Int32>, _ r: inout JPEGBitReader) throws(JPEGError) -> Int {
            if r.n < 32 { r.fill() }
            let s = try r.decode(t)
            if s == 0 { return 0 }
            if s == 16 { return 32768 }
            return r.receiveExtend(s)
        }

        func segment<P: JPEGPredictor>(_ p: P.Type, y: Int, x0: Int, x1: Int, _ r: inout JPEGBitReader) throws(JPEGError) {
            let row = out + y * rowStride
            if y == firstLineRow {
                for x in x0..<x1 {
                    let px = row + x * nc
                    for k in 0..<ns {
                        let t = k == 0 ? t0 : k == 1 ? t1 : k == 2 ? t2 : t3
                        let o = k == 0 ? o0 : k == 1 ? o1 : k == 2 ? o2 : o3
                        let pred = x == resetAt ? initial : Int(px[o - nc])
                        px[o] = UInt16(truncatingIfNeeded: pred &+ (try sample(t, &r)))
                    }
                }
                return
            }
            var x = x0
            if x == 0 {
                let px = row
                for k in 0..<ns {
                    let t = k == 0 ? t0 : k == 1 ? t1 : k == 2 ? t2 : t3
                    let o = k == 0 ? o0 : k == 1 ? o1 : k == 2 ? o2 : o3
                    px[o] = UInt16(truncatingIfNeeded: Int(px[o - rowStride]) &+ (try sample(t, &r)))
                }
                x = 1
            }
            if ns == 1 {
                var px = row + x * nc + o0
                let end = row + x1 * nc + o0
                while px < end {
                    let pred = P.predict(Int(px[-nc]), Int(px[-rowStride]), Int(px[-rowStride - nc]))
                    px.pointee = UInt16(truncatingIfNeeded: pred &+ (try sample(t0, &r)))
                    px += nc
                }
                return
            }
            while x < x1 {
                let px = row + x * nc
                for k in 0..<ns {
                    let t = k == 0 ? t0 : k == 1 ? t1 : k == 2 ? t2 : t3
                    let o = k == 0 ? o0 : k == 1 ? o1 : k == 2 ? o2 : o3
                    let pred = P.predict(Int(px[o - nc]), Int(px[o - rowStride]), Int(px[o - rowStride - nc]))
                    px[o] = UInt16(truncatingIfNeeded: pred &+ (try sample(t, &r)))
                }
                x += 1
            }
        }

        func rowSegment(y: Int, x0: Int, x1: Int, _ r: inout JPEGBitReader) throws(JPEGError) {
            switch scan.ss {
            case 1: try segment(JPEGPredictor1.self, y: y, x0: x0, x1: x1, &r)
            case 2: try segment(JPEGPredictor2.self, y: y, x0: x0, x1: x1, &r)
            case 3: try segment(JPEGPredictor3.self, y: y, x0: x0, x1: x1, &r)
            case 4: try segment(JPEGPredictor4.self, y: y, x0: x0, x1: x1, &r)
            case 5: try segment(JPEGPredictor5.self, y: y, x0: x0, x1: x1, &r)
            case 6: try segment(JPEGPredictor6.self, y: y, x0: x0, x1: x1, &r)
            default: try segment(JPEGPredictor7.self, y: y, x0: x0, x1: x1, &r)
            }
        }

        for y in 0..<height {
            var x = 0
            while x < width {
                if mcusLeft == 0 {
                    if r.overran { throw JPEGError(description: "entropy-coded data ends early (row \(y))") }
                    try r.restart(expecting: restartCount & 7)
                    restartCount += 1
                    mcusLeft = restartInterval
                    firstLineRow = y
                    resetAt = x
                }
                let x1 = min(width, x + mcusLeft)
                try rowSegment(y: y, x0: x, x1: x1, &r)
                if restartInterval > 0 { mcusLeft -= x1 - x }
                x = x1
            }
            if r.overran { throw JPEGError(description: "entropy-coded data ends early (row \(y) of \(height))") }
        }
    }
}

/// Prediction functions of T.81 table H.1 (Ra left, Rb above, Rc above-left).
protocol JPEGPredictor { static func predict(_ ra: Int, _ rb: Int, _ rc: Int) -> Int }
enum JPEGPredictor1: JPEGPredictor { @inline(__always) static func predict(_ ra: Int, _ rb: Int, _ rc: Int) -> Int { ra } }
enum JPEGPredictor2: JPEGPredictor { @inline(__always) static func predict(_ ra: Int, _ rb: Int, _ rc: Int) -> Int { rb } }
enum JPEGPredictor3: JPEGPredictor { @inline(__always) static func predict(_ ra: Int, _ rb: Int, _ rc: Int) -> Int { rc } }
enum JPEGPredictor4: JPEGPredictor { @inline(__always) static func predict(_ ra: Int, _ rb: Int, _ rc: Int) -> Int { ra + rb - rc } }
enum JPEGPredictor5: JPEGPredictor { @inline(__always) static func predict(_ ra: Int, _ rb: Int, _ rc: Int) -> Int { ra + ((rb - rc) >> 1) } }
enum JPEGPredictor6: JPEGPredictor { @inline(__always) static func predict(_ ra: Int, _ rb: Int, _ rc: Int) -> Int { rb + ((ra - rc) >> 1) } }
enum JPEGPredictor7: JPEGPredictor { @inline(__always) static func predict(_ ra: Int, _ rb: Int, _ rc: Int) -> Int { (ra + rb) >> 1 } }
