import Foundation
import TestSupport
import XCTest
@testable import Training

/// Learning-rate schedules against transformers (training-optim/schedules.json: the rate the optimiser saw at
/// each step of whole runs, warm-up as steps or as a ratio resolved by TrainingArguments).
final class ScheduleTests: XCTestCase {
    func testEqualToTransformers() throws {
        let cases = try OptimFixtures.load(OptimFixtures.Schedules.self, "schedules.json").cases
        XCTAssertEqual(cases.count, 8)
        for c in cases {
            let kind = try XCTUnwrap(LearningRateSchedule.Kind(rawValue: c.kind))
            let warmup: LearningRateSchedule.Warmup
            if let r = c.warmupRatio { warmup = .ratio(r) } else { warmup = .steps(try XCTUnwrap(c.warmupSteps)) }
            let s = try LearningRateSchedule(kind: kind, baseLearningRate: c.baseLr, warmup: warmup, totalSteps: c.totalSteps)
            XCTAssertEqual(s.warmupSteps, c.resolvedWarmup, "\(c)")
            XCTAssertEqual((0..<c.totalSteps).map { s.learningRate(atStep: $0) }, c.lrs, "\(kind) warm-up \(warmup) total \(c.totalSteps)")
        }
    }

    /// Our AdamW defaults are transformers' TrainingArguments defaults (recorded in the fixture).
    func testDefaultsMatchTrainingArguments() throws {
        let d = try OptimFixtures.load(OptimFixtures.Schedules.self, "schedules.json").trainingArgumentsDefaults
        let s = AdamW.Settings()
        XCTAssertEqual(s.beta1, d.adamBeta1)
        XCTAssertEqual(s.beta2, d.adamBeta2)
        XCTAssertEqual(s.epsilon, d.adamEpsilon)
        XCTAssertEqual(s.weightDecay, d.weightDecay)
        XCTAssertEqual(LearningRateSchedule.Kind(rawValue: d.lrSchedulerType), .linear)
        XCTAssertEqual(d.maxGradNorm, 1.0)
    }

    /// Hand-computed values: linear, warm-up 2 of 6 steps, base 1: 0, 0.5, 1, 0.75, 0.5, 0.25; cosine at the
    /// middle of the decay 0.5; constant after warm-up 1.
    func testByHand() throws {
        let lin = try LearningRateSchedule(kind: .linear, baseLearningRate: 1, warmup: .steps(2), totalSteps: 6)
        XCTAssertEqual((0..<6).map { lin.learningRate(atStep: $0) }, [0, 0.5, 1, 0.75, 0.5, 0.25])
        XCTAssertEqual(lin.learningRate(atStep: 9), 0)
        let cos = try LearningRateSchedule(kind: .cosine, baseLearningRate: 2, warmup: .steps(0), totalSteps: 10)
        XCTAssertEqual(cos.learningRate(atStep: 0), 2)
        XCTAssertEqual(cos.learningRate(atStep: 5), 1, accuracy: 1e-15)
        let con = try LearningRateSchedule(kind: .constant, baseLearningRate: 3, warmup: .ratio(0.25), totalSteps: 8)
        XCTAssertEqual(con.warmupSteps, 2)
        XCTAssertEqual((0..<4).map { con.learningRate(atStep: $0) }, [0, 1.5, 3, 3])
    }

    /// transformers 5.24 Trainer: steps per epoch = ceil(ceil(examples / batch) / accumulation), at least 1.
    func testStepCounts() {
        XCTAssertEqual(LearningRateSchedule.stepsPerEpoch(examples: 50, batchSize: 1, gradientAccumulation: 8), 7)  // 6 × 8 + 2
        XCTAssertEqual(LearningRateSchedule.totalSteps(examples: 50, batchSize: 1, gradientAccumulation: 8, epochs: 2), 14)
        XCTAssertEqual(LearningRateSchedule.stepsPerEpoch(examples: 64, batchSize: 1, gradientAccumulation: 8), 8)
        XCTAssertEqual(LearningRateSchedule.stepsPerEpoch(examples: 10, batchSize: 4, gradientAccumulation: 2), 2)  // 3 batches
        XCTAssertEqual(LearningRateSchedule.stepsPerEpoch(examples: 3, batchSize: 1, gradientAccumulation: 8), 1)
        XCTAssertEqual(LearningRateSchedule.stepsPerEpoch(examples: 0, batchSize: 1, gradientAccumulation: 8), 1)
    }

    func testRejectsBadSettings() {
        XCTAssertThrowsError(try LearningRateSchedule(kind: .linear, baseLearningRate: 1, warmup: .ratio(1.5), totalSteps: 4))
        XCTAssertThrowsError(try LearningRateSchedule(kind: .linear, baseLearningRate: 1, warmup: .steps(-1), totalSteps: 4))
        XCTAssertThrowsError(try LearningRateSchedule(kind: .linear, baseLearningRate: .nan, warmup: .steps(0), totalSteps: 4))
    }

    func testCodableRoundTrip() throws {
        let s = try LearningRateSchedule(kind: .cosine, baseLearningRate: 2e-5, warmup: .ratio(0.03), totalSteps: 100)
        XCTAssertEqual(try JSONDecoder().decode(LearningRateSchedule.self, from: JSONEncoder().encode(s)), s)
    }
}
