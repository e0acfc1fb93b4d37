import Angiography
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Paths are bytes: names that are not UTF-8 keep every byte in their escaped form, and folder scans follow
/// links to folders without looping.
final class EscapedPathTests: XCTestCase {
    func testEscapedFormIsLosslessAndReadable() {
        XCTAssertEqual(EscapedPath.escape(Array("caf".utf8) + [0xE9] + Array(".dcm".utf8)), "caf\\xe9.dcm")
        XCTAssertEqual(EscapedPath.escape(Array("a\\b/café".utf8)), "a\\\\b/café", "valid UTF-8 stays; a backslash doubles")
        XCTAssertEqual(EscapedPath.escape([0xC3]), "\\xc3", "a truncated sequence is escaped byte by byte")
        // Every single byte, every pair, and a literal "\xe9" typed as text, all read back to their bytes.
        for a in 0...255 {
            XCTAssertEqual(EscapedPath.bytes(EscapedPath.escape([UInt8(a)])), [UInt8(a)])
            for b in stride(from: 0, through: 255, by: 7) {
                let bytes: [UInt8] = [UInt8(a), UInt8(b), 0x2F]
                XCTAssertEqual(EscapedPath.bytes(EscapedPath.escape(bytes)), bytes)
            }
        }
        let literal = Array("caf\\xe9".utf8)
        XCTAssertEqual(EscapedPath.bytes(EscapedPath.escape(literal)), literal)
        XCTAssertNil(EscapedPath.plain("caf\\xe9.dcm"))
        XCTAssertEqual(EscapedPath.plain("/tmp/a.dcm"), "/tmp/a.dcm")
        XCTAssertTrue(EscapedPath.precedes("a\\xe9", "b"), "byte order: 0x61 0xE9 before 0x62")
        XCTAssertTrue(EscapedPath.precedes("Z", "a"))
    }

    /// Creates a file whose name is given as raw bytes (Foundation cannot name it).
    static func writeRaw(_ dir: URL, name: [UInt8], contents: Data) throws {
        let path = Array(dir.path.utf8) + [0x2F] + name
        var c = path.map { CChar(bitPattern: $0) }
        c.append(0)
        let fd = open(c, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    func testFolderWalkKeepsLatin1NamesFollowsFolderLinksAndReportsLoops() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("walk-\(UUID().uuidString)")
        let sub = root.appendingPathComponent("sub"), other = root.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        let dicom = try Data(contentsOf: AngioFixtures.url("xa_log.dcm"))
        try Self.writeRaw(sub, name: Array("caf".utf8) + [0xE9] + Array(".dcm".utf8), contents: dicom)
        try dicom.write(to: other.appendingPathComponent("linked.dcm"))
        let scanned = root.appendingPathComponent("scan")
        try FileManager.default.createDirectory(at: scanned, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scanned.appendingPathComponent("sub").path, withDestinationPath: sub.path)
        try FileManager.default.createSymbolicLink(atPath: scanned.appendingPathComponent("link").path, withDestinationPath: other.path)
        try FileManager.default.createSymbolicLink(atPath: sub.appendingPathComponent("up").path, withDestinationPath: "..")
        try FileManager.default.createSymbolicLink(atPath: sub.appendingPathComponent("back").path, withDestinationPath: scanned.path)
        try FileManager.default.createSymbolicLink(atPath: scanned.appendingPathComponent("dangling").path, withDestinationPath: "/nonexistent/x")
        let walk = FolderWalk(folder: scanned.path)
        XCTAssertEqual(walk.files, [scanned.path + "/link/linked.dcm", scanned.path + "/sub/caf\\xe9.dcm"])
        // sub/back leads back to the scanned folder (an ancestor); sub/up leads to root, which holds `scan` again,
        // whose sub-folders are then already scanned or ancestors: reported, never followed for ever.
        let byPath = Dictionary(walk.problems.map { ($0.path, $0.reason) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byPath[scanned.path + "/sub/back"], "symbolic link loop: leads back to a folder that contains it")
        XCTAssertEqual(byPath[scanned.path + "/dangling"], "broken symbolic link")
        XCTAssertTrue(walk.problems.allSatisfy { !$0.isError }, "\(walk.problems)")
        // The catalog reads the Latin-1 file through its bytes and keeps its escaped name.
        let catalog = try SeriesCatalog(scanningEscaped: scanned.path)
        let paths = catalog.studies.flatMap { $0.series.flatMap { $0.instances.map(\.path) } }
        XCTAssertTrue(paths.contains(scanned.path + "/sub/caf\\xe9.dcm"), "\(paths) \(catalog.rejected)")
    }
}
