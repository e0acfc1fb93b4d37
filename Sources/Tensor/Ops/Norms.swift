import CKernels

extension Ops {
    /// Gemma RMSNorm over `rows` rows of `dim`: y = x / sqrt(mean(x²) + eps) · (addOne + w).
    /// `y` may alias `x`.
    public static func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, dim: Int, weight: UnsafePointer<Float>, addOne: Float = 1,
                               eps: Float, into y: UnsafeMutablePointer<Float>) {
        ck_rmsnorm_rows(x, y, weight, addOne, eps, Int64(rows), Int64(dim))
    }

    /// Backward of `rmsNorm` at input `x`: dx = ∂L/∂x (overwritten, may alias `dy`), dWeight += ∂L/∂w.
    public static func rmsNormBackward(_ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int, dim: Int,
                                       weight: UnsafePointer<Float>, addOne: Float = 1, eps: Float,
                                       dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?) {
        ck_rmsnorm_rows_backward(x, dy, weight, addOne, eps, Int64(rows), Int64(dim), dx, dWeight)
    }

    /// LayerNorm over `rows` rows of `dim`: y = (x − mean) / sqrt(var + eps) · w + b. `y` may alias `x`.
    public static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, dim: Int, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>, eps: Float, into y: UnsafeMutablePointer<Float>) {
        ck_layernorm_rows(x, y, weight, bias, eps, Int64(rows), Int64(dim))
    }

    /// Backward of `layerNorm` at input `x`: dx overwritten (may alias `dy`), dWeight and dBias accumulated.
    public static func layerNormBackward(_ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int, dim: Int,
                                         weight: UnsafePointer<Float>, eps: Float, dx: UnsafeMutablePointer<Float>,
                                         dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?) {
        ck_layernorm_rows_backward(x, dy, weight, eps, Int64(rows), Int64(dim), dx, dWeight, dBias)
    }
}
