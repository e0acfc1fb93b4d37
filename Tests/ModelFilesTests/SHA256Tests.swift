import Foundation
import XCTest
@testable import ModelFiles

/// FIPS 180-4 test vectors, and chunked updates equal to one-shot hashing.
final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256Hasher.hex(of: Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256Hasher.hex(of: Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256Hasher.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256Hasher.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testChunkedUpdatesAndFiles() throws {
        var bytes = [UInt8](repeating: 0, count: 10_007)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 7) }
        let whole = SHA256Hasher.hex(of: Data(bytes))
        var h = SHA256Hasher()
        var i = 0
        for step in [1, 63, 64, 65, 127, 1000, 3] where i < bytes.count {
            let n = min(step, bytes.count - i)
            bytes[i..<(i + n)].withUnsafeBytes { h.update($0) }
            i += n
        }
        bytes[i...].withUnsafeBytes { h.update($0) }
        XCTAssertEqual(h.finalizeHex(), whole)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        try Data(bytes).write(to: url)
        XCTAssertEqual(try SHA256Hasher.hex(ofFile: url.path), whole)
    }
}

/// Several files hashed at once give each file's own digest, in order; a missing file names itself.
final class SHA256ManyFilesTests: XCTestCase {
    func testConcurrentFileDigestsMatchOneByOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sha-many-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var paths: [String] = []
        for n in [1, 70_000_001, 64, 3_000] {
            var bytes = [UInt8](repeating: 0, count: n)
            for i in stride(from: 0, to: n, by: 4093) { bytes[i] = UInt8(truncatingIfNeeded: i / 4093 &+ n) }
            let url = dir.appendingPathComponent("f\(n)")
            try Data(bytes).write(to: url)
            paths.append(url.path)
        }
        let many = try SHA256Hasher.hex(ofFiles: paths)
        XCTAssertEqual(many, try paths.map { try SHA256Hasher.hex(ofFile: $0) })
        // Independent check of the multi-step (64 MiB) path against coreutils.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [paths[1]]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(many[1], String(text.prefix(64)))
        XCTAssertThrowsError(try SHA256Hasher.hex(ofFiles: [paths[0], dir.appendingPathComponent("missing").path])) { e in
            XCTAssertTrue("\(e)".contains("missing"), "\(e)")
        }
        try? FileManager.default.removeItem(at: dir)
    }
}
