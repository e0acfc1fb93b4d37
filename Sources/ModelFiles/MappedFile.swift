import Foundation
import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Tensors view its pages through borrowing `TensorStorage`s
/// that keep this object (and so the mapping) alive; nothing is copied.
///
/// The mapping is `PROT_READ`: writing through a tensor that views it faults, which is the point —
/// weights loaded from disk are shared and immutable.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with (used in every error message).
    public let path: String
    /// File size in bytes.
    public let size: Int
    /// First byte of the mapping.
    public let base: UnsafeRawPointer

    /// Maps the file at `url`.
    public convenience init(url: URL) throws {
        try self.init(path: url.path)
    }

    /// Maps the file at `path`; throws `notFound`, `notRegularFile`, `emptyFile` or `unreadable`.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw ModelFileError.notFound(path: path) }
            throw ModelFileError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelFileError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ModelFileError.notRegularFile(path: path) }
        let size = Int(info.st_size)
        guard size > 0 else { throw ModelFileError.emptyFile(path: path) }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw ModelFileError.unreadable(path: path, reason: "mmap: " + String(cString: strerror(errno)))
        }
        self.size = size
        self.base = UnsafeRawPointer(mapped)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }

    /// Reads the file into the page cache in the background when less than 90 % of it is there (a cold
    /// start): one utility thread reads it sequentially with `pread` in 8 MiB chunks (nothing is mapped or
    /// copied into the process), so a large checkpoint streams in at the disk's sequential rate while the
    /// model starts, instead of page by page as the first products touch their weights. With the pages
    /// already cached (`mincore`) it does nothing. Best effort: a failure only ends the read-ahead.
    public func prefetch() {
        #if os(Linux)
        let path = self.path, size = self.size
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (size + pageSize - 1) / pageSize)
        let resident = vector.withUnsafeMutableBufferPointer { v -> Int in
            guard mincore(UnsafeMutableRawPointer(mutating: base), size, v.baseAddress) == 0 else { return v.count }
            return v.reduce(0) { $0 + Int($1 & 1) }
        }
        if resident * 10 >= vector.count * 9 { return }
        let thread = Thread {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            defer { close(fd) }
            let chunk = 8 << 20
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
            defer { buffer.deallocate() }
            var offset = 0
            while offset < size {
                let n = pread(fd, buffer, min(chunk, size - offset), off_t(offset))
                if n <= 0 { return }
                offset += n
            }
        }
        thread.qualityOfService = .utility
        thread.start()
        #endif
    }

    /// Whether `[offset, offset + count)` lies inside the file.
    public func contains(offset: Int, count: Int) -> Bool {
        offset >= 0 && count >= 0 && offset <= size && count <= size - offset
    }

    /// A storage that borrows `byteCount` bytes at `offset` and keeps this mapping alive; throws `truncated`
    /// when the range does not lie inside the file.
    public func storage(offset: Int, byteCount: Int) throws -> TensorStorage {
        guard contains(offset: offset, count: byteCount) else {
            throw ModelFileError.truncated(path: path, what: "\(byteCount) bytes at offset \(offset)",
                                           needed: offset.addingReportingOverflow(byteCount).partialValue, available: size)
        }
        return TensorStorage(borrowing: UnsafeMutableRawPointer(mutating: base + offset), byteCount: byteCount, owner: self)
    }

}

/// A bounds-checked little-endian cursor over a mapped file, throwing `truncated` with the file name
/// and what was being read when a length runs past the end.
struct ByteReader {
    let file: MappedFile
    var offset: Int

    init(_ file: MappedFile, offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    var remaining: Int { file.size - offset }

    /// Throws unless `count` more bytes are available.
    func require(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, count <= file.size - offset else {
            let needed = count >= 0 && count <= Int.max - offset ? offset + count : Int.max
            throw ModelFileError.truncated(path: file.path, what: what(), needed: needed, available: file.size)
        }
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, what())
        let v = file.base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A length that must fit an `Int`; stored as UInt64 in GGUF.
    mutating func readCount(_ what: @autoclosure () -> String) throws -> Int {
        let v = try read(UInt64.self, what())
        guard v <= UInt64(Int.max) else {
            throw ModelFileError.malformed(path: file.path, what: what(), expected: "a count below 2^63, found \(v)")
        }
        return Int(v)
    }

    /// UTF-8 bytes (invalid sequences are repaired, as GGUF vocabularies occasionally hold raw bytes).
    mutating func readString(length: Int, _ what: @autoclosure () -> String) throws -> String {
        try require(length, what())
        let buffer = UnsafeRawBufferPointer(start: file.base + offset, count: length)
        offset += length
        return String(decoding: buffer, as: UTF8.self)
    }
}
