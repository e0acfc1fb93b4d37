import Tensor
import Foundation
import Imaging
import TestSupport
import XCTest

final class PNGEncoderTests: XCTestCase {
    func testRoundTripsThroughTheDecoder() throws {
        var generator = SplitMix64(seed: 11)
        for channels in 1...4 {
            let (width, height) = (37, 21)
            let pixels = (0..<(width * height * channels)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let data = try PNGEncoder.encode(pixels: pixels, width: width, height: height, channels: channels)
            let decoded = try ImageDecoder.decode(data: data, source: "encoded.png")
            XCTAssertEqual(decoded.channels, channels)
            XCTAssertEqual(decoded.width, width)
            XCTAssertEqual(decoded.samples, .uint8(pixels))
        }
    }

    func testWritesRGBAndGrayFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let rgb = try RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 250, 251, 252])
        let rgbURL = dir.appendingPathComponent("model_input.png")
        try PNGEncoder.write(rgb, to: rgbURL)
        XCTAssertEqual(try RGBImage(ImageDecoder.decode(contentsOf: rgbURL)), rgb)
        let grayURL = dir.appendingPathComponent("gray.png")
        try PNGEncoder.write(gray: [0, 128, 255], width: 3, height: 1, to: grayURL)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: grayURL).samples, .uint8([0, 128, 255]))
        XCTAssertThrowsError(try PNGEncoder.write(rgb, to: dir.appendingPathComponent("missing/x.png"))) { error in
            XCTAssertTrue(String(describing: error).contains("missing/x.png"))
        }
    }

    func testRejectsInconsistentArguments() {
        XCTAssertThrowsError(try PNGEncoder.encode(pixels: [1, 2, 3], width: 2, height: 1, channels: 1))
        XCTAssertThrowsError(try PNGEncoder.encode(pixels: [], width: 0, height: 0, channels: 1))
        XCTAssertThrowsError(try PNGEncoder.encode(pixels: [1, 2], width: 1, height: 1, channels: 5))
    }
}
