/// Huffman-coded sequential DCT JPEG (processes 1, 2 and 4: SOF0 / SOF1, 8 or 12 bit; T.81 annex F).
///
/// Arithmetic follows IJG libjpeg 6b, which dcmtk's dcmdjpeg uses: the "slow but accurate" integer IDCT of
/// jidctint.c (13-bit constants, 2 or 1 pass-1 bits for 8 or 12 bit samples), its wrap-around range
/// limiting, and its "fancy" triangle upsampling for 2×1 and 2×2 subsampling (replication otherwise).
/// Colour components are returned as stored (no YCbCr conversion).
enum JPEGDCTDecoder {
    struct Plane {
        var width: Int  // padded to whole blocks of the interleaved MCU grid
        var height: Int
        var samples: [Int32]
    }

    static func decode(_ stream: inout JPEGStream, frame: JPEGFrameHeader, firstScan: JPEGScanHeader) throws -> [UInt16] {
        guard frame.precision == 8 || frame.precision == 12 else {
            throw JPEGError(description: "DCT precision \(frame.precision) (8 or 12 expected)")
        }
        let hMax = frame.hMax, vMax = frame.vMax, nc = frame.components.count
        guard frame.components.allSatisfy({ hMax % $0.h == 0 && vMax % $0.v == 0 }) else {
            throw JPEGError(description: "sampling factors \(frame.components.map { "\($0.h)×\($0.v)" }) are not integer ratios")
        }
        let mcusX = (frame.width + 8 * hMax - 1) / (8 * hMax), mcusY = (frame.height + 8 * vMax - 1) / (8 * vMax)
        var planes: [Plane] = frame.components.map { c in
            let w = mcusX * c.h * 8, h = mcusY * c.v * 8
            return Plane(width: w, height: h, samples: [Int32](repeating: 0, count: w * h))
        }
        var decoded = [Bool](repeating: false, count: nc)
        var scan: JPEGScanHeader? = firstScan
        while let s = scan {
            guard s.ss == 0, s.se == 63, s.ah == 0, s.al == 0 else {
                throw JPEGError(description: "scan parameters Ss=\(s.ss) Se=\(s.se) Ah=\(s.ah) Al=\(s.al) are not sequential")
            }
            for c in s.components {
                guard !decoded[c.index] else { throw JPEGError(description: "component \(c.index) appears in two scans") }
                decoded[c.index] = true
            }
            try decodeScan(&stream, frame: frame, scan: s, planes: &planes, mcusX: mcusX, mcusY: mcusY)
            if decoded.allSatisfy({ $0 }) { break }
            scan = try stream.nextScan()
        }
        guard decoded.allSatisfy({ $0 }) else {
            throw JPEGError(description: "the stream ends before every component was decoded")
        }
        return assemble(planes, frame: frame)
    }

