import Foundation
import ModelFiles
import TestSupport
import XCTest

/// `dsa-triage train` end to end on the tiny test VLM and synthetic angiograms: the run learns (its training
/// loss falls), writes the PEFT adapter, training_run.json and checkpoints, resumes bit for bit after a stop,
/// its adapter drives `triage`, and bad input gets clear errors.
final class TrainCommandTests: XCTestCase {
    /// Synthetic cases (PNG) and a path,label manifest over them.
    func data(count: Int, prevalence: Double, seed: Int, in dir: URL, name: String) throws -> URL {
        let syn = dir.appendingPathComponent(name)
        let r = try CLI.run(["synth", "--out", syn.path, "--count", "\(count)", "--prevalence", "\(prevalence)", "--seed", "\(seed)",
                             "--size", "64", "--frames", "3", "--runs", "subtracted", "--transfer-syntax", "explicit-le"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let labels = try String(contentsOf: syn.appendingPathComponent("labels.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        var manifest = "path,label\n"
        for l in labels {
            let f = l.split(separator: ",", omittingEmptySubsequences: false)
            manifest += "\(f[4]),\(f[1])\n"
        }
        let m = syn.appendingPathComponent("manifest.csv")
        try Data(manifest.utf8).write(to: m)
        return m
    }

    func record(_ out: URL) throws -> [String: Any] {
        let d = try Data(contentsOf: out.appendingPathComponent("training_run.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: d) as? [String: Any])
    }

    /// Quick settings for the tiny model: float32 base, 2 epochs of 3 steps (accumulation 4), a high rate.
    func args(model: String, train: URL, validation: URL?, out: URL) -> [String] {
        var a = ["train", "--model", model, "--data", train.path, "--out", out.path, "--quantize", "none",
                 "--grad-accum", "4", "--lr", "1e-3", "--seed", "5"]
        if let validation { a += ["--validation", validation.path] }
        return a
    }

    func testTrainsResumesBitForBitAndTheAdapterServesTriage() throws {
        let dir = try CLI.tempDir()
        let model = try TriageCommandTests.model()
        let train = try data(count: 12, prevalence: 0.25, seed: 3, in: dir, name: "train")
        let validation = try data(count: 6, prevalence: 0.5, seed: 4, in: dir, name: "val")
        let out = dir.appendingPathComponent("run")
        let r = try CLI.run(args(model: model, train: train, validation: validation, out: out))
        XCTAssertEqual(r.status, 0, r.stderr)
        // 3 of 12 blocked is under 30 %: class-balanced sampling is on by default.
        XCTAssertTrue(r.stderr.contains("balance sampler"), r.stderr)
        XCTAssertTrue(r.stderr.contains("epoch 2 (step 6)"), r.stderr)
        for f in ["adapter_config.json", "adapter_model.safetensors", "training_run.json", "input_domain.json", "checkpoint-6/trainer_state.json",
                  "checkpoint-6/optimizer.safetensors", "checkpoint-6/adapter_model.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
        let rec = try record(out)
        let h = try XCTUnwrap(rec["hyperparameters"] as? [String: Any])
        // The model card's recipe where not overridden.
        XCTAssertEqual(h["rank"] as? Int, 8)
        XCTAssertEqual(h["alpha"] as? Double, 16)
        XCTAssertEqual(h["dropout"] as? Double, 0.1)
        XCTAssertEqual(h["target_modules"] as? String, "all-linear")
        XCTAssertEqual(h["batch_size"] as? Int, 1)
        XCTAssertEqual(h["epochs"] as? Int, 2)
        XCTAssertEqual(h["gradient_accumulation"] as? Int, 4)
        XCTAssertEqual(rec["completed"] as? Bool, true)
        XCTAssertEqual(rec["total_steps"] as? Int, 6)
        // The manifest's hash is the file's sha256 (coreutils' sha256sum).
        let sha = try XCTUnwrap(rec["data_manifest_sha256"] as? String)
        let printed = try ExternalTool.run("sha256sum", [train.path], package: "coreutils").output
        XCTAssertEqual(sha.count, 64)
        XCTAssertTrue(printed.hasPrefix(sha), "\(printed) vs \(sha)")
        XCTAssertGreaterThan(rec["peak_memory_bytes"] as? Int ?? 0, 0)
        let steps = try XCTUnwrap(rec["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.count, 6)
        let losses = steps.compactMap { $0["token_loss"] as? Double }
        XCTAssertEqual(losses.count, 6)
        // Learning happens: the loss of the answer tokens falls over the run.
        XCTAssertLessThan(losses.suffix(2).reduce(0, +), losses.prefix(2).reduce(0, +) - 0.5, "\(losses)")
        let epochs = try XCTUnwrap(rec["epochs"] as? [[String: Any]])
        XCTAssertEqual(epochs.count, 2)
        for (i, e) in epochs.enumerated() {
            for k in ["sensitivity", "specificity", "balanced_accuracy", "validation_label_loss", "validation_token_loss"] { XCTAssertNotNil(e[k], k) }
            // The epoch's training token loss is the mean over its three steps.
            let own = losses[(3 * i)..<(3 * i + 3)]
            XCTAssertEqual(try XCTUnwrap(e["train_token_loss"] as? Double), own.reduce(0, +) / 3, accuracy: 1e-12)
            // Token losses are of one kind: per answer token over the whole (262k) vocabulary, far above the
            // label loss (two labels) for this barely trained model.
            XCTAssertGreaterThan(try XCTUnwrap(e["validation_token_loss"] as? Double), try XCTUnwrap(e["validation_label_loss"] as? Double))
            // The console prints exactly what the record holds, and the record's profile-threshold metrics are
            // the ones named as such.
            let summary = try XCTUnwrap(e["summary"] as? String)
            XCTAssertTrue(r.stderr.contains("epoch \(i + 1) (step \(3 * i + 3)): \(summary)"), "\(summary)\n\(r.stderr)")
            let sens = try XCTUnwrap(e["sensitivity"] as? Double), spec = try XCTUnwrap(e["specificity"] as? Double)
            XCTAssertTrue(summary.hasPrefix(String(format: "at the profile threshold 0.35: sensitivity %.4f, specificity %.4f", sens, spec)), summary)
        }
        // One epoch numbering (from 1) in steps, epochs and best.
        XCTAssertEqual(steps.compactMap { $0["epoch"] as? Int }, [1, 1, 1, 2, 2, 2])
        XCTAssertEqual(epochs.compactMap { $0["epoch"] as? Int }, [1, 2])
        let best = try XCTUnwrap(rec["best"] as? [String: Any])
        let bestEpoch = try XCTUnwrap(epochs.first { $0["step"] as? Int == best["step"] as? Int }?["epoch"] as? Int)
        XCTAssertEqual(best["epoch"] as? Int, bestEpoch)

        // Stopped after two steps and resumed: the same checkpoints, adapter and history, byte for byte.
        let out2 = dir.appendingPathComponent("run2")
        let first = try CLI.run(args(model: model, train: train, validation: validation, out: out2) + ["--max-steps", "2"])
        XCTAssertEqual(first.status, 3, first.stderr)
        XCTAssertTrue(first.stderr.contains("continue with --resume"), first.stderr)
        let again = try CLI.run(args(model: model, train: train, validation: validation, out: out2))
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertTrue(again.stderr.contains("--resume"), again.stderr)
        let second = try CLI.run(args(model: model, train: train, validation: validation, out: out2) + ["--resume"])
        XCTAssertEqual(second.status, 0, second.stderr)
        for f in ["adapter_model.safetensors", "checkpoint-6/adapter_model.safetensors", "checkpoint-6/optimizer.safetensors"] {
            let a = try Data(contentsOf: out.appendingPathComponent(f)), b = try Data(contentsOf: out2.appendingPathComponent(f))
            XCTAssertEqual(a, b, f)
        }
        let rec2 = try record(out2)
        XCTAssertEqual((rec2["steps"] as? [[String: Any]])?.compactMap { $0["token_loss"] as? Double }, losses)
        XCTAssertEqual(rec2["epochs"] as? NSArray, rec["epochs"] as? NSArray)

        // The adapter is a PEFT adapter the triage command loads.
        let cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(cfg["peft_type"] as? String, "LORA")
        XCTAssertEqual(cfg["r"] as? Int, 8)
        let st = try SafeTensorsFile(url: out.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertTrue(st.names.allSatisfy { $0.hasPrefix("base_model.model.") && ($0.hasSuffix(".lora_A.weight") || $0.hasSuffix(".lora_B.weight")) })
        let png = validation.deletingLastPathComponent().appendingPathComponent("png/case_0001.png")
        let t = try CLI.run(["triage", "--model", model, "--adapter", out.path, png.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("\"p_blocked\""), t.stdout)
    }

    func testFullTrainingWritesAStandaloneModel() throws {
        let dir = try CLI.tempDir()
        let model = try TriageCommandTests.model()
        let train = try data(count: 8, prevalence: 0.5, seed: 9, in: dir, name: "train")
        let validation = try data(count: 4, prevalence: 0.5, seed: 10, in: dir, name: "val")
        let out = dir.appendingPathComponent("full")
        let r = try CLI.run(args(model: model, train: train, validation: validation, out: out) + ["--full", "--epochs", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("full training of"), r.stderr)
        let h = try XCTUnwrap(try record(out)["hyperparameters"] as? [String: Any])
        XCTAssertEqual(h["full_fine_tune"] as? Bool, true)
        XCTAssertEqual(h["quantization"] as? String, "none")
        // No LoRA settings: they do not apply to full training.
        for k in ["rank", "alpha", "dropout", "target_modules"] { XCTAssertNil(h[k], k) }
        // The README describes the trained model (base, data, chosen checkpoint), not the base.
        let readme = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.hasPrefix("# Fully fine-tuned model"), readme)
        XCTAssertTrue(readme.contains(model) && readme.contains(train.path), readme)
        let best = try XCTUnwrap(try record(out)["best"] as? [String: Any])
        XCTAssertTrue(readme.contains("checkpoint of step \(best["step"] as? Int ?? -1)"), readme)
        // The same tensors as the base under the same names, every one float32 now, trained ones changed.
        let base = try SafeTensorsCheckpoint(directory: URL(fileURLWithPath: model))
        let trained = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(Set(trained.names), Set(base.names))
        let key = try XCTUnwrap(base.names.first { $0.hasSuffix("layers.0.mlp.down_proj.weight") })
        XCTAssertNotEqual(try trained.tensor(key).floats(), try base.tensor(key).floats())
        for f in ["config.json", "tokenizer.json", "preprocessor_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
        // The input-domain record: in training_run.json and as input_domain.json beside the model, the same as
        // `dsa-triage domain` makes from the manifest (pictures only here: the manifest lists the PNGs).
        let domainFile = out.appendingPathComponent("input_domain.json")
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: domainFile)) as? NSDictionary)
        XCTAssertEqual(try record(out)["input_domain"] as? NSDictionary, written)
        XCTAssertEqual(written["images"] as? Int, 8)
        XCTAssertEqual((written["source_kinds"] as? [[String: Any]])?.compactMap { $0["kind"] as? String }, ["picture"])
        let viaCommand = dir.appendingPathComponent("domain.json")
        let dc = try CLI.run(["domain", "--data", train.path, "--out", viaCommand.path])
        XCTAssertEqual(dc.status, 0, dc.stderr)
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(contentsOf: viaCommand)) as? NSDictionary, written)
        // It is a model triage runs, and triage checks its inputs against that record.
        let png = validation.deletingLastPathComponent().appendingPathComponent("png/case_0001.png")
        let t = try CLI.run(["triage", "--model", out.path, png.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("\"domain_checked\":true"), t.stdout)
        XCTAssertFalse(t.stderr.contains("no input-domain record"), t.stderr)
        // --full with a quantised base is refused.
        let q = try CLI.run(args(model: model, train: train, validation: nil, out: dir.appendingPathComponent("q")) + ["--full", "--quantize", "nf4"])
        XCTAssertEqual(q.status, 64)
        XCTAssertTrue(q.stderr.contains("--quantize none"), q.stderr)
    }

    func testBadInputGetsClearErrors() throws {
        let dir = try CLI.tempDir()
        let model = try TriageCommandTests.model()
        let train = try data(count: 6, prevalence: 0.5, seed: 8, in: dir, name: "train")
        let good = try String(contentsOf: train, encoding: .utf8)
        func manifest(_ text: String, _ name: String) throws -> URL {
            let u = train.deletingLastPathComponent().appendingPathComponent(name)
            try Data(text.utf8).write(to: u)
            return u
        }
        // A missing file: the manifest line is named; with --skip-bad-rows it is reported and training goes on.
        let missing = try manifest(good + "png/nope.png,blocked\n", "missing.csv")
        let r1 = try CLI.run(args(model: model, train: missing, validation: nil, out: dir.appendingPathComponent("o1")))
        XCTAssertEqual(r1.status, 1)
        XCTAssertTrue(r1.stderr.hasPrefix("error: "), r1.stderr)
        XCTAssertTrue(r1.stderr.contains("missing.csv:8"), r1.stderr)
        XCTAssertTrue(r1.stderr.contains("nope.png"), r1.stderr)
        // Several bad rows: every one is named with its line and reason, in one run.
        let several = try manifest(good + "png/nope.png,blocked\npng/case_0001.png,stenosis\n,patent\n", "several.csv")
        let rs = try CLI.run(args(model: model, train: several, validation: nil, out: dir.appendingPathComponent("os")))
        XCTAssertEqual(rs.status, 1)
        XCTAssertTrue(rs.stderr.hasPrefix("error: ") && !rs.stderr.contains("Error:"), rs.stderr)
        XCTAssertTrue(rs.stderr.contains("3 of 9 rows cannot be used"), rs.stderr)
        for (line, why) in [(8, "nope.png"), (9, "stenosis"), (10, "empty path")] {
            XCTAssertTrue(rs.stderr.contains("several.csv:\(line): ") && rs.stderr.contains(why), "\(line) \(why): \(rs.stderr)")
        }
        let r2 = try CLI.run(args(model: model, train: missing, validation: nil, out: dir.appendingPathComponent("o2")) + ["--skip-bad-rows", "--epochs", "1"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertTrue(r2.stderr.contains("skipped: ") && r2.stderr.contains("missing.csv:8"), r2.stderr)
        // A label outside the profile's vocabulary.
        let label = try manifest(good + "png/case_0001.png,stenosis\n", "label.csv")
        let r3 = try CLI.run(args(model: model, train: label, validation: nil, out: dir.appendingPathComponent("o3")))
        XCTAssertEqual(r3.status, 1)
        XCTAssertTrue(r3.stderr.contains("label.csv:8") && r3.stderr.contains("stenosis"), r3.stderr)
        // One class only.
        let lines = good.split(separator: "\n").filter { $0.hasSuffix(",patent") || $0.hasPrefix("path") }
        let one = try manifest(lines.joined(separator: "\n") + "\n", "one.csv")
        let r4 = try CLI.run(args(model: model, train: one, validation: nil, out: dir.appendingPathComponent("o4")))
        XCTAssertEqual(r4.status, 1)
        XCTAssertTrue(r4.stderr.contains("one.csv") && r4.stderr.contains("patent"), r4.stderr)
        // An output directory holding a different run (another rank): refused, naming the field.
        let out = dir.appendingPathComponent("o5")
        XCTAssertEqual(try CLI.run(args(model: model, train: train, validation: nil, out: out) + ["--epochs", "1"]).status, 0)
        let r5 = try CLI.run(args(model: model, train: train, validation: nil, out: out) + ["--epochs", "1", "--rank", "4"])
        XCTAssertEqual(r5.status, 1)
        XCTAssertTrue(r5.stderr.contains(out.path) && r5.stderr.contains("rank"), r5.stderr)
        // A folder of other files is not taken over.
        let other = dir.appendingPathComponent("o6")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: other.appendingPathComponent("notes.txt"))
        let r6 = try CLI.run(args(model: model, train: train, validation: nil, out: other))
        XCTAssertEqual(r6.status, 1)
        XCTAssertTrue(r6.stderr.contains(other.path), r6.stderr)
        // Bad options.
        let r7 = try CLI.run(args(model: model, train: train, validation: nil, out: dir.appendingPathComponent("o7")) + ["--dropout", "1.5"])
        XCTAssertEqual(r7.status, 64)
        XCTAssertTrue(r7.stderr.contains("--dropout"), r7.stderr)
    }
    /// The README's demo training command on the checkout as it is: the starting weights are in the repository
    /// (models/demo-base/model.safetensors), so it starts training (stopped after one step here).
    func testReadmeDemoTrainingCommandRunsOnTheCheckout() throws {
        let readme = try String(contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains("train --model models/demo-base --data train.csv --validation val.csv --out runs/demo --full"))
        let dir = try CLI.tempDir()
        let train = try data(count: 4, prevalence: 0.5, seed: 21, in: dir, name: "train")
        let validation = try data(count: 2, prevalence: 0.5, seed: 22, in: dir, name: "val")
        let base = CLI.packageRoot.appendingPathComponent("models/demo-base")
        // The committed weights are the ones tools/make_demo_base.py writes (its README states their sha256).
        let sha = try SHA256Hasher.hex(ofFile: base.appendingPathComponent("model.safetensors").path)
        XCTAssertTrue(try String(contentsOf: base.appendingPathComponent("README.md"), encoding: .utf8).contains("sha256 \(sha)"), sha)
        let out = dir.appendingPathComponent("runs/demo")
        let r = try CLI.run(["train", "--model", base.path, "--data", train.path, "--validation", validation.path, "--out", out.path,
                             "--full", "--grad-accum", "2", "--max-steps", "1"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("step 1/"), r.stderr)
        XCTAssertTrue(r.stderr.contains("continue with --resume"), r.stderr)

        // Without the weights, the error names the missing file and where to look, never a literal glob.
        let bare = dir.appendingPathComponent("demo-base-without-weights")
        try FileManager.default.createDirectory(at: bare, withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: base.path) where f != "model.safetensors" {
            try FileManager.default.copyItem(at: base.appendingPathComponent(f), to: bare.appendingPathComponent(f))
        }
        let m = try CLI.run(["train", "--model", bare.path, "--data", train.path, "--out", dir.appendingPathComponent("o").path, "--full"])
        XCTAssertEqual(m.status, 1)
        XCTAssertTrue(m.stderr.contains("\(bare.path): no model weights: model.safetensors"), m.stderr)
        XCTAssertTrue(m.stderr.contains("README.md may say how to make them"), m.stderr)
        XCTAssertFalse(m.stderr.contains("*"), m.stderr)
    }
}
