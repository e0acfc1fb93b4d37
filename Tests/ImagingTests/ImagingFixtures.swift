import Foundation
import Imaging
import ModelFiles
import XCTest

/// Paths and readers for Tests/Fixtures/imaging (written by tools/make_imaging_fixtures.py).
enum ImagingFixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/imaging")

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    struct DecodeCase: Decodable {
        let name: String
        let file: String
        let format: String
        let width: Int
        let height: Int
        let channels: Int
        let colorModel: String
        let bitDepth: Int
        let sourceBitDepth: Int
        let isPalette: Bool
        let transparentColor: [Int]?
        let isInterlaced: Bool
        let pilMode: String
    }

    struct PreprocessCase: Decodable {
        let name: String
        let file: String
        let note: String
        let tv: String
        let pil: String
    }

    static func decodeCases() throws -> [DecodeCase] {
        try JSONDecoder().decode([DecodeCase].self, from: Data(contentsOf: url("decode/manifest.json")))
    }

    static func preprocessCases() throws -> [PreprocessCase] {
        try JSONDecoder().decode([PreprocessCase].self, from: Data(contentsOf: url("preprocess/manifest.json")))
    }

    static func npy(_ relative: String) throws -> NPYArray {
        try NPYFile.read(url(relative))
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        let array = try npy(relative)
        guard case .uint8(let values) = array.data else {
            throw ImagingError.invalidArgument("\(relative): expected uint8, got \(array.dtype)")
        }
        return values
    }

    static func floats(_ relative: String) throws -> [Float] {
        let array = try npy(relative)
        guard case .float32(let values) = array.data else {
            throw ImagingError.invalidArgument("\(relative): expected float32, got \(array.dtype)")
        }
        return values
    }
}

/// The largest absolute difference between two equally long float arrays.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var worst: Float = 0
    for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
    return worst
}

/// How many bytes differ, and by how much at most.
func byteDifferences(_ a: [UInt8], _ b: [UInt8]) -> (count: Int, max: Int) {
    precondition(a.count == b.count)
    var count = 0, worst = 0
    for i in a.indices where a[i] != b[i] {
        count += 1
        worst = max(worst, abs(Int(a[i]) - Int(b[i])))
    }
    return (count, worst)
}
