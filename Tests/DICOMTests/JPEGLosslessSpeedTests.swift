import DICOM
import Foundation
import XCTest

/// A tiny lossless JPEG encoder (the same fixed Huffman table as tools/make_jpeg_fixtures.py) to make large
/// frames in the test; round trips check the decoder against the original samples, and one 1024×1024
/// 12-bit frame measures the speed of the hot path.
enum TestLosslessEncoder {
    static let bits: [UInt8] = [0, 0, 6, 2, 2, 2, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0]

    static func codes() -> [(code: Int, length: Int)] {
        var table: [(Int, Int)] = []
        var code = 0
        for length in 1...16 {
            for _ in 0..<Int(bits[length - 1]) {
                table.append((code, length))
                code += 1
            }
            code <<= 1
        }
        return table
    }

    static func predict(_ p: Int, _ ra: Int, _ rb: Int, _ rc: Int) -> Int {
        switch p {
        case 1: return ra
        case 2: return rb
        case 3: return rc
        case 4: return ra + rb - rc
        case 5: return ra + ((rb - rc) >> 1)
        case 6: return rb + ((ra - rc) >> 1)
        default: return (ra + rb) >> 1
        }
    }

    /// One-component SOF3 stream; `restartRows` > 0 adds DRI and RSTn every that many rows.
    static func encode(_ img: [UInt16], width: Int, height: Int, precision: Int, predictor: Int, restartRows: Int = 0) -> [UInt8] {
        let table = codes()
        var s: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC3, 0, 11, UInt8(precision), UInt8(height >> 8), UInt8(height & 255),
                          UInt8(width >> 8), UInt8(width & 255), 1, 1, 0x11, 0]
        s += [0xFF, 0xC4, 0, 36, 0x00] + bits + (0...16).map { UInt8($0) }
        if restartRows > 0 {
            let ri = restartRows * width
            s += [0xFF, 0xDD, 0, 4, UInt8(ri >> 8), UInt8(ri & 255)]
        }
        s += [0xFF, 0xDA, 0, 8, 1, 1, 0, UInt8(predictor), 0, 0]
        var acc = 0, n = 0, rst = 0
        func put(_ value: Int, _ length: Int) {
            for i in stride(from: length - 1, through: 0, by: -1) {
                acc = (acc << 1) | ((value >> i) & 1)
                n += 1
                if n == 8 {
                    s.append(UInt8(acc))
                    if acc == 0xFF { s.append(0) }
                    acc = 0
                    n = 0
                }
            }
        }
        func flush() { if n > 0 { put((1 << (8 - n)) - 1, 8 - n) } }
        for y in 0..<height {
            let first = y == 0 || (restartRows > 0 && y % restartRows == 0)
            if restartRows > 0 && y > 0 && y % restartRows == 0 {
                flush()
                s += [0xFF, UInt8(0xD0 + rst)]
                rst = (rst + 1) & 7
            }
            for x in 0..<width {
                let v = Int(img[y * width + x])
                let pred: Int
                if first && x == 0 { pred = 1 << (precision - 1) }
                else if first { pred = Int(img[y * width + x - 1]) }
                else if x == 0 { pred = Int(img[(y - 1) * width]) }
                else { pred = predict(predictor, Int(img[y * width + x - 1]), Int(img[(y - 1) * width + x]), Int(img[(y - 1) * width + x - 1])) }
                var diff = (v - pred) & 0xFFFF
                if diff >= 32768 { diff -= 65536 }
                if diff == -32768 { diff = 32768 }
                let ssss = diff == 0 ? 0 : (Int.bitWidth - abs(diff).leadingZeroBitCount)
                put(table[ssss].code, table[ssss].length)
                if ssss > 0 && ssss < 16 { put(diff > 0 ? diff : diff + (1 << ssss) - 1, ssss) }
            }
        }
        flush()
        s += [0xFF, 0xD9]
        return s
    }

    /// A smooth 12-bit angiogram-like frame with noise (deterministic).
    static func frame(width: Int, height: Int, bits: Int) -> [UInt16] {
        var rng: UInt64 = 0x9E3779B97F4A7C15
        let maxValue = Double((1 << bits) - 1)
        var out = [UInt16](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                let noise = Double(rng >> 58) - 32
                let v = (sin(Double(x) / 37) * cos(Double(y) / 23) + 1) / 2 * (maxValue - 200) + 100 + noise
                out[y * width + x] = UInt16(min(max(v, 0), maxValue))
            }
        }
        return out
    }
}

final class JPEGLosslessSpeedTests: XCTestCase {
    /// Whether this is an optimised build (decided at run time so that neither branch is dead code).
    static let optimised: Bool = { !_isDebugAssertConfiguration() }()

    func testRoundTripEveryPredictorWithRestarts() throws {
        let w = 97, h = 41
        for bits in [2, 8, 12, 16] {
            let img = TestLosslessEncoder.frame(width: w, height: h, bits: bits)
            for p in 1...7 {
                for restart in [0, 1, 7] {
                    let stream = TestLosslessEncoder.encode(img, width: w, height: h, precision: bits, predictor: p, restartRows: restart)
                    let image = try JPEGCodec.decode(stream, photometricInterpretation: "MONOCHROME2", source: "p\(p)")
                    XCTAssertEqual(image.samples, img, "\(bits) bits, predictor \(p), restart every \(restart) rows")
                    XCTAssertEqual(image.precision, bits)
                }
            }
        }
    }

    /// Decodes a 1024×1024 12-bit lossless frame; prints the best time of several runs. The 25 ms budget
    /// is asserted in optimised builds only (debug builds run these loops many times slower).
    func testDecodeSpeed1024Square12Bit() throws {
        let n = 1024
        let img = TestLosslessEncoder.frame(width: n, height: n, bits: 12)
        let stream = TestLosslessEncoder.encode(img, width: n, height: n, precision: 12, predictor: 1)
        var best = Double.infinity
        var image: JPEGImage?
        for _ in 0..<(Self.optimised ? 20 : 2) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            image = try JPEGCodec.decode(stream, photometricInterpretation: "MONOCHROME2", source: "speed")
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        XCTAssertEqual(image?.samples, img)
        print(String(format: "JPEG lossless 1024x1024 12-bit (%d-byte stream): best %.2f ms", stream.count, best))
        if Self.optimised { XCTAssertLessThan(best, 25) }
    }
}
