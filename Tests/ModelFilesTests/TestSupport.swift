import Foundation
import XCTest
@testable import ModelFiles
import Tensor

/// Package root, fixture folder and scratch folders for the ModelFiles tests.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = packageRoot.appendingPathComponent("Tests/Fixtures/modelfiles")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func npy(_ name: String) throws -> NPYArray { try NPYFile.read(url(name)) }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }
}

/// A fresh temporary directory per test, removed afterwards.
class TempDirTestCase: XCTestCase {
    private(set) var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("ModelFilesTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let tmp { try? FileManager.default.removeItem(at: tmp) }
    }

    /// Calls `body` with a file holding the first `n` bytes of `bytes`, for each `n` in `lengths`. One file is
    /// written once and shortened with ftruncate (creating or O_TRUNC-ing hundreds of files is slow on some
    /// file systems).
    func forEachTruncation(of bytes: [UInt8], lengths: [Int], name: String, _ body: (URL, Int) throws -> Void) throws {
        let url = try write(bytes, to: name)
        let fd = open(url.path, O_WRONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        for n in Set(lengths).sorted(by: >) where n < bytes.count {
            XCTAssertEqual(ftruncate(fd, off_t(n)), 0)
            try body(url, n)
        }
    }

    /// Writes `bytes` to a file in the temp dir and returns its URL.
    func write(_ bytes: [UInt8], to name: String) throws -> URL {
        let url = tmp.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }
}

/// Asserts that `body` throws a `ModelFileError` accepted by `matches`, whose description mentions every
/// string in `mentions` (the path, the tensor, the key...).
func assertModelFileError<T>(_ body: @autoclosure () throws -> T, mentions: [String] = [],
                             file: StaticString = #filePath, line: UInt = #line,
                             _ matches: (ModelFileError) -> Bool) {
    do {
        _ = try body()
        XCTFail("expected a ModelFileError, nothing was thrown", file: file, line: line)
    } catch let error as ModelFileError {
        XCTAssertTrue(matches(error), "unexpected error case: \(error)", file: file, line: line)
        for m in mentions {
            XCTAssertTrue(error.description.contains(m), "'\(error)' does not mention '\(m)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected a ModelFileError, got \(type(of: error)): \(error)", file: file, line: line)
    }
}

/// Bitwise equality of float arrays (so -0 and 0 differ, and the first mismatch is reported).
func assertBitwiseEqual(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): counts differ", file: file, line: line)
    for i in 0..<min(a.count, b.count) where a[i].bitPattern != b[i].bitPattern {
        XCTFail("\(what): element \(i) is \(a[i]) (0x\(String(a[i].bitPattern, radix: 16))), expected \(b[i]) (0x\(String(b[i].bitPattern, radix: 16)))",
                file: file, line: line)
        return
    }
}

/// Little-endian byte builder for hand-made (and deliberately broken) files.
struct ByteBuilder {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func raw(_ s: String) { bytes += Array(s.utf8) }
    /// A GGUF string: u64 length + UTF-8 bytes.
    mutating func ggufString(_ s: String) { u64(UInt64(s.utf8.count)); raw(s) }
    mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }
}