    static func decodeScan(_ stream: inout JPEGStream, frame: JPEGFrameHeader, scan: JPEGScanHeader, planes: inout [Plane],
                           mcusX: Int, mcusY: Int) throws {
        let ns = scan.components.count
        var dcLookups: [JPEGHuffmanLookup] = [], acLookups: [JPEGHuffmanLookup] = [], quant: [[Int32]] = []
        for c in scan.components {
            guard let dc = stream.dcTables[c.dcTable], let ac = stream.acTables[c.acTable] else {
                throw JPEGError(description: "scan uses Huffman tables DC\(c.dcTable)/AC\(c.acTable), not all defined")
            }
            let qi = frame.components[c.index].quantTable
            guard let q = stream.quantTables[qi] else { throw JPEGError(description: "quantisation table \(qi) is not defined") }
            dcLookups.append(JPEGHuffmanLookup(dc))
            acLookups.append(JPEGHuffmanLookup(ac))
            quant.append(q)
        }
        // Blocks per MCU and where each lies: (scan component, block x offset, block y offset).
        var blocks: [(k: Int, bx: Int, by: Int)] = []
        let mcuCols: Int, mcuRows: Int
        if ns == 1 {
            let c = frame.components[scan.components[0].index]
            let cw = (frame.width * c.h + frame.hMax - 1) / frame.hMax, ch = (frame.height * c.v + frame.vMax - 1) / frame.vMax
            mcuCols = (cw + 7) / 8
            mcuRows = (ch + 7) / 8
            blocks = [(0, 0, 0)]
        } else {
            mcuCols = mcusX
            mcuRows = mcusY
            for (k, sc) in scan.components.enumerated() {
                let c = frame.components[sc.index]
                for by in 0..<c.v { for bx in 0..<c.h { blocks.append((k, bx, by)) } }
            }
            guard blocks.count <= 10 else { throw JPEGError(description: "\(blocks.count) blocks per MCU (at most 10 allowed)") }
        }
        let precision = frame.precision
        let maxCategory = precision == 8 ? 11 : 15
        var coef = [Int32](repeating: 0, count: 64)
        var pred = [Int](repeating: 0, count: ns)
        let restartInterval = stream.restartInterval
        var mcusLeft = restartInterval > 0 ? restartInterval : Int.max
        var restartCount = 0
        let natural = JPEGDCTDecoder.naturalExtended
        try withExtendedLifetime((dcLookups, acLookups)) {
            guard let base = stream.bytes.baseAddress else { throw JPEGError(description: "empty JPEG stream") }
            var reader = JPEGBitReader(base: base, end: stream.bytes.count, pos: stream.position)
            let dcT = dcLookups.map { UnsafePointer($0.table) }, acT = acLookups.map { UnsafePointer($0.table) }
            for my in 0..<mcuRows {
                for mx in 0..<mcuCols {
                    if mcusLeft == 0 {
                        if reader.overran { throw JPEGError(description: "entropy-coded data ends early (MCU row \(my))") }
                        try reader.restart(expecting: restartCount & 7)
                        restartCount += 1
                        mcusLeft = restartInterval
                        for i in 0..<ns { pred[i] = 0 }
                    }
                    for b in blocks {
                        for i in 0..<64 { coef[i] = 0 }
                        if reader.n < 32 { reader.fill() }
                        let s = try reader.decode(dcT[b.k])
                        guard s <= maxCategory else { throw JPEGError(description: "DC difference category \(s) for \(precision)-bit data") }
                        pred[b.k] &+= s == 0 ? 0 : reader.receiveExtend(s)
                        coef[0] = Int32(Int16(truncatingIfNeeded: pred[b.k]))
                        var k = 1
                        let ac = acT[b.k]
                        while k < 64 {
                            if reader.n < 32 { reader.fill() }
                            let rs = try reader.decode(ac)
                            let r = rs >> 4, sz = rs & 15
                            if sz == 0 {
                                if r != 15 { break }
                                k += 16
                                continue
                            }
                            k += r
                            coef[natural[k]] = Int32(Int16(truncatingIfNeeded: reader.receiveExtend(sz)))
                            k += 1
                        }
                        let sc = scan.components[b.k]
                        let ci = sc.index
                        let px = (ns == 1 ? mx : mx * frame.components[ci].h + b.bx) * 8
                        let py = (ns == 1 ? my : my * frame.components[ci].v + b.by) * 8
                        let pw = planes[ci].width
                        guard px + 8 <= pw, py + 8 <= planes[ci].height else { continue }
                        coef.withUnsafeBufferPointer { c in
                            quant[b.k].withUnsafeBufferPointer { q in
                                planes[ci].samples.withUnsafeMutableBufferPointer { out in
                                    // Coefficients and tables hold 64 entries and the plane at least this block
                                    // (checked above), so none is empty.
                                    guard let cb = c.baseAddress, let qb = q.baseAddress, let ob = out.baseAddress else { return }
                                    inverseDCT(cb, qb, precision: precision, out: ob + py * pw + px, stride: pw)
                                }
                            }
                        }
                    }
                    if restartInterval > 0 { mcusLeft -= 1 }
                }
                if reader.overran { throw JPEGError(description: "entropy-coded data ends early (MCU row \(my) of \(mcuRows))") }
            }
            stream.position = reader.pos
        }
    }

