import CKernels

extension Ops {
    /// y += x over `count` elements (residual updates, gradient sums). Its backward is the identity on
    /// both operands (the caller adds the incoming gradient where each operand came from).
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        ck_add(y, x, count)
    }

    /// Each of `rows` rows of x [rows, cols] += bias [cols]. Backward: ∂bias = Σ over rows of ∂x.
    public static func addBias(_ bias: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        ck_add_bias_rows(x, bias, Int64(rows), Int64(cols))
    }

    /// x ← s · x over `count` elements. Backward: the same scaling of the gradient.
    public static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by s: Float) {
        ck_scale(x, count, s)
    }

    /// Index of the first maximum of x[0..<count] (NaN never wins); 0 for an empty range.
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        Int(ck_argmax(x, Int64(count)))
    }
}
