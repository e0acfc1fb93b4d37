import Foundation
import Imaging
import XCTest

final class ImageProcessorConfigTests: XCTestCase {
    private func parse(_ json: String, file: String = "preprocessor_config.json") throws -> ImageProcessorConfig {
        try ImageProcessorConfig(jsonData: Data(json.utf8), source: file)
    }

    /// The Hub's file (with its nulls) reads as Gemma 3's processor; gemma3Default is the same at 896.
    func testHubConfig() throws {
        let config = try ImageProcessorConfig(url: ImagingFixtures.url("preprocess/big/preprocessor_config.json"))
        XCTAssertEqual(config.height, 896)
        XCTAssertEqual(config.width, 896)
        XCTAssertEqual(config.resample, 2)
        XCTAssertEqual(config.rescaleFactor, 0.00392156862745098)
        XCTAssertEqual(config.imageMean, [0.5, 0.5, 0.5])
        XCTAssertEqual(config.imageStd, [0.5, 0.5, 0.5])
        XCTAssertTrue(config.doResize && config.doRescale && config.doNormalize)
        XCTAssertNil(config.doConvertRGB)
        XCTAssertEqual(config.imageProcessorType, "Gemma3ImageProcessor")
        var expected = ImageProcessorConfig.gemma3Default
        expected.source = config.source
        XCTAssertEqual(config, expected)
        XCTAssertEqual(ImagePreprocessor(config: .gemma3Default).outputShape, [3, 896, 896])
    }

    /// transformers 5.24 writes processor_config.json with the image processor nested.
    func testNestedProcessorConfigInADirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let nested = """
        {"image_processor": {"image_processor_type": "Gemma3ImageProcessor", "resample": 2, "rescale_factor": 0.00392156862745098,
         "size": {"height": 112, "width": 112}, "image_mean": 0.5, "image_std": [0.5, 0.5, 0.5], "do_convert_rgb": true},
         "processor_class": "Gemma3Processor", "image_seq_length": 16}
        """
        try Data(nested.utf8).write(to: dir.appendingPathComponent("processor_config.json"))
        let config = try ImageProcessorConfig(url: dir)
        XCTAssertEqual(config.height, 112)
        XCTAssertEqual(config.imageMean, [0.5, 0.5, 0.5])
        XCTAssertEqual(config.doConvertRGB, true)
        XCTAssertTrue(config.source.hasSuffix("processor_config.json"))
    }

    func testUnsupportedAndInvalidOptionsNameTheFileAndTheOption() throws {
        let base = #""size": {"height": 56, "width": 56}"#
        let cases: [(String, String)] = [
            ("{\(base), \"do_pan_and_scan\": true}", "do_pan_and_scan"),
            ("{\(base), \"resample\": 3}", "resample"),
            ("{\(base), \"resample\": 0}", "resample"),
            ("{\"size\": {\"shortest_edge\": 224}}", "size.shortest_edge"),
            ("{\"size\": 224}", "size"),
            ("{\"resample\": 2}", "size"),
            ("{\"size\": {\"height\": 0, \"width\": 56}}", "size.height"),
            ("{\(base), \"image_processor_type\": \"SiglipImageProcessor\"}", "image_processor_type"),
            ("{\(base), \"image_std\": [0.5, 0, 0.5]}", "image_std"),
            ("{\(base), \"image_mean\": [0.5, 0.5]}", "image_mean"),
            ("{\(base), \"rescale_factor\": -1}", "rescale_factor"),
            ("{\(base), \"do_resize\": 1}", "do_resize"),
            ("[1, 2]", "(file)"),
            ("{not json", "(file)"),
        ]
        for (json, option) in cases {
            XCTAssertThrowsError(try parse(json, file: "/models/x/preprocessor_config.json"), json) { error in
                let text = String(describing: error)
                XCTAssertTrue(text.contains("/models/x/preprocessor_config.json"), text)
                XCTAssertTrue(text.contains("'\(option)'"), "\(json): \(text)")
            }
        }
        do {
            _ = try parse("{\(base), \"resample\": 3}")
        } catch {
            print("example: \(error)")
        }
    }

    func testDoResizeFalseNeedsAnImageOfTheRightSize() throws {
        let config = try parse(#"{"size": {"height": 4, "width": 4}, "do_resize": false}"#, file: "cfg.json")
        let processor = ImagePreprocessor(config: config)
        XCTAssertEqual(try processor.pixelValues(RGBImage(gray: [UInt8](repeating: 9, count: 16), width: 4, height: 4)).count, 48)
        XCTAssertThrowsError(try processor.pixelValues(RGBImage(gray: [1, 2, 3, 4], width: 2, height: 2))) { error in
            XCTAssertTrue(String(describing: error).contains("cfg.json"))
            XCTAssertTrue(String(describing: error).contains("do_resize"))
        }
    }

    func testMissingOptionsTakeGemma3Defaults() throws {
        let config = try parse(#"{"size": {"height": 8, "width": 16, "longest_edge": null}}"#)
        XCTAssertEqual(config.width, 16)
        XCTAssertEqual(config.resample, 2)
        XCTAssertEqual(config.rescaleFactor, 1.0 / 255.0)
        XCTAssertEqual(config.imageMean, [0.5, 0.5, 0.5])
        XCTAssertNil(config.imageProcessorType)
    }

    func testMissingConfigFile() {
        let url = URL(fileURLWithPath: "/nonexistent/preprocessor_config.json")
        XCTAssertThrowsError(try ImageProcessorConfig(url: url)) { error in
            XCTAssertEqual(error as? ImagingError, .fileNotFound(path: url.path))
        }
    }
}
