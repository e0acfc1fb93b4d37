import CKernels

extension Ops {
    /// GELU, tanh approximation, in place: x ← 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).
    public static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        ck_gelu_tanh(x, count)
    }

    /// Backward of `geluTanh` at input `x`: dx = dy · gelu′(x) (`dx` may alias `dy`).
    public static func geluTanhBackward(_ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                        count: Int) {
        ck_gelu_tanh_backward(x, dy, dx, count)
    }

    /// The gated feed-forward's activation: out = gelu_tanh(gate) · up (`out` may alias `gate` or `up`).
    public static func geluTanhMul(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                   count: Int) {
        ck_gelu_tanh_mul(gate, up, out, count)
    }

    /// Backward of `geluTanhMul`: dGate = dOut · gelu′(gate) · up, dUp = dOut · gelu(gate), both overwritten
    /// (each may alias `dOut`, not each other).
    public static func geluTanhMulBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                           dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int) {
        ck_gelu_tanh_mul_backward(gate, up, dOut, dGate, dUp, count)
    }
}
