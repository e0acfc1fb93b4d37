import Angiography
import DICOM
import Foundation
import XCTest

/// Decoded frames to model image for a 30-frame 1024×1024 run: well under 0.3 s in release.
final class PerformanceTests: XCTestCase {
    func testThirtyFrameRunToModelImage() throws {
        #if DEBUG
        // Debug builds run numeric loops many times slower: check the same path on a smaller run.
        let (frameCount, size, limit) = (6, 256, 20.0)
        #else
        let (frameCount, size, limit) = (30, 1024, 0.3)
        #endif
        var frames: [PixelFrame] = []
        var state: UInt32 = 12345
        for k in 0..<frameCount {
            var v = [UInt16](repeating: 0, count: size * size)
            let contrast = min(1, Double(k) / 10)
            for r in 0..<size {
                for c in 0..<size {
                    state = state &* 1_664_525 &+ 1_013_904_223
                    let vessel = abs(c - size / 2 - Int(Double(size) / 10 * sin(Double(r) / 40))) < size / 100 + 2
                    let base = 2500 + Int(state >> 28)
                    v[r * size + c] = UInt16(vessel ? Double(base) * exp(-contrast) : Double(base))
                }
            }
            frames.append(PixelFrame(rows: size, columns: size, samplesPerPixel: 1, photometricInterpretation: "MONOCHROME2", samples: .uint16(v)))
        }
        let attributes = AngiogramAttributes(source: "synthetic", numberOfFrames: frameCount,
                                             maskSubtraction: [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [1, 2])])
        let builder = ModelInputBuilder()
        _ = try builder.render(frames, attributes: attributes)  // warm up
        var best = Double.infinity
        for _ in 0..<3 {
            let t = Date()
            let (images, record) = try builder.render(frames, attributes: attributes)
            best = min(best, Date().timeIntervalSince(t))
            XCTAssertEqual(images.count, 1)
            XCTAssertEqual(images[0].gray.count, size * size)
            XCTAssertEqual(record.chosenFrames, [Array(3...frameCount)])
        }
        print("angiography: \(frameCount)×\(size)² decoded frames → model image in \(String(format: "%.3f", best)) s")
        XCTAssertLessThan(best, limit)
    }
}
