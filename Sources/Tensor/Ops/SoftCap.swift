import CKernels

extension Ops {
    /// Soft-capping in place: x ← cap · tanh(x / cap).
    public static func softcap(_ x: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
        ck_softcap(x, count, cap)
    }

    /// Backward of `softcap` from its output `capped`: dy ← dy · (1 − (capped / cap)²), in place.
    public static func softcapBackward(capped: UnsafePointer<Float>, dy: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
        ck_softcap_backward(capped, dy, count, cap)
    }
}
