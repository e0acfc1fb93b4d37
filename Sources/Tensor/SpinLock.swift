import Foundation

/// A tiny mutex for rare writes from parallel workers (errors, counters).
public final class SpinLock: @unchecked Sendable {
    private let m = NSLock()
    public init() {}
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        m.lock()
        defer { m.unlock() }
        return try body()
    }
}
