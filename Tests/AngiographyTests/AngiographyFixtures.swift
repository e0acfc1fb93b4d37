import Angiography
import DICOM
import Foundation
import ModelFiles
import XCTest

/// The fixtures of tools/make_angiography_fixtures.py: DICOM files and numpy's expectations.
enum AngioFixtures {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/angiography").standardized

    static func url(_ name: String) -> URL { dir.appendingPathComponent(name) }

    static func file(_ name: String) throws -> DICOMFile { try DICOMFile(url: url(name + ".dcm")) }

    static func json(_ name: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url(name + ".json"))) as? [String: Any], name)
    }

    static func npy(_ name: String) throws -> NPYArray { try NPYFile.read(url(name)) }

    static func frames(_ name: String) throws -> [PixelFrame] { try PixelDataReader(file: file(name)).frames() }
}

/// Float comparison with a relative and absolute tolerance; reports the worst element.
func assertClose(_ got: [Float], _ expected: [Float], tolerance: Float = 1e-5, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, expected.count, "\(what): element count", file: file, line: line)
    var worst: (Int, Float) = (-1, 0)
    for i in 0..<min(got.count, expected.count) {
        let err = abs(got[i] - expected[i]) / max(1, abs(expected[i]))
        if err > worst.1 { worst = (i, err) }
    }
    XCTAssertLessThanOrEqual(worst.1, tolerance,
                             "\(what): element \(worst.0) is \(worst.0 >= 0 ? got[worst.0] : 0), expected \(worst.0 >= 0 ? expected[worst.0] : 0)",
                             file: file, line: line)
}

/// 8-bit images equal within one gray level (float32 here, float64 in numpy), and mostly exactly.
func assertGrayClose(_ got: [UInt8], _ expected: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, expected.count, "\(what): pixel count", file: file, line: line)
    var maxDiff = 0, differing = 0
    for (a, b) in zip(got, expected) {
        let d = abs(Int(a) - Int(b))
        maxDiff = max(maxDiff, d)
        if d != 0 { differing += 1 }
    }
    XCTAssertLessThanOrEqual(maxDiff, 1, "\(what): max gray-level difference", file: file, line: line)
    XCTAssertLessThanOrEqual(differing, max(2, got.count / 50), "\(what): \(differing) pixels differ by one", file: file, line: line)
}

extension NPYArray {
    var uint8s: [UInt8] {
        if case let .uint8(a) = data { return a }
        return []
    }
}
