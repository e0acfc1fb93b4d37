import Foundation
import TestSupport
import Triage
import XCTest
@testable import Training

/// Class balance and the epoch sampler. Class weights are scikit-learn's `compute_class_weight("balanced")`;
/// epoch orders come from an independent Python SplitMix64 / Fisher–Yates / class-balanced draw written in
/// tools/make_training_data_fixtures.py.
final class SamplerTests: XCTestCase {
    func expected() throws -> [String: Any] { try TestPaths.json("training-data/expected.json") }

    func testClassWeightsMatchScikitLearnAndBalancingDefaultsOn() throws {
        let m = try TrainingManifest.load(path: TestPaths.fixture("training-data/manifest.csv").path, profile: .standard)
        let b = try ClassBalance(manifest: m)
        let want = try XCTUnwrap(try expected()["class_weights"] as? [String: Double])
        XCTAssertEqual(b.counts, [5, 2])
        XCTAssertEqual(b.classWeights[0], try XCTUnwrap(want["patent"]), accuracy: 1e-12)
        XCTAssertEqual(b.classWeights[1], try XCTUnwrap(want["blocked"]), accuracy: 1e-12)
        XCTAssertEqual(b.minorityShare, 2.0 / 7.0, accuracy: 1e-15)
        XCTAssertEqual(b.minorityLabel, "blocked")
        XCTAssertTrue(b.isImbalanced)
        XCTAssertEqual(b.defaultMode, .sampler)
        XCTAssertEqual(b.lossWeights(mode: .sampler), [1, 1])
        XCTAssertEqual(b.lossWeights(mode: .none), [1, 1])
        XCTAssertEqual(b.lossWeight(of: "blocked", mode: .weights), 1.75)
        XCTAssertEqual(b.lossWeight(of: "patent", mode: .weights), 0.7)
    }

