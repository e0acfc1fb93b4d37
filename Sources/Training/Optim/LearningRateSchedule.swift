import Foundation

/// The learning rate per optimiser step as transformers' schedules give it (`get_linear_schedule_with_warmup`,
/// the Trainer's default; `get_cosine_schedule_with_warmup`; `get_constant_schedule_with_warmup`): a linear
/// warm-up from 0, then linear decay to 0, a half cosine to 0, or constant. The same double arithmetic as
/// the Python lambdas, so the values are equal, not merely close.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    /// The shape after warm-up (transformers' lr_scheduler_type names).
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case linear, cosine, constant
    }

    /// Warm-up as a number of optimiser steps or as a fraction of all steps.
    public enum Warmup: Codable, Equatable, Sendable {
        case steps(Int)
        case ratio(Double)

        /// Steps of warm-up in a run of `totalSteps` (TrainingArguments.get_warmup_steps: a ratio r in [0, 1)
        /// gives ceil(total · r)).
        public func steps(totalSteps: Int) -> Int {
            switch self {
            case .steps(let n): return n
            case .ratio(let r): return Int((Double(totalSteps) * r).rounded(.up))
            }
        }
    }

    /// The shape after warm-up.
    public var kind: Kind
    /// The peak learning rate (reached at the end of warm-up).
    public var baseLearningRate: Double
    /// Warm-up in optimiser steps (a ratio already resolved).
    public var warmupSteps: Int
    /// Optimiser steps of the whole run.
    public var totalSteps: Int
    /// Cosine cycles (transformers' `num_cycles`, 0.5 = half a cosine down to 0).
    public var cycles: Double

    /// A schedule of `totalSteps` optimiser steps; throws on negative counts or a ratio outside [0, 1).
    public init(kind: Kind, baseLearningRate: Double, warmup: Warmup, totalSteps: Int, cycles: Double = 0.5) throws {
        guard totalSteps >= 0 else { throw TrainingArtifactError.invalidArgument("schedule: total steps must not be negative, got \(totalSteps)") }
        switch warmup {
        case .steps(let n) where n < 0:
            throw TrainingArtifactError.invalidArgument("schedule: warm-up steps must not be negative, got \(n)")
        case .ratio(let r) where !(r >= 0 && r < 1):
            throw TrainingArtifactError.invalidArgument("schedule: warm-up ratio must be in [0, 1), got \(r)")
        default: break
        }
        guard baseLearningRate.isFinite, baseLearningRate >= 0 else {
            throw TrainingArtifactError.invalidArgument("schedule: learning rate must be a non-negative number, got \(baseLearningRate)")
        }
        self.kind = kind
        self.baseLearningRate = baseLearningRate
        self.warmupSteps = warmup.steps(totalSteps: totalSteps)
        self.totalSteps = totalSteps
        self.cycles = cycles
    }

    /// Optimiser steps in one epoch as transformers 5's Trainer counts them: ceil(examples / batch size)
    /// batches, grouped by `gradientAccumulation` with a shorter last group (at least 1 step).
    public static func stepsPerEpoch(examples: Int, batchSize: Int, gradientAccumulation: Int) -> Int {
        let batches = (max(0, examples) + max(1, batchSize) - 1) / max(1, batchSize)
        let accumulation = max(1, gradientAccumulation)
        return max(1, (batches + accumulation - 1) / accumulation)
    }

    /// Optimiser steps of a whole run (`stepsPerEpoch` × epochs).
    public static func totalSteps(examples: Int, batchSize: Int, gradientAccumulation: Int, epochs: Int) -> Int {
        stepsPerEpoch(examples: examples, batchSize: batchSize, gradientAccumulation: gradientAccumulation) * max(0, epochs)
    }

    /// The multiplier of the base rate after `step` optimiser steps (the Python lambda of the same name).
    public func factor(atStep step: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        switch kind {
        case .constant:
            return 1
        case .linear:
            return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            return max(0, 0.5 * (1 + Foundation.cos(Double.pi * cycles * 2 * progress)))
        }
    }

    /// The learning rate of the optimiser step taken after `step` earlier steps (0 for the first step of a
    /// run with warm-up, as with transformers' LambdaLR).
    public func learningRate(atStep step: Int) -> Double { baseLearningRate * factor(atStep: step) }
}
