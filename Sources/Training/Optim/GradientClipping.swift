import Tensor

/// Gradient clipping by the norm of all gradients together (`torch.nn.utils.clip_grad_norm_`).
public enum GradientClipping {
    /// Which norm measures the gradients (torch's norm_type 2 or inf).
    public enum Norm: String, Codable, Sendable {
        case l2
        case infinity
    }

    /// The norm of all gradients taken as one vector (summed in double, returned as float32 like torch's).
    public static func globalNorm(_ parameters: [Parameter], norm: Norm = .l2) -> Float {
        var acc = 0.0
        for p in parameters {
            let g = p.grad.f32
            switch norm {
            case .l2:
                for j in 0..<p.count { let x = Double(g[j]); acc += x * x }
            case .infinity:
                for j in 0..<p.count { acc = max(acc, Double(abs(g[j]))) }
            }
        }
        return Float(norm == .l2 ? acc.squareRoot() : acc)
    }

    /// Scales every gradient by max_norm / (total + 1e-6) when that is below 1 and returns the norm before
    /// clipping. A non-finite norm leaves the gradients as they are (torch would turn them into NaN); the
    /// caller sees it in the return value and should skip the step.
    @discardableResult
    public static func clip(_ parameters: [Parameter], maxNorm: Double, norm: Norm = .l2) -> Float {
        let total = globalNorm(parameters, norm: norm)
        guard total.isFinite, maxNorm > 0 else { return total }
        let coef = Float(maxNorm) / (total + Float(1e-6))
        guard coef < 1 else { return total }
        for p in parameters {
            let g = p.grad.f32
            for j in 0..<p.count { g[j] *= coef }
        }
        return total
    }
}
