import Foundation

/// A block of bytes that backs tensors: either allocated here (and freed on release) or borrowed from an
/// owner such as a memory-mapped file, which the storage keeps alive.
public final class TensorStorage: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    private let owned: Bool
    private let owner: AnyObject?
    /// True for memory owned elsewhere (a memory-mapped file).
    public var isBorrowed: Bool { !owned }

    /// Allocates `byteCount` zeroed bytes, 64-byte aligned for vector loads.
    public init(zeroedByteCount byteCount: Int) {
        let n = max(byteCount, 1)
        base = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: n)
        self.byteCount = byteCount
        owned = true
        owner = nil
    }

    /// Allocates `byteCount` bytes without clearing them; for buffers that are fully written before use.
    public init(uninitializedByteCount byteCount: Int) {
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        self.byteCount = byteCount
        owned = true
        owner = nil
    }

    /// Wraps memory owned by `owner` (kept alive as long as this storage lives).
    public init(borrowing base: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.base = base
        self.byteCount = byteCount
        owned = false
        self.owner = owner
    }

    deinit {
        if owned { base.deallocate() }
    }
}