    func testBalanceOptionAndRunSummary() throws {
        let m = try TrainingManifest.load(path: TestPaths.fixture("training-data/manifest-bad.csv").path, profile: .standard, skipBadRows: true)
        let b = try ClassBalance(manifest: m)
        XCTAssertEqual(b.counts, [1, 1])
        XCTAssertEqual(try BalanceMode.resolve("auto", balance: b), .none, "1:1 is balanced")
        XCTAssertEqual(try BalanceMode.resolve("Weights", balance: b), .weights)
        XCTAssertEqual(try BalanceMode.resolve("auto", balance: try ClassBalance(labels: ["patent", "blocked"], counts: [9, 1])), .sampler)
        XCTAssertThrowsError(try BalanceMode.resolve("oversample", balance: b))
        let summary = TrainingDataSummary(manifest: m, balance: b, mode: .weights, seed: 5)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(summary)) as? [String: Any])
        XCTAssertEqual(obj["sha256"] as? String, m.sha256)
        XCTAssertEqual(obj["rows"] as? NSNumber, 2)
        XCTAssertEqual((obj["skipped"] as? [Any])?.count, 6)
        XCTAssertEqual(obj["balance"] as? String, "weights")
        XCTAssertEqual(obj["class_counts"] as? [String: NSNumber], ["patent": 1, "blocked": 1])
        XCTAssertEqual(try JSONDecoder().decode(TrainingDataSummary.self, from: try JSONEncoder().encode(summary)), summary)
    }

    func testThirtyPercentIsTheBoundary() throws {
        // 3 of 10 is not under 30 %: no balancing by default; 29 of 100 is.
        XCTAssertEqual(try ClassBalance(labels: ["patent", "blocked"], counts: [7, 3]).defaultMode, .none)
        XCTAssertEqual(try ClassBalance(labels: ["patent", "blocked"], counts: [71, 29]).defaultMode, .sampler)
        XCTAssertEqual(try ClassBalance(labels: ["patent", "blocked"], counts: [1, 1]).classWeights, [1, 1])
        XCTAssertThrowsError(try ClassBalance(labels: ["patent", "blocked"], counts: [4, 0]))
        XCTAssertThrowsError(try ClassBalance(labels: ["patent"], counts: [4]))
    }

    func testEpochOrdersMatchTheReference() throws {
        let e = try expected()
        let classes = ints(e["sampler_classes"])
        let cases = try XCTUnwrap(e["sampler"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 18)
        for c in cases {
            let mode = try XCTUnwrap(BalanceMode(rawValue: c["mode"] as? String ?? ""))
            let seed = try XCTUnwrap(UInt64(c["seed"] as? String ?? ""))
            let epoch = try XCTUnwrap((c["epoch"] as? NSNumber)?.intValue)
            let got = EpochSampler.order(classOfRow: classes, classCount: 2, mode: mode, seed: seed, epoch: epoch)
            XCTAssertEqual(got, ints(c["order"]), "\(mode) seed \(seed) epoch \(epoch)")
            if mode == .none { XCTAssertEqual(got.sorted(), Array(0..<classes.count), "a permutation") }
        }
        // Weighted-loss epochs visit rows exactly as unweighted ones.
        XCTAssertEqual(EpochSampler.order(classOfRow: classes, classCount: 2, mode: .weights, seed: 42, epoch: 1),
                       EpochSampler.order(classOfRow: classes, classCount: 2, mode: .none, seed: 42, epoch: 1))
    }

    func testBalancedSamplerEvensOutAnImbalancedSet() throws {
        let long = try XCTUnwrap(try expected()["sampler_long"] as? [String: Any])
        let classes = ints(long["classes"])
        let order = EpochSampler.order(classOfRow: classes, classCount: 2, mode: .sampler, seed: 7, epoch: 0)
        XCTAssertEqual(order, ints(long["order"]))
        let minority = order.filter { classes[$0] == 1 }.count
        XCTAssertEqual(minority, 49, "10 % of the rows, about half of the draws")
    }

    /// Saving the state mid-epoch (and at an epoch boundary) and resuming gives the same draws.
    func testResumeContinuesBitForBit() throws {
        let classes = [0, 1, 0, 0, 1, 0, 0]
        for mode in BalanceMode.allCases {
            var a = try EpochSampler(classOfRow: classes, classCount: 2, mode: mode, seed: 99)
            var draws: [(Int, Int)] = []
            var saved: [Int: EpochSampler.State] = [:]
            for step in 0..<30 {
                if [4, 7, 16].contains(step) { saved[step] = a.state }
                let d = a.next()
                draws.append((d.epoch, d.row))
            }
            XCTAssertEqual(draws.map(\.0), (0..<30).map { $0 / 7 })
            for e in 0..<4 {
                XCTAssertEqual(draws[(7 * e)..<(7 * e + 7)].map(\.1),
                               EpochSampler.order(classOfRow: classes, classCount: 2, mode: mode, seed: 99, epoch: e), "\(mode) epoch \(e)")
            }
            for (step, state) in saved {
                // Through JSON, as a checkpoint stores it.
                let json = try JSONEncoder().encode(state)
                let restored = try JSONDecoder().decode(EpochSampler.State.self, from: json)
                XCTAssertEqual(restored, state)
                var b = try EpochSampler(classOfRow: classes, classCount: 2, mode: mode, seed: 99, state: restored)
                let rest = (step..<30).map { _ -> [Int] in let d = b.next(); return [d.epoch, d.row] }
                XCTAssertEqual(rest, draws[step...].map { [$0.0, $0.1] }, "\(mode) resumed at \(step)")
            }
        }
    }

    func testSamplerRejectsBadSetups() throws {
        XCTAssertThrowsError(try EpochSampler(classOfRow: [], classCount: 2, mode: .none, seed: 1))
        XCTAssertThrowsError(try EpochSampler(classOfRow: [0, 2], classCount: 2, mode: .none, seed: 1))
        XCTAssertThrowsError(try EpochSampler(classOfRow: [0, 0], classCount: 2, mode: .sampler, seed: 1))
        XCTAssertNoThrow(try EpochSampler(classOfRow: [0, 0], classCount: 2, mode: .none, seed: 1))
        XCTAssertThrowsError(try EpochSampler(classOfRow: [0, 1], classCount: 2, mode: .none, seed: 1,
                                              state: EpochSampler.State(seed: 2)), "state of another seed")
        XCTAssertThrowsError(try EpochSampler(classOfRow: [0, 1], classCount: 2, mode: .none, seed: 1,
                                              state: EpochSampler.State(seed: 1, epoch: 0, position: 3)), "position past the epoch")
    }
}
