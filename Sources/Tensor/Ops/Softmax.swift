import CKernels

extension Ops {
    /// Softmax in place over the first `cols` entries of each of `rows` rows (row stride `rowStride`);
    /// −∞ entries become 0, and a row of only −∞ becomes all 0.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, rowStride: Int) {
        ck_softmax_rows(x, Int64(rows), Int64(cols), Int64(rowStride))
    }

    /// Backward of `softmax` from its output `p` [rows, cols]: ds = p ∘ (dp − Σⱼ pⱼ dpⱼ) (`ds` may alias `dp`).
    public static func softmaxBackward(_ p: UnsafePointer<Float>, dp: UnsafePointer<Float>, ds: UnsafeMutablePointer<Float>,
                                       rows: Int, cols: Int) {
        ck_softmax_backward_rows(p, dp, ds, Int64(rows), Int64(cols))
    }
}
