import Foundation
@testable import ModelFiles
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The cold-start read-ahead: a mapped file evicted from the page cache is read back into it in the
/// background by `prefetch()`, which returns at once and leaves the mapping's contents as they are.
final class MappedFilePrefetchTests: XCTestCase {
    private func residentShare(_ file: MappedFile) -> Double {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (file.size + page - 1) / page)
        let ok = vector.withUnsafeMutableBufferPointer { mincore(UnsafeMutableRawPointer(mutating: file.base), file.size, $0.baseAddress) == 0 }
        XCTAssertTrue(ok)
        return Double(vector.reduce(0) { $0 + Int($1 & 1) }) / Double(vector.count)
    }

    func testPrefetchReadsAnEvictedFileBackInTheBackground() throws {
        #if os(Linux)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("prefetch-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        let size = 96 << 20
        var bytes = [UInt8](repeating: 0, count: size)
        for i in stride(from: 0, to: size, by: 4096) { bytes[i] = UInt8(truncatingIfNeeded: i >> 12) }
        try Data(bytes).write(to: url)
        // Written pages are dirty; flush them, then drop them from the page cache (allowed for clean pages).
        let fd = open(url.path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(fdatasync(fd), 0)
        XCTAssertEqual(posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED)), 0)
        close(fd)

        let file = try MappedFile(url: url)
        let before = residentShare(file)
        try XCTSkipIf(before > 0.5, "the kernel kept \(Int(before * 100)) % of the file cached despite POSIX_FADV_DONTNEED")
        let start = Date()
        file.prefetch()
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5, "prefetch returns at once")
        var after = residentShare(file)
        let deadline = Date().addingTimeInterval(20)
        while after < 0.9 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            after = residentShare(file)
        }
        XCTAssertGreaterThanOrEqual(after, 0.9, "read back into the page cache (from \(before))")
        // The contents seen through the mapping are the file's.
        let p = file.base.assumingMemoryBound(to: UInt8.self)
        for i in stride(from: 0, to: size, by: 4096 * 97) { XCTAssertEqual(p[i], UInt8(truncatingIfNeeded: i >> 12)) }
        // Already cached: nothing to do, and still prompt.
        let again = Date()
        file.prefetch()
        XCTAssertLessThan(Date().timeIntervalSince(again), 0.5)
        #endif
    }
}
