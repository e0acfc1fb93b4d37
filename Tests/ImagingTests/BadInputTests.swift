import Tensor
import Foundation
import TestSupport
import Imaging
import XCTest

/// Truncated, corrupt, empty, oversized and non-image inputs: each an ImagingError naming the file; no crash.
final class BadInputTests: XCTestCase {
    private func expectError(_ source: String, file: StaticString = #filePath, line: UInt = #line,
                             _ body: () throws -> Void) -> ImagingError? {
        do {
            try body()
            XCTFail("\(source): decoded without an error", file: file, line: line)
            return nil
        } catch let error as ImagingError {
            XCTAssertTrue(error.description.contains(source), "error does not name \(source): \(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("\(source): not an ImagingError: \(error)", file: file, line: line)
            return nil
        }
    }

    private func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: ImagingFixtures.url(name))
    }

    func testTruncatedPNGAtEveryPointBeforeTheEndOfTheImageData() throws {
        for name in ["decode/rgb8_pil.png", "decode/gray16_pil.png", "decode/rgba8_interlaced.png", "decode/pal_trns_pil.png"] {
            let data = try fixture(name)
            let iend = data.count - 12  // the IEND chunk
            var cut = 0
            while cut < iend {
                let source = "\(name)[..<\(cut)]"
                let error = expectError(source) { _ = try ImageDecoder.decode(data: data.prefix(cut), source: source) }
                if case .corrupt(_, let format, _)? = error { XCTAssertEqual(format, "PNG") }
                cut += max(1, iend / 40)
            }
        }
        let data = try fixture("decode/rgb8_pil.png")
        let error = expectError("cut.png") { _ = try ImageDecoder.decode(data: data.prefix(data.count / 2), source: "cut.png") }
        print("truncated PNG: \(error.map(String.init(describing:)) ?? "-")")
    }

    /// The pixel data is complete without the trailing IEND chunk; like Pillow, that still decodes.
    func testPNGWithoutTrailingIENDStillDecodes() throws {
        let data = try fixture("decode/rgb8_pil.png")
        let full = try ImageDecoder.decode(data: data, source: "full.png")
        XCTAssertEqual(try ImageDecoder.decode(data: data.prefix(data.count - 12), source: "no-iend.png").samples, full.samples)
    }

    func testCorruptPNGDataInTheMiddle() throws {
        var data = try fixture("decode/gray16_pil.png")
        let idat = try XCTUnwrap(data.range(of: Data("IDAT".utf8)))
        let middle = idat.upperBound + 10
        data[middle] ^= 0x5A
        let error = expectError("corrupt.png") { _ = try ImageDecoder.decode(data: data, source: "corrupt.png") }
        print("corrupt PNG: \(error.map(String.init(describing:)) ?? "-")")
        guard case .corrupt? = error else { return XCTFail("expected .corrupt, got \(String(describing: error))") }
    }

    func testTruncatedJPEG() throws {
        for name in ["decode/jpeg_420.jpg", "decode/jpeg_progressive.jpg", "decode/jpeg_gray.jpg", "decode/jpeg_cmyk.jpg"] {
            let data = try fixture(name)
            var cut = 0
            while cut < data.count - 2 {
                let source = "\(name)[..<\(cut)]"
                _ = expectError(source) { _ = try ImageDecoder.decode(data: data.prefix(cut), source: source) }
                cut += max(1, data.count / 40)
            }
        }
        let data = try fixture("decode/jpeg_420.jpg")
        let error = expectError("cut.jpg") { _ = try ImageDecoder.decode(data: data.prefix(data.count * 2 / 3), source: "cut.jpg") }
        print("truncated JPEG: \(error.map(String.init(describing:)) ?? "-")")
    }

    /// A marker inside the entropy-coded data: libjpeg would fill the rest with gray and only warn.
    func testCorruptJPEGDataInTheMiddle() throws {
        for name in ["decode/jpeg_420.jpg", "decode/jpeg_progressive.jpg"] {
            var data = try fixture(name)
            let sos = try XCTUnwrap(data.range(of: Data([0xFF, 0xDA])))
            let scanStart = sos.upperBound + Int(data[sos.upperBound]) << 8 + Int(data[sos.upperBound + 1])
            let middle = (scanStart + data.count) / 2
            data[middle] = 0xFF
            data[middle + 1] = 0xD9
            let error = expectError("corrupt.jpg") { _ = try ImageDecoder.decode(data: data, source: "corrupt.jpg") }
            print("corrupt JPEG (\(name)): \(error.map(String.init(describing:)) ?? "-")")
        }
        var header = try fixture("decode/jpeg_420.jpg")
        let dqt = try XCTUnwrap(header.range(of: Data([0xFF, 0xDB])))
        header[dqt.upperBound] = 0xFF  // a segment length running past the end
        _ = expectError("bad-header.jpg") { _ = try ImageDecoder.decode(data: header, source: "bad-header.jpg") }
    }

    func testZeroSizeImagesAreRefused() throws {
        for name in ["bad/zero_width.png", "bad/zero_height.jpg"] {
            let path = ImagingFixtures.url(name).path
            let error = expectError(path) { _ = try ImageDecoder.decode(contentsOf: ImagingFixtures.url(name)) }
            guard case .emptyImage? = error else { return XCTFail("\(name): expected .emptyImage, got \(String(describing: error))") }
        }
    }

    func testHugeHeadersAreRefusedBeforeAllocating() throws {
        for name in ["bad/huge_100000x100000.png", "bad/huge_65535x65535.jpg"] {
            let path = ImagingFixtures.url(name).path
            let start = Date()
            let error = expectError(path) { _ = try ImageDecoder.decode(contentsOf: ImagingFixtures.url(name)) }
            let elapsed = Date().timeIntervalSince(start)
            guard case .tooLarge(_, let width, let height, _)? = error else {
                return XCTFail("\(name): expected .tooLarge, got \(String(describing: error))")
            }
            XCTAssertGreaterThan(width * height, ImageDecoder.maxPixels)
            XCTAssertLessThan(elapsed, 0.5, "\(name) took \(elapsed) s")
            print("\(name): \(error!) in \(String(format: "%.2f", elapsed * 1000)) ms")
        }
    }

    func testNotAnImageMissingFileDirectoryAndEmptyData() throws {
        let gif = ImagingFixtures.url("bad/not_an_image.png")
        let error = expectError(gif.path) { _ = try ImageDecoder.decode(contentsOf: gif) }
        guard case .notAnImage(_, let detail)? = error else { return XCTFail("expected .notAnImage, got \(String(describing: error))") }
        XCTAssertTrue(detail.contains("GIF"), detail)

        let missing = ImagingFixtures.url("bad/does-not-exist.png")
        guard case .fileNotFound? = expectError(missing.path, { _ = try ImageDecoder.decode(contentsOf: missing) }) else {
            return XCTFail("expected .fileNotFound")
        }
        let folder = ImagingFixtures.url("bad")
        _ = expectError(folder.path) { _ = try ImageDecoder.decode(contentsOf: folder) }
        _ = expectError("empty") { _ = try ImageDecoder.decode(data: Data(), source: "empty") }
        _ = expectError("text") { _ = try ImageDecoder.decode(data: Data("hello".utf8), source: "text") }
        var garbage = Data(ImageDecoderSignatures.png)
        garbage.append(contentsOf: (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        _ = expectError("garbage.png") { _ = try ImageDecoder.decode(data: garbage, source: "garbage.png") }
    }

    /// Random damage anywhere in real files: every outcome is an image or an ImagingError, never a crash.
    func testRandomDamageNeverCrashes() throws {
        var generator = SplitMix64(seed: 7)
        var outcomes = (decoded: 0, refused: 0)
        for name in ["decode/rgb8_pil.png", "decode/pal4_trns_interlaced.png", "decode/la16.png", "decode/jpeg_420.jpg",
                     "decode/jpeg_progressive.jpg", "decode/jpeg_cmyk.jpg"] {
            let original = try fixture(name)
            for _ in 0..<60 {
                var data = original
                for _ in 0..<Int(generator.next() % 4 + 1) {
                    let i = Int(generator.next() % UInt64(data.count))
                    data[i] = UInt8(truncatingIfNeeded: generator.next())
                }
                do {
                    let image = try ImageDecoder.decode(data: data, source: name)
                    XCTAssertEqual(image.samples.count, image.width * image.height * image.channels)
                    outcomes.decoded += 1
                } catch is ImagingError {
                    outcomes.refused += 1
                }
            }
        }
        print("random damage: \(outcomes.decoded) decoded, \(outcomes.refused) refused, none crashed")
    }
}

enum ImageDecoderSignatures {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
}