    /// Zig-zag to natural order with 16 extra entries so that a corrupt run past coefficient 63 lands on 63
    /// (what libjpeg does) instead of outside the block.
    static let naturalExtended: [Int] = JPEGZigZag.natural + [Int](repeating: 63, count: 16)

    // jidctint.c constants, 13 fractional bits.
    static let fix0_298631336 = 2446, fix0_390180644 = 3196, fix0_541196100 = 4433, fix0_765366865 = 6270
    static let fix0_899976223 = 7373, fix1_175875602 = 9633, fix1_501321110 = 12299, fix1_847759065 = 15137
    static let fix1_961570560 = 16069, fix2_053119869 = 16819, fix2_562915447 = 20995, fix3_072711026 = 25172

    /// IJG's islow IDCT of one block (coefficients in natural order, dequantised here) into `out`.
    static func inverseDCT(_ coef: UnsafePointer<Int32>, _ q: UnsafePointer<Int32>, precision: Int,
                           out: UnsafeMutablePointer<Int32>, stride: Int) {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 64) { ws in
            // Cannot fire: a 64-element temporary allocation always has a base address.
            inverseDCT(coef, q, precision: precision, out: out, stride: stride, ws: ws.baseAddress!)
        }
    }

    static func inverseDCT(_ coef: UnsafePointer<Int32>, _ q: UnsafePointer<Int32>, precision: Int,
                           out: UnsafeMutablePointer<Int32>, stride: Int, ws: UnsafeMutablePointer<Int>) {
        let constBits = 13, pass1Bits = precision == 8 ? 2 : 1
        let maxSample = (1 << precision) - 1, center = 1 << (precision - 1), mask = 4 * (maxSample + 1) - 1
        @inline(__always) func descale(_ x: Int, _ n: Int) -> Int { (x + (1 << (n - 1))) >> n }
        @inline(__always) func limit(_ x: Int) -> Int32 {
            // libjpeg's range-limit table: wrap to 4×(MAXJSAMPLE+1), then clamp around CENTERJSAMPLE.
            var i = x & mask
            if i >= 2 * (maxSample + 1) { i -= 4 * (maxSample + 1) }
            return Int32(min(max(i + center, 0), maxSample))
        }
        for col in 0..<8 {
            func dq(_ r: Int) -> Int { Int(coef[r * 8 + col]) * Int(q[r * 8 + col]) }
            if coef[8 + col] == 0 && coef[16 + col] == 0 && coef[24 + col] == 0 && coef[32 + col] == 0
                && coef[40 + col] == 0 && coef[48 + col] == 0 && coef[56 + col] == 0 {
                let dc = Int(Int32(truncatingIfNeeded: dq(0) << pass1Bits))
                for r in 0..<8 { ws[r * 8 + col] = dc }
                continue
            }
            let v = butterfly(dq(0), dq(1), dq(2), dq(3), dq(4), dq(5), dq(6), dq(7), constBits: constBits)
            let n = constBits - pass1Bits
            for r in 0..<8 { ws[r * 8 + col] = Int(Int32(truncatingIfNeeded: descale(v[r], n))) }
        }
        let n = constBits + pass1Bits + 3
        for row in 0..<8 {
            let b = row * 8
            let o = out + row * stride
            if ws[b + 1] == 0 && ws[b + 2] == 0 && ws[b + 3] == 0 && ws[b + 4] == 0 && ws[b + 5] == 0 && ws[b + 6] == 0 && ws[b + 7] == 0 {
                let v = limit(descale(ws[b], pass1Bits + 3))
                for i in 0..<8 { o[i] = v }
                continue
            }
            let v = butterfly(ws[b], ws[b + 1], ws[b + 2], ws[b + 3], ws[b + 4], ws[b + 5], ws[b + 6], ws[b + 7],
                              constBits: constBits)
            for i in 0..<8 { o[i] = limit(descale(v[i], n)) }
        }
    }

    /// One 8-point pass of IJG's islow IDCT (LL&M butterfly with 13-bit fixed-point constants): inputs
    /// x0…x7, outputs scaled by 2^constBits, in output order 0…7.
    @inline(__always)
    static func butterfly(_ x0: Int, _ x1: Int, _ x2: Int, _ x3: Int, _ x4: Int, _ x5: Int, _ x6: Int, _ x7: Int,
                          constBits: Int) -> SIMD8<Int> {
        // Even part.
        let z1 = (x2 + x6) * fix0_541196100
        let e2 = z1 + x6 * -fix1_847759065
        let e3 = z1 + x2 * fix0_765366865
        let e0 = (x0 + x4) << constBits
        let e1 = (x0 - x4) << constBits
        let t10 = e0 + e3, t13 = e0 - e3, t11 = e1 + e2, t12 = e1 - e2
        // Odd part.
        var o0 = x7, o1 = x5, o2 = x3, o3 = x1
        var y1 = o0 + o3, y2 = o1 + o2, y3 = o0 + o2, y4 = o1 + o3
        let y5 = (y3 + y4) * fix1_175875602
        o0 *= fix0_298631336
        o1 *= fix2_053119869
        o2 *= fix3_072711026
        o3 *= fix1_501321110
        y1 *= -fix0_899976223
        y2 *= -fix2_562915447
        y3 = y3 * -fix1_961570560 + y5
        y4 = y4 * -fix0_390180644 + y5
        o0 += y1 + y3
        o1 += y2 + y4
        o2 += y2 + y3
        o3 += y1 + y4
        return SIMD8(t10 + o3, t11 + o2, t12 + o1, t13 + o0, t13 - o0, t12 - o1, t11 - o2, t10 - o3)
    }

    /// Upsamples each component to the frame size (libjpeg 6b rules) and interleaves.
    static func assemble(_ planes: [Plane], frame: JPEGFrameHeader) -> [UInt16] {
        let width = frame.width, height = frame.height, nc = planes.count
        var out = [UInt16](repeating: 0, count: width * height * nc)
        for (ci, c) in frame.components.enumerated() {
            let p = planes[ci]
            let hs = frame.hMax / c.h, vs = frame.vMax / c.v
            // The component's real size; rows/columns past it are encoder padding and are not used as context.
            let cw = (width * c.h + frame.hMax - 1) / frame.hMax, ch = (height * c.v + frame.vMax - 1) / frame.vMax
            func s(_ x: Int, _ y: Int) -> Int { Int(p.samples[y * p.width + x]) }
            let fancy = hs == 2 && (vs == 1 || vs == 2) && cw > 2
            for y in 0..<height {
                for x in 0..<width {
                    var v: Int
                    if hs == 1 && vs == 1 {
                        v = s(x, y)
                    } else if fancy && vs == 1 {
                        // h2v1: each output is 3/4 nearer + 1/4 further input; edges copy.
                        let ix = x >> 1, cur = s(ix, y)
                        if x & 1 == 0 {
                            v = ix == 0 ? cur : (cur * 3 + s(ix - 1, y) + 1) >> 2
                        } else {
                            v = ix == cw - 1 ? cur : (cur * 3 + s(ix + 1, y) + 2) >> 2
                        }
                    } else if fancy {
                        // h2v2: vertical 3:1 column sums, then horizontal 3:1, 4 fractional bits.
                        let iy = y >> 1, ix = x >> 1
                        let ny = y & 1 == 0 ? max(iy - 1, 0) : min(iy + 1, ch - 1)
                        func colsum(_ cx: Int) -> Int { s(cx, iy) * 3 + s(cx, ny) }
                        let this = colsum(ix)
                        if x & 1 == 0 {
                            v = ix == 0 ? (this * 4 + 8) >> 4 : (this * 3 + colsum(ix - 1) + 8) >> 4
                        } else {
                            v = ix == cw - 1 ? (this * 4 + 7) >> 4 : (this * 3 + colsum(ix + 1) + 7) >> 4
                        }
                    } else {
                        v = s(x / hs, y / vs)
                    }
                    out[(y * width + x) * nc + ci] = UInt16(truncatingIfNeeded: v)
                }
            }
        }
        return out
    }
}
