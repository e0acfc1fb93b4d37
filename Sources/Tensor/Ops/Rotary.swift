import CKernels

extension Ops {
    /// Rotary embedding in place, "rotate half" layout: each of `rows` rows holds `heads` heads of
    /// `headDim` (row stride `rowStride`), and in every head x[i], x[i + headDim/2] rotate by the angle
    /// whose cosine and sine are `cos` / `sin` [rows, headDim/2].
    public static func rope(_ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim: Int,
                            cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, rowStride: Int) {
        ck_rope_rows(x, Int64(rows), Int64(heads), Int64(headDim), cos, sin, Int64(rowStride))
    }

    /// Backward of `rope`, in place on the gradient: the rotation's transpose is the rotation by the opposite
    /// angle, so `dx` turns by the same `cos` and the negated sine `negatedSin` (−sin, exact).
    public static func ropeBackward(_ dx: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim: Int,
                                    cos: UnsafePointer<Float>, negatedSin: UnsafePointer<Float>, rowStride: Int) {
        ck_rope_rows(dx, Int64(rows), Int64(heads), Int64(headDim), cos, negatedSin, Int64(rowStride))
    }
}
