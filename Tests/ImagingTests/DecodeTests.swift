import Foundation
import Imaging
import XCTest

/// Every PNG mode/bit depth/interlacing and JPEG flavour against libpng-exact samples and Pillow's arrays.
final class DecodeTests: XCTestCase {
    func testEveryFixtureDecodesToTheExpectedSamples() throws {
        let cases = try ImagingFixtures.decodeCases()
        XCTAssertGreaterThanOrEqual(cases.count, 35)
        for c in cases {
            let image = try ImageDecoder.decode(contentsOf: ImagingFixtures.url("decode/\(c.file)"))
            let label = "\(c.name) (Pillow mode \(c.pilMode))"
            XCTAssertEqual(image.width, c.width, label)
            XCTAssertEqual(image.height, c.height, label)
            XCTAssertEqual(image.channels, c.channels, label)
            XCTAssertEqual(image.colorModel.rawValue, c.colorModel, label)
            XCTAssertEqual(image.bitDepth, c.bitDepth, label)
            XCTAssertEqual(image.sourceBitDepth, c.sourceBitDepth, label)
            XCTAssertEqual(image.isPalette, c.isPalette, label)
            XCTAssertEqual(image.isInterlaced, c.isInterlaced, label)
            XCTAssertEqual(image.transparentColor?.map(Int.init), c.transparentColor, label)
            XCTAssertEqual(image.format.rawValue, c.format, label)

            let expected = try ImagingFixtures.npy("decode/\(c.name).samples.npy")
            XCTAssertEqual(expected.shape, [c.height, c.width, c.channels], label)
            switch (image.samples, expected.data) {
            case (.uint8(let got), .uint8(let want)):
                let d = byteDifferences(got, want)
                XCTAssertEqual(d.count, 0, "\(label): \(d.count) samples differ, by up to \(d.max)")
            case (.uint16(let got), .uint16(let want)):
                XCTAssertEqual(got, want, label)
            default:
                XCTFail("\(label): sample type \(image.bitDepth)-bit vs fixture \(expected.dtype)")
            }
        }
    }

    /// RGBImage(decoded) is transformers' convert_to_rgb (alpha composited onto white, tRNS keys honoured the
    /// Pillow way); `.discard` is Pillow's plain convert("RGB"). Both bit-exact.
    func testRGBConversionMatchesPillowAndTransformers() throws {
        for c in try ImagingFixtures.decodeCases() {
            let image = try ImageDecoder.decode(contentsOf: ImagingFixtures.url("decode/\(c.file)"))
            let tf = try RGBImage(image)
            let pil = try RGBImage(image, alpha: .discard)
            let wantTF = try ImagingFixtures.bytes("decode/\(c.name).tf_rgb.npy")
            let wantPIL = try ImagingFixtures.bytes("decode/\(c.name).pil_rgb.npy")
            let dTF = byteDifferences(tf.pixels, wantTF)
            let dPIL = byteDifferences(pil.pixels, wantPIL)
            XCTAssertEqual(dTF.count, 0, "\(c.name) (\(c.pilMode)) vs transformers convert_to_rgb: \(dTF.count) bytes differ by up to \(dTF.max)")
            XCTAssertEqual(dPIL.count, 0, "\(c.name) (\(c.pilMode)) vs Pillow convert(\"RGB\"): \(dPIL.count) bytes differ by up to \(dPIL.max)")
        }
    }

    /// Every (value, alpha) pair through Pillow's integer alpha_composite onto white.
    func testAlphaCompositingIsExactForEveryValueAndAlpha() throws {
        let image = try ImageDecoder.decode(contentsOf: ImagingFixtures.url("decode/alpha_ramp.png"))
        XCTAssertEqual(image.colorModel, .rgba)
        let rgb = try RGBImage(image)
        let want = try RGBImage(ImageDecoder.decode(contentsOf: ImagingFixtures.url("decode/alpha_ramp.tf_rgb.png"))).pixels
        XCTAssertEqual(rgb.pixels.count, 256 * 256 * 3)
        let d = byteDifferences(rgb.pixels, want)
        XCTAssertEqual(d.count, 0, "\(d.count) bytes differ by up to \(d.max)")
    }

    /// libjpeg-turbo here (Debian's 2.1) and Pillow's bundled libjpeg-turbo decode identically.
    func testJPEGDecodingIsIdenticalToPillow() throws {
        let jpegs = try ImagingFixtures.decodeCases().filter { $0.format == "JPEG" }
        XCTAssertEqual(Set(jpegs.map(\.colorModel)), ["gray", "rgb", "cmyk"])
        XCTAssertTrue(jpegs.contains { $0.isInterlaced }, "a progressive JPEG is among the fixtures")
        var compared = 0
        for c in jpegs {
            let image = try ImageDecoder.decode(contentsOf: ImagingFixtures.url("decode/\(c.file)"))
            guard case .uint8(let got) = image.samples else { return XCTFail(c.name) }
            let d = byteDifferences(got, try ImagingFixtures.bytes("decode/\(c.name).samples.npy"))
            XCTAssertEqual(d.count, 0, "\(c.name): \(d.count) samples differ from Pillow by up to \(d.max)")
            compared += got.count
        }
        print("JPEG: \(jpegs.count) files, \(compared) samples identical to Pillow's decode")
    }

    func testDecodeFromDataSniffsTheFormatNotTheName() throws {
        let png = try Data(contentsOf: ImagingFixtures.url("decode/rgb8_pil.png"))
        let jpeg = try Data(contentsOf: ImagingFixtures.url("decode/jpeg_420.jpg"))
        XCTAssertEqual(try ImageDecoder.decode(data: png, source: "looks-like.jpg").format, .png)
        XCTAssertEqual(try ImageDecoder.decode(data: jpeg, source: "looks-like.png").format, .jpeg)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-\(UUID().uuidString).png")
        try jpeg.write(to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: copy).format, .jpeg)
    }

    func testGrayInitialiserReplicatesTheChannel() throws {
        let rgb = try RGBImage(gray: [0, 7, 255, 128], width: 2, height: 2)
        XCTAssertEqual(rgb.pixels, [0, 0, 0, 7, 7, 7, 255, 255, 255, 128, 128, 128])
        let decoded = try DecodedImage(width: 2, height: 2, colorModel: .gray, samples: .uint8([0, 7, 255, 128]))
        XCTAssertEqual(try RGBImage(decoded), rgb)
        XCTAssertThrowsError(try RGBImage(gray: [1, 2, 3], width: 2, height: 2))
        XCTAssertThrowsError(try DecodedImage(width: 2, height: 2, colorModel: .rgb, samples: .uint8([1, 2, 3])))
        XCTAssertThrowsError(try RGBImage(width: 2, height: 1, pixels: [1, 2, 3]))
    }
}
