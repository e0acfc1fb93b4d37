import Foundation
import Tensor

/// AdamW (Loshchilov & Hutter) with the semantics of `torch.optim.AdamW`: decoupled weight decay
/// θ ← θ·(1 − lr·wd) before the Adam step, bias-corrected moments, ε added after the square root.
/// One step count for all parameters (they are always updated together). The state (step, m, v) is
/// plain float32 tensors plus one integer, so a checkpoint stores it bit-exactly.
public final class AdamW: @unchecked Sendable {
    /// The hyper-parameters that stay fixed during a run (the learning rate comes with each step).
    public struct Settings: Codable, Equatable, Sendable {
        /// Decay of the first moment.
        public var beta1: Double
        /// Decay of the second moment.
        public var beta2: Double
        /// Added to the denominator after the square root.
        public var epsilon: Double
        /// Decoupled weight decay (θ scaled by 1 − lr·wd each step).
        public var weightDecay: Double

        /// torch's AdamW betas and epsilon; weight decay 0 as in transformers' TrainingArguments (torch's own
        /// AdamW default is 0.01, the Trainer passes 0).
        public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
        }
    }

    /// The parameters updated, in the order of the moment arrays.
    public let parameters: [Parameter]
    /// Fixed hyper-parameters of this optimiser.
    public let settings: Settings
    /// Optimiser steps taken so far (torch's `state["step"]`).
    public private(set) var stepCount: Int = 0
    /// First moments (`exp_avg`), one per parameter, same shapes.
    public let firstMoments: [Tensor]
    /// Second moments (`exp_avg_sq`).
    public let secondMoments: [Tensor]
    /// Per parameter: whether weight decay applies to it.
    public let decays: [Bool]

    /// An optimiser over `parameters` with zero moments; throws when two parameters share a name (the state
    /// is saved by name). Parameters for which `decayExempt` is true get no weight decay (the Trainer exempts
    /// biases and norms; every LoRA matrix decays).
    public init(parameters: [Parameter], settings: Settings = Settings(),
                decayExempt: (String) -> Bool = AdamW.isTrainerDecayExempt) throws {
        var seen = Set<String>()
        for p in parameters where !seen.insert(p.name).inserted {
            throw TrainingArtifactError.invalidArgument("AdamW: parameter name '\(p.name)' given twice")
        }
        for (what, v) in [("beta1", settings.beta1), ("beta2", settings.beta2)] where !(v >= 0 && v < 1) {
            throw TrainingArtifactError.invalidArgument("AdamW: \(what) must be in [0, 1), got \(v)")
        }
        guard settings.epsilon >= 0, settings.weightDecay >= 0 else {
            throw TrainingArtifactError.invalidArgument("AdamW: epsilon and weight decay must not be negative (epsilon \(settings.epsilon), weight decay \(settings.weightDecay))")
        }
        self.parameters = parameters
        self.settings = settings
        firstMoments = parameters.map { Tensor(zeros: $0.shape) }
        secondMoments = parameters.map { Tensor(zeros: $0.shape) }
        decays = parameters.map { !decayExempt($0.name) }
    }

    /// transformers' Trainer rule (`get_decay_parameter_names`): no weight decay for a parameter whose
    /// lower-cased name contains "bias", "layernorm" or "rmsnorm", or a "norm" / "_norm" module; LayerNorm
    /// modules (exempt by type there) are SigLIP's "layer_norm1/2" and "post_layernorm" here.
    public static func isTrainerDecayExempt(_ name: String) -> Bool {
        let n = name.lowercased()
        if n.contains("bias") || n.contains("layernorm") || n.contains("rmsnorm") { return true }
        let parts = n.split(separator: ".", omittingEmptySubsequences: false)
        return parts.contains { $0 == "norm" || $0.hasSuffix("_norm") || $0.hasPrefix("layer_norm") }
    }

    /// One update of every parameter from its `grad` at learning rate `learningRate`.
    ///
    /// The arithmetic follows torch's single-tensor CPU path operation by operation so that float32
    /// results are bit-equal: scalars (1 − lr·wd, bias corrections, step size) in double and rounded to
    /// float32 where torch hands them to a kernel; m by `lerp` (a fused multiply-add as in torch's vector
    /// kernel); v·β2, then + ((1 − β2)·g)·g fused (as torch's addcmul kernel is compiled); denominator
    /// sqrt(v) / sqrt(1 − β2^t) + ε; θ + (−step size)·m / denom. The one place torch differs is its CPU sqrt,
    /// which is not correctly rounded (see Tests/Fixtures/training-optim/README.md).
    public func step(learningRate lr: Double) {
        stepCount += 1
        let t = Double(stepCount)
        let bc1 = 1 - Foundation.pow(settings.beta1, t)
        let bc2 = 1 - Foundation.pow(settings.beta2, t)
        let stepSize = lr / bc1
        let bc2Sqrt = Foundation.pow(bc2, 0.5)
        let decay = Float(1 - lr * settings.weightDecay)
        let anyDecay = settings.weightDecay != 0
        let w1 = Float(1 - settings.beta1)
        let smallWeight = abs(w1) < 0.5
        let w1Complement = w1 - 1
        let b2 = Float(settings.beta2)
        let oneMinusB2 = Float(1 - settings.beta2)
        let bc2SqrtF = Float(bc2Sqrt)
        let epsF = Float(settings.epsilon)
        let negStep = Float(-stepSize)
        // Parameters are independent and every element's arithmetic is the same whichever thread runs it,
        // so the parallel loop gives the serial loop's bits.
        let params = parameters, ms = firstMoments, vs = secondMoments, decays = decays
        Parallel.forEach(params.count) { i in
            let p = params[i]
            let applyDecay = anyDecay && decays[i]
            let theta = p.value.f32, g = p.grad.f32
            let m = ms[i].f32, v = vs[i].f32
            for j in 0..<p.count {
                let gj = g[j]
                var th = theta[j]
                if applyDecay { th = th * decay }
                let mj = m[j]
                // torch's lerp: start + w·(end − start) for small w, else end + (w − 1)·(end − start), fused.
                let mNew = smallWeight ? mj.addingProduct(w1, gj - mj) : gj.addingProduct(w1Complement, gj - mj)
                let vNew = (v[j] * b2).addingProduct(oneMinusB2 * gj, gj)
                m[j] = mNew
                v[j] = vNew
                let denom = vNew.squareRoot() / bc2SqrtF + epsF
                theta[j] = th + negStep * mNew / denom
            }
        }
    }

    /// Restores a saved state: the step count and each parameter's moments (copied, shapes checked).
    public func restore(stepCount: Int, firstMoments m: [String: Tensor], secondMoments v: [String: Tensor], source: String) throws {
        guard stepCount >= 0 else { throw TrainingArtifactError.corrupt(path: source, reason: "negative optimiser step \(stepCount)") }
        for (i, p) in parameters.enumerated() {
            for (what, saved, into) in [("exp_avg", m[p.name], firstMoments[i]), ("exp_avg_sq", v[p.name], secondMoments[i])] {
                guard let saved else {
                    throw TrainingArtifactError.corrupt(path: source, reason: "no \(what) for parameter '\(p.name)'")
                }
                guard saved.shape == p.shape, saved.dtype == .f32 else {
                    throw TrainingArtifactError.corrupt(path: source,
                        reason: "\(what) of '\(p.name)' is \(saved.dtype) \(saved.shape), expected f32 \(p.shape)")
                }
                into.f32.update(from: saved.f32, count: p.count)
            }
        }
        let extra = Set(m.keys).union(v.keys).subtracting(parameters.map(\.name))
        if let name = extra.sorted().first {
            throw TrainingArtifactError.corrupt(path: source, reason: "optimiser state for '\(name)', which is not a trained parameter")
        }
        self.stepCount = stepCount
    }
}
