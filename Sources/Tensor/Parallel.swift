import CKernels
import Dispatch

/// Our own data-parallel loops. Inside a worker the GEMM library is limited to one thread so the two
/// levels of parallelism never oversubscribe the cores.
public enum Parallel {
    /// Cores the process may use.
    public static let cores: Int = max(1, Int(ck_max_threads()))

    /// Runs `body(i)` for i in 0..<count across the cores; serial when count or cores is 1.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || cores <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        let workers = min(cores, count)
        withoutActuallyEscaping(body) { escapable in
            // The closure only runs inside concurrentPerform, which returns after every iteration finished.
            nonisolated(unsafe) let run = escapable
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                ck_set_local_threads(1)
                var i = w
                while i < count {
                    run(i)
                    i += workers
                }
                ck_set_local_threads(Int32(cores))
            }
        }
    }

    /// Splits 0..<count into `parts` contiguous ranges of nearly equal length and runs `body(start, length)` for
    /// each across the cores (at most `count` ranges; none when count is 0).
    public static func forEachRange(_ count: Int, parts: Int = cores, _ body: (_ start: Int, _ length: Int) -> Void) {
        let parts = max(1, min(parts, count))
        forEach(parts) { p in
            let lo = p * count / parts, hi = (p + 1) * count / parts
            if hi > lo { body(lo, hi - lo) }
        }
    }
}
