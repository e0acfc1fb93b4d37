import Foundation
import TestSupport
import Triage
import XCTest
@testable import Training

/// training_run.json (every hyper-parameter, hashes, code version, per-step and per-epoch history, timing,
/// memory) and the output-directory guard.
final class RunRecordTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func record(lr: Double = 2e-5, manifest: String = String(repeating: "a", count: 64)) -> TrainingRunRecord {
        var h = TrainingHyperparameters()
        h.learningRate = lr
        return TrainingRunRecord(hyperparameters: h, baseModel: "/models/medgemma", baseModelFingerprint: "f00d",
                                 dataManifest: "train.csv", dataManifestSha256: manifest, validationManifest: "val.csv",
                                 validationManifestSha256: String(repeating: "b", count: 64),
                                 codeVersion: SoftwareVersion.current, totalSteps: 10,
                                 startedAt: Date(timeIntervalSince1970: 1_800_000_000.25))
    }

    /// The defaults are the model card's recipe plus transformers' Trainer defaults (read from the fixture
    /// the generator took from TrainingArguments).
    func testDefaults() throws {
        let h = TrainingHyperparameters()
        XCTAssertEqual([h.rank, h.batchSize, h.gradientAccumulation, h.epochs], [8, 1, 8, 2])
        XCTAssertEqual([h.alpha, h.dropout, h.learningRate], [16, 0.1, 2e-5])
        XCTAssertEqual(h.targetModules, "all-linear")
        XCTAssertEqual(h.quantization, "nf4")
        XCTAssertFalse(h.fullFineTune)
        let d = try OptimFixtures.load(OptimFixtures.Schedules.self, "schedules.json").trainingArgumentsDefaults
        XCTAssertEqual(h.adamW, AdamW.Settings(beta1: d.adamBeta1, beta2: d.adamBeta2, epsilon: d.adamEpsilon, weightDecay: d.weightDecay))
        XCTAssertEqual(h.maxGradNorm, d.maxGradNorm)
        XCTAssertEqual(h.schedule.rawValue, d.lrSchedulerType)
        XCTAssertEqual(h.warmup, .steps(0))
        var r = h
        r.warmupRatio = 0.03
        XCTAssertEqual(r.warmup, .ratio(0.03))
    }

    /// Every field the issue lists is in the file under a snake_case key, and the file reads back equal.
    func testWriteReadAndFields() throws {
        var r = record()
        r.steps = [StepRecord(step: 1, epoch: 1, tokenLoss: 0.69, learningRate: 1e-5, gradNorm: 2.5, seconds: 1.5)]
        r.epochs = [EpochRecord(epoch: 1, step: 1, trainTokenLoss: 0.6, validationLabelLoss: 0.5, sensitivity: 1, specificity: 0.95,
                                balancedAccuracy: 0.975, threshold: 0.5, criterion: 1)]
        r.best = BestCheckpoint(step: 1, epoch: 1, criterion: "sensitivity@specificity>=0.90", value: 1, path: "checkpoint-1")
        r.finishSession(seconds: 12.5, completed: true, at: Date(timeIntervalSince1970: 1_800_000_100))
        try r.write(to: dir.appendingPathComponent("out"))
        let url = dir.appendingPathComponent("out/training_run.json")
        let back = try XCTUnwrap(try TrainingRunRecord.read(from: dir.appendingPathComponent("out")))
        XCTAssertEqual(back, r)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        for key in ["format", "hyperparameters", "base_model", "base_model_fingerprint", "data_manifest", "data_manifest_sha256",
                    "validation_manifest", "validation_manifest_sha256", "code_version", "total_steps", "started_at", "ended_at",
                    "wall_seconds", "peak_memory_bytes", "steps", "epochs", "best", "completed"] {
            XCTAssertNotNil(object[key], key)
        }
        let h = try XCTUnwrap(object["hyperparameters"] as? [String: Any])
        for key in ["rank", "alpha", "dropout", "target_modules", "full_fine_tune", "learning_rate", "schedule", "warmup_steps",
                    "beta1", "beta2", "epsilon", "weight_decay", "batch_size", "gradient_accumulation", "epochs", "max_grad_norm",
                    "seed", "quantization", "balance_mode", "selection_criterion", "profile"] {
            XCTAssertNotNil(h[key], key)
        }
        XCTAssertEqual(Set(h.keys).count, 21, "a new hyper-parameter needs a line above: \(h.keys.sorted())")
        let step = try XCTUnwrap((object["steps"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(step.keys), ["step", "epoch", "token_loss", "learning_rate", "grad_norm", "seconds"])
        let epoch = try XCTUnwrap((object["epochs"] as? [[String: Any]])?.first)
        // Names that say which loss is which (they differ ~10x on a large vocabulary).
        XCTAssertEqual(epoch["train_token_loss"] as? Double, 0.6)
        XCTAssertEqual(epoch["validation_label_loss"] as? Double, 0.5)
        XCTAssertNil(epoch["train_loss"])
        XCTAssertNil(epoch["validation_loss"])
        XCTAssertEqual(object["format"] as? Int, 2)
        XCTAssertEqual(epoch["balanced_accuracy"] as? Double, 0.975)
        XCTAssertEqual(object["started_at"] as? String, "2027-01-15T08:00:00.250Z")
        XCTAssertEqual(object["ended_at"] as? String, "2027-01-15T08:01:40.000Z")
        XCTAssertEqual(object["wall_seconds"] as? Double, 12.5)
        XCTAssertEqual(object["code_version"] as? String, SoftwareVersion.current)
        XCTAssertGreaterThan(try XCTUnwrap(object["peak_memory_bytes"] as? Int), 1 << 20)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("out").path), ["training_run.json"])
    }

    /// Full training records no LoRA settings: they do not apply.
    func testFullTrainingRecordsNoLoRASettings() throws {
        let h = TrainingHyperparameters(rank: 8, alpha: 16, dropout: 0.1, targetModules: "all-linear", fullFineTune: true)
        XCTAssertNil(h.rank)
        XCTAssertNil(h.alpha)
        XCTAssertNil(h.dropout)
        XCTAssertNil(h.targetModules)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: TrainingJSON.encoder().encode(h)) as? [String: Any])
        for key in ["rank", "alpha", "dropout", "target_modules"] { XCTAssertNil(object[key], key) }
        XCTAssertEqual(object["full_fine_tune"] as? Bool, true)
        let back = try TrainingJSON.decoder().decode(TrainingHyperparameters.self, from: TrainingJSON.encoder().encode(h))
        XCTAssertEqual(back, h)
        // LoRA keeps them.
        XCTAssertEqual(TrainingHyperparameters().rank, TrainingDefaults.rank)
    }

    /// A directory holding a run in the older layout (epochs from 0, `loss` keys) is neither resumed nor
    /// overwritten, with a message naming the file and the layouts.
    func testOlderLayoutIsRefusedWithItsOwnMessage() throws {
        let out = dir.appendingPathComponent("old")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("{\"format\": 1, \"steps\": [{\"step\": 1, \"epoch\": 0, \"loss\": 7}]}".utf8)
            .write(to: out.appendingPathComponent("training_run.json"))
        for resume in [false, true] {
            XCTAssertThrowsError(try OutputDirectoryGuard.check(directory: out, record: record(), resume: resume)) {
                XCTAssertTrue("\($0)".contains("training_run.json") && "\($0)".contains("layout 1"), "\($0)")
            }
        }
    }

    /// Wall time adds up over sessions; peak memory only grows.
    func testSessionsAccumulate() {
        var r = record()
        r.finishSession(seconds: 10, completed: false)
        r.peakMemoryBytes = Int.max / 2
        r.finishSession(seconds: 5, completed: true)
        XCTAssertEqual(r.wallSeconds, 15)
        XCTAssertEqual(r.peakMemoryBytes, Int.max / 2)
        XCTAssertTrue(r.completed)
        XCTAssertGreaterThan(ResourceUsage.peakResidentBytes(), 1 << 20)
    }

    func testIdentityDifferences() {
        let a = record()
        var b = a
        b.steps = [StepRecord(step: 1, epoch: 0, tokenLoss: 1, learningRate: 1)]
        b.wallSeconds = 99
        b.codeVersion = "9.9.9"
        b.dataManifest = "moved/train.csv"
        XCTAssertEqual(a.identityDifferences(from: b), [], "progress, timing, code version and manifest location do not count")
        var c = record(lr: 1e-4, manifest: String(repeating: "c", count: 64))
        c.hyperparameters.seed = 7
        c.hyperparameters.warmupRatio = 0.1
        c.validationManifestSha256 = nil
        XCTAssertEqual(a.identityDifferences(from: c), ["hyperparameters.learning_rate", "hyperparameters.seed", "hyperparameters.warmup_ratio",
                                                        "data_manifest_sha256", "validation_manifest_sha256"])
        var d = a
        d.baseModel = "/elsewhere/medgemma"
        XCTAssertEqual(a.identityDifferences(from: d), [], "same fingerprint, other path: same base")
        d.baseModelFingerprint = "beef"
        XCTAssertEqual(a.identityDifferences(from: d), ["base_model_fingerprint"])
        d.baseModelFingerprint = nil
        XCTAssertEqual(a.identityDifferences(from: d), ["base_model"])
    }

    func testGuard() throws {
        let r = record()
        let fm = FileManager.default
        // Nothing there, or an empty folder, or only hidden files: a fresh run.
        XCTAssertEqual(try OutputDirectoryGuard.check(directory: dir, record: r, resume: false), .fresh)
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        XCTAssertEqual(try OutputDirectoryGuard.check(directory: dir, record: r, resume: false), .fresh)
        try Data().write(to: dir.appendingPathComponent(".DS_Store"))
        XCTAssertEqual(try OutputDirectoryGuard.check(directory: dir, record: r, resume: false), .fresh)
        // --resume with nothing to resume.
        XCTAssertThrowsError(try OutputDirectoryGuard.check(directory: dir, record: r, resume: true)) {
            XCTAssertEqual($0 as? TrainingArtifactError, .nothingToResume(directory: dir.path))
        }
        XCTAssertThrowsError(try OutputDirectoryGuard.check(directory: dir.appendingPathComponent("new"), record: r, resume: true))
        // Files but no record.
        try Data("x".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        XCTAssertThrowsError(try OutputDirectoryGuard.check(directory: dir, record: r, resume: false)) {
            XCTAssertTrue("\($0)".contains(self.dir.path) && "\($0)".contains("notes.txt"), "\($0)")
        }
        try fm.removeItem(at: dir.appendingPathComponent("notes.txt"))
        // The same run: needs --resume; with it, continue from the latest checkpoint.
        try r.write(to: dir)
        XCTAssertThrowsError(try OutputDirectoryGuard.check(directory: dir, record: r, resume: false)) {
            XCTAssertEqual($0 as? TrainingArtifactError, .runExists(directory: self.dir.path))
            XCTAssertTrue("\($0)".contains("--resume"), "\($0)")
        }
        XCTAssertEqual(try OutputDirectoryGuard.check(directory: dir, record: r, resume: true), .resume(checkpoint: nil, previous: r))
        for step in [3, 12] {
            try fm.createDirectory(at: dir.appendingPathComponent("checkpoint-\(step)"), withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: dir.appendingPathComponent("checkpoint-\(step)/trainer_state.json"))
        }
        guard case .resume(let checkpoint, _) = try OutputDirectoryGuard.check(directory: dir, record: r, resume: true) else {
            return XCTFail("expected resume")
        }
        XCTAssertEqual(checkpoint?.lastPathComponent, "checkpoint-12")
        // A different run: named fields, with or without --resume.
        var other = record(lr: 3e-4)
        other.hyperparameters.rank = 16
        for resume in [false, true] {
            XCTAssertThrowsError(try OutputDirectoryGuard.check(directory: dir, record: other, resume: resume)) {
                XCTAssertEqual($0 as? TrainingArtifactError, .differentRun(directory: self.dir.path, fields: ["hyperparameters.learning_rate", "hyperparameters.rank"]))
                XCTAssertTrue("\($0)".contains(self.dir.path) && "\($0)".contains("hyperparameters.rank"), "\($0)")
            }
        }
        // A damaged record is named, not overwritten.
        try Data("{\"format\": 1".utf8).write(to: dir.appendingPathComponent("training_run.json"))
        XCTAssertThrowsError(try OutputDirectoryGuard.check(directory: dir, record: r, resume: true)) {
            XCTAssertTrue("\($0)".contains("training_run.json"), "\($0)")
        }
        // --out naming a file.
        let file = dir.appendingPathComponent("file")
        try Data().write(to: file)
        XCTAssertThrowsError(try OutputDirectoryGuard.check(directory: file, record: r, resume: false))
    }
}
