import Tensor
import Foundation
import Imaging
import TestSupport
import XCTest

/// pixel_values against transformers 5.24's Gemma 3 image processor, both backends.
final class PreprocessTests: XCTestCase {
    private func load(_ relative: String) throws -> RGBImage {
        try RGBImage(ImageDecoder.decode(contentsOf: ImagingFixtures.url(relative)))
    }

    func testPixelValuesMatchTransformersForBothBackends() throws {
        let config = try ImageProcessorConfig(url: ImagingFixtures.url("preprocess"))
        XCTAssertEqual(config.height, 56)
        XCTAssertEqual(config.width, 56)
        let cases = try ImagingFixtures.preprocessCases()
        XCTAssertEqual(cases.count, 10)
        var report: [String] = []
        for c in cases {
            let image = try load("preprocess/\(c.file)")
            for (backend, file) in [(ImagePreprocessor.Backend.torchvision, c.tv), (.pil, c.pil)] {
                let values = try ImagePreprocessor(config: config, backend: backend).pixelValues(image)
                let want = try ImagingFixtures.floats("preprocess/\(file)")
                XCTAssertEqual(values.count, 3 * 56 * 56)
                let diff = maxAbsDifference(values, want)
                // Bit-exact is the goal; 1e-6 allows nothing but float noise (one level is 0.0078).
                XCTAssertLessThanOrEqual(diff, 1e-6, "\(c.name) [\(backend)]: \(c.note)")
                report.append("\(c.name) [\(backend)]: max |diff| \(diff) (\(diff * 127.5) levels)")
            }
        }
        print(report.joined(separator: "\n"))
    }

    /// Other mean/std, no rescaling, no normalisation, neither: each backend's float arithmetic, exactly.
    func testOtherRescaleAndNormaliseOptions() throws {
        let names = try JSONDecoder().decode([String].self, from: Data(contentsOf: ImagingFixtures.url("preprocess/variants/manifest.json")))
        XCTAssertEqual(names.count, 4)
        let image = try load("preprocess/variants/source.png")
        for name in names {
            let config = try ImageProcessorConfig(url: ImagingFixtures.url("preprocess/variants/\(name)"))
            for (backend, key) in [(ImagePreprocessor.Backend.torchvision, "tv"), (.pil, "pil")] {
                let values = try ImagePreprocessor(config: config, backend: backend).pixelValues(image)
                let want = try ImagingFixtures.floats("preprocess/variants/\(name)/\(key).npy")
                let diff = maxAbsDifference(values, want)
                XCTAssertEqual(diff, 0, "\(name) [\(key)]")
            }
        }
    }

    /// The two backends really differ (by one level on some pixels), so matching both proves something.
    func testBackendsDifferByAtMostOneLevel() throws {
        let config = try ImageProcessorConfig(url: ImagingFixtures.url("preprocess"))
        let image = try load("preprocess/down_wide_rgb.png")
        let tv = try ImagePreprocessor(config: config, backend: .torchvision).resized(image)
        let pil = try ImagePreprocessor(config: config, backend: .pil).resized(image)
        let d = byteDifferences(tv.pixels, pil.pixels)
        XCTAssertGreaterThan(d.count, 0)
        XCTAssertEqual(d.max, 1)
        print("torchvision vs PIL resize of down_wide_rgb: \(d.count) of \(tv.pixels.count) bytes differ, by \(d.max)")
    }

    /// The real 896x896 size from a tiny 16-bit gray source: the whole resized image and a grid of pixel_values.
    func testRealSizeFromATinySource() throws {
        let config = try ImageProcessorConfig(url: ImagingFixtures.url("preprocess/big/preprocessor_config.json"))
        XCTAssertEqual(config.height, 896)
        let image = try load("preprocess/big/tiny_gray16.png")
        for (backend, key) in [(ImagePreprocessor.Backend.torchvision, "tv"), (.pil, "pil")] {
            let processor = ImagePreprocessor(config: config, backend: backend)
            let resized = try processor.resized(image)
            let want = try load("preprocess/big/tiny_gray16.\(key).png")
            let d = byteDifferences(resized.pixels, want.pixels)
            XCTAssertEqual(d.count, 0, "\(key): \(d.count) bytes differ by up to \(d.max)")
            let values = try processor.pixelValues(image)
            XCTAssertEqual(values.count, 3 * 896 * 896)
            var grid: [Float] = []
            for c in 0..<3 {
                for y in stride(from: 0, to: 896, by: 16) {
                    for x in stride(from: 0, to: 896, by: 16) { grid.append(values[(c * 896 + y) * 896 + x]) }
                }
            }
            let diff = maxAbsDifference(grid, try ImagingFixtures.floats("preprocess/big/tiny_gray16.\(key).sub16.npy"))
            XCTAssertLessThanOrEqual(diff, 1e-6, key)
            print("896x896 [\(key)]: resized image identical, pixel_values grid max |diff| \(diff)")
        }
    }

    func testAtSizeImageIsOnlyRescaledAndNormalised() throws {
        let config = try ImageProcessorConfig(height: 2, width: 2)
        let image = try RGBImage(width: 2, height: 2, pixels: [0, 255, 127, 128, 1, 254, 10, 20, 30, 200, 100, 50])
        let tv = try ImagePreprocessor(config: config).pixelValues(image)
        // channel-first: R plane, then G, then B
        let r: [Float] = [0, 128, 10, 200].map { (Float($0) - 127.5) / 127.5 }
        XCTAssertEqual(Array(tv[0..<4]), r)
        XCTAssertEqual(tv[4], 1.0)  // G of pixel 0 = 255
        let pil = try ImagePreprocessor(config: config, backend: .pil).pixelValues(image)
        XCTAssertLessThanOrEqual(maxAbsDifference(tv, pil), 1e-6)
    }

    /// 1024x1024 gray PNG -> 896x896 tensor, decode included. The target is well under 100 ms in release.
    func testSpeedOfDecodeAndPreprocess() throws {
        let side = 1024
        var gray = [UInt8](repeating: 0, count: side * side)
        var generator = SplitMix64(seed: 3)
        for y in 0..<side {
            for x in 0..<side { gray[y * side + x] = UInt8(truncatingIfNeeded: (x + 2 * y) / 8 + Int(generator.next() % 16)) }
        }
        let png = try PNGEncoder.encode(gray: gray, width: side, height: side)
        let processor = ImagePreprocessor(config: .gemma3Default)
        var best = Double.infinity
        var parts = (decode: 0.0, convert: 0.0, preprocess: 0.0)
        for _ in 0..<5 {
            let t0 = Date()
            let decoded = try ImageDecoder.decode(data: png, source: "speed.png")
            let t1 = Date()
            let rgb = try RGBImage(decoded)
            let t2 = Date()
            let values = try processor.pixelValues(rgb)
            let t3 = Date()
            XCTAssertEqual(values.count, 3 * 896 * 896)
            let total = t3.timeIntervalSince(t0)
            if total < best {
                best = total
                parts = (t1.timeIntervalSince(t0), t2.timeIntervalSince(t1), t3.timeIntervalSince(t2))
            }
        }
        print(String(format: "1024x1024 gray PNG (%d KiB) -> [3, 896, 896]: %.1f ms (decode %.1f, to RGB %.1f, resize+normalise %.1f)",
                     png.count / 1024, best * 1000, parts.decode * 1000, parts.convert * 1000, parts.preprocess * 1000))
        #if !DEBUG
        // The target is < 100 ms (measured ~26 ms on this 2-core Xeon); the bound leaves room for a busy machine.
        XCTAssertLessThan(best, 0.25)
        #endif
    }
}
