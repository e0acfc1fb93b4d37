import ArgumentParser
import DICOM
import Evaluation
import Foundation
import FileAccess
import MedGemma
import Tensor
import Triage
#if canImport(Glibc)
import Glibc
#endif

struct EvaluateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate triage against a labelled manifest: metrics with 95 % intervals, operating points, comparisons, artifacts.",
        discussion: """
            MANIFEST is CSV or JSONL with path,label (patent/blocked) and optional site, scanner, date, split. With \
            --model every input runs through the triage pipeline (resumable: results are cached in OUT/cache/); with \
            --predictions (path,p_blocked[,label][,decision]) any model's outputs are evaluated. Writes \
            OUT/evaluation.json, OUT/predictions.csv and OUT/report.html. See docs/EVALUATION.md.

            Exit status: 0 done; 3 stopped by --limit with inputs left (run again to continue); 5 sensitivity below \
            --fail-under-sensitivity (or undefined); the artifacts are written for 0 and 5; \(ExitStatusHelp.common).
            """)

    @Option(name: .long, help: "Manifest CSV/JSONL: path,label[,site,scanner,date,split]. Optional with --predictions that carry labels.")
    var data: String?

    @Option(name: .long, help: "Output folder.")
    var out: String

    @Option(name: .long, help: "Model directory: run the triage pipeline over the manifest.")
    var model: String?

    @Option(name: .long, help: "PEFT LoRA adapter directory (model mode).")
    var adapter: String?

    @OptionGroup var profile: ProfileOptions

    @Option(name: .long, help: "Predictions CSV/JSONL: path,p_blocked[,label][,decision].")
    var predictions: String?

    @Option(name: .long, help: "Arithmetic for 16-bit weights in model mode: auto (the faster on this machine, measured once and cached), f32 or bf16.")
    var compute: Choice<ComputeChoice>?

    @Option(name: .long, help: "Target sensitivity: choose the threshold on the validation split, report it on the test split.")
    var targetSensitivity: Double?

    @Option(name: .long, help: "Write the profile with the chosen operating-point threshold and this run's reference distribution (P(blocked), input statistics; for `monitor` and the service's drift figures) to this file (needs --target-sensitivity).")
    var writeProfile: String?

    @Option(name: .long, help: "Exit with status 5 when the evaluated sensitivity is below this (or undefined).")
    var failUnderSensitivity: Double?

    @Option(name: .long, parsing: .upToNextOption, help: "Other runs to compare with: predictions files or evaluate output folders (their predictions.csv).")
    var compare: [String] = []

    @Option(name: .long, help: "Bootstrap resamples (0: no bootstrap intervals).")
    var bootstrap = 2000

    @Option(name: .long, help: "Bootstrap seed.")
    var seed: UInt64 = 20_260_701

    @Option(name: .long, help: "Model mode: compute at most this many uncached inputs, then stop (exit 3) — the next run continues.")
    var limit: Int?

    @OptionGroup var progress: ProgressOptions

    @OptionGroup var paths: PathOptions

    @OptionGroup var input: InputOptions

    func validate() throws {
        if (model == nil) == (predictions == nil) { throw ValidationError("give exactly one of --model or --predictions") }
        if model != nil && data == nil { throw ValidationError("--model needs --data MANIFEST") }
        _ = try compute?.value("--compute must be auto, f32 or bf16")
        if let t = targetSensitivity, !(t > 0 && t <= 1) { throw ValidationError("--target-sensitivity must lie in (0, 1]") }
        if let t = failUnderSensitivity, !(t >= 0 && t <= 1) { throw ValidationError("--fail-under-sensitivity must lie in [0, 1]") }
        if writeProfile != nil && targetSensitivity == nil { throw ValidationError("--write-profile needs --target-sensitivity") }
        if bootstrap < 0 { throw ValidationError("--bootstrap must be ≥ 0") }
        if let l = limit, l < 0 { throw ValidationError("--limit must be ≥ 0") }
    }

    static func stderr(_ s: String) { Console.err(s) }

    func run() async throws {
        var exit: Int32 = 0
        try CommandErrors.reporting {
            let taskProfile = try profile.load()
            // A stored reference distribution changes no prediction, so it stays out of the cache key.
            let profileFP = Artifacts.fingerprint(data: try taskProfile.decisionProfile.jsonData())
            let manifest = try data.map { try EvaluationData.manifest(path: $0) }
            let outDir = URL(fileURLWithPath: out)
            var samples: [EvaluationSample]
            var provenance: Provenance
            var runCounts: RunCounts?
            var decisionSource = "pipeline"
            var pipelineResults: [CachedPrediction] = []
            if let predictions {
                let preds = try EvaluationData.predictions(path: predictions)
                decisionSource = EvaluationData.decisionSource(preds)
                samples = try EvaluationData.samples(manifest: manifest, manifestPath: data ?? "-", predictions: preds,
                                                     predictionsPath: predictions, threshold: taskProfile.threshold)
                provenance = Provenance(softwareVersion: SoftwareVersion.current, mode: "predictions", profile: taskProfile.name,
                                        profileFingerprint: profileFP, data: data, dataFingerprint: data.flatMap(Artifacts.fingerprint(file:)),
                                        predictions: predictions, predictionsFingerprint: Artifacts.fingerprint(file: predictions))
            } else {
                // validate() guarantees --model comes with --data.
                guard let model, let manifestPath = data, let entries = manifest else {
                    throw ValidationError("--model needs --data MANIFEST")
                }
                let inputs = entries.map { PipelineEvaluation.Entry(path: $0.path, line: $0.line) }
                try PipelineEvaluation.checkFiles(inputs, manifest: manifestPath)
                // The profile's mode, no quantisation, generated text not kept: as triage without those options.
                let request = TriageRequest(model: model, adapter: adapter, computeMode: compute.flatMap { ComputeMode(rawValue: $0.argument) },
                                            siteKey: try input.siteKey(), pathMode: paths.mode, maxDecodeBytes: input.maxDecodeBytes)
                let pipeline = try request.pipeline(profile: taskProfile)
                for line in pipeline.notices(model: model, recordNotes: false) { Self.stderr(line + "\n") }
                let cache = try PredictionCache(directory: outDir.appendingPathComponent("cache"))
                var bar: ProgressBar?
                let outcome = try PipelineEvaluation.run(
                    pipeline: pipeline, entries: inputs, manifest: manifestPath, cache: cache, profileFingerprint: profileFP, limit: limit,
                    progress: { bar?.advance() },
                    onCacheCount: { cached in
                        let todo = min(entries.count - cached, limit ?? Int.max)
                        Self.stderr("\(cached) of \(entries.count) input(s) cached; computing \(todo)\n")
                        bar = progress.bar(total: todo)
                    })
                bar?.finish()
                runCounts = RunCounts(computed: outcome.computed, cached: outcome.cached, remaining: outcome.remaining)
                Self.stderr("computed \(outcome.computed), cached \(outcome.cached), remaining \(outcome.remaining)\n")
                if outcome.remaining > 0 {
                    Self.stderr("stopped by --limit with \(outcome.remaining) input(s) left; run again to continue\n")
                    exit = 3
                    return
                }
                pipelineResults = entries.compactMap { outcome.predictions[$0.path] }
                samples = try EvaluationData.samples(manifest: entries, manifestPath: manifestPath) { path in
                    outcome.predictions[path].map { ($0.pBlocked, $0.decision) }
                }
                // Each one named, in manifest order, with its reason.
                let failed = PipelineEvaluation.failures(inputs, in: outcome)
                if !failed.isEmpty {
                    Self.stderr("warning: \(failed.count) input(s) failed or were skipped; they count as manual review:\n")
                    for (e, why) in failed { Self.stderr("  \(e.path) (\(manifestPath) line \(e.line)): \(why)\n") }
                }
                provenance = Provenance(softwareVersion: SoftwareVersion.current, mode: "model", model: model, modelFingerprint: pipeline.modelFingerprint,
                                        adapters: adapter.map { [$0] } ?? [], adapterFingerprints: pipeline.adapterFingerprint.map { [$0] } ?? [],
                                        profile: taskProfile.name, profileFingerprint: profileFP, data: manifestPath,
                                        dataFingerprint: Artifacts.fingerprint(file: manifestPath),
                                        demoNotice: pipeline.demoNotice, testModel: pipeline.isTestModel)
            }
            let settings = BootstrapSettings(resamples: bootstrap, seed: seed)
            let comparisons = try EvaluationData.comparisons(with: compare, samples: samples, manifest: manifest, manifestPath: data ?? "-",
                                                             threshold: taskProfile.threshold, bootstrap: settings)
            let options = EvaluationOptions(threshold: taskProfile.threshold, decisionSource: decisionSource, bootstrap: settings,
                                            targetSensitivity: targetSensitivity)
            let result = try Evaluator.evaluate(samples: samples, options: options, provenance: provenance, comparisons: comparisons, run: runCounts)
            try Artifacts.write(result: result, samples: samples, to: outDir)
            for w in result.warnings { Self.stderr("warning: \(w)\n") }
            Self.stderr(Self.summary(result))
            if let writeProfile {
                guard let t = result.operatingPoint?.threshold else {
                    throw EvaluationError.invalid("no threshold reaches sensitivity \(targetSensitivity.map { "\($0)" } ?? "-"); \(writeProfile) not written")
                }
                var (p, widened) = try taskProfile.atOperatingPoint(t, source: writeProfile)
                let run = (data ?? predictions).map { URL(fileURLWithPath: $0).lastPathComponent } ?? "-"
                p.referenceDistribution = Self.reference(samples: samples, pipelineResults: pipelineResults,
                                                         source: "dsa-triage evaluate \(SoftwareVersion.current) on \(run), \(Self.today()); "
                                                             + "threshold \(p.threshold) for target sensitivity \(targetSensitivity.map { "\($0)" } ?? "-")")
                try p.validate(source: writeProfile)
                try AtomicWrite.write(try p.jsonData(), to: URL(fileURLWithPath: writeProfile))
                let n = p.referenceDistribution?.pBlocked?.count ?? 0
                Self.stderr("wrote \(writeProfile) with threshold \(p.threshold) and a reference distribution of \(Plural.count(n, "case"))\n")
                if widened {
                    Self.stderr("note: the threshold lies above the review band; the band now reaches it (\(p.reviewBand)) so that no probability below the threshold is called patent without review\n")
                }
            }
            if let floor = failUnderSensitivity {
                let s = result.metrics["sensitivity"]?.value
                if (s ?? -1) < floor {
                    Self.stderr("FAIL: sensitivity \(s.map { String(format: "%.4f", $0) } ?? "undefined") is below \(floor)\n")
                    exit = 5
                }
            }
        }
        if exit != 0 { throw ExitCode(exit) }
    }

    /// The drift reference stored in a written profile: P(blocked) of every evaluated case that has one (all
    /// splits: the population the operating point was judged on) and, in model mode, the input statistics of
    /// the pipeline's results that carry them (DICOM runs only have a frame count).
    static func reference(samples: [EvaluationSample], pipelineResults: [CachedPrediction], source: String) -> ProfileReferenceDistribution {
        func sample(_ values: [Double]) -> [Double]? { values.isEmpty ? nil : values }
        return ProfileReferenceDistribution(
            source: source,
            pBlocked: sample(samples.compactMap { $0.pBlocked.flatMap { $0.isFinite && $0 >= 0 && $0 <= 1 ? $0 : nil } }),
            meanGray: sample(pipelineResults.compactMap { $0.meanGray.flatMap { $0.isFinite ? $0 : nil } }),
            dynamicRange: sample(pipelineResults.compactMap { $0.dynamicRange.flatMap { $0.isFinite ? $0 : nil } }),
            frameCount: sample(pipelineResults.compactMap { $0.frameCount.flatMap { $0 >= 1 ? Double($0) : nil } }))
    }

    /// Today's date (UTC, YYYY-MM-DD) for the reference's source line.
    static func today() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate]
        return f.string(from: Date())
    }

    static func summary(_ r: EvaluationResult) -> String {
        func f(_ m: MetricValue?) -> String {
            guard let v = m?.value else { return "undefined" }
            return String(format: "%.3f", v) + (m?.ci.map { String(format: " [%.3f, %.3f]", $0[0], $0[1]) } ?? "")
        }
        var s = "evaluated \(Plural.count(r.n, "case")) (split: \(r.evaluatedSplit)); prevalence \(f(r.prevalence))\n"
        for k in ["sensitivity", "specificity", "accuracy", "auroc"] { s += "  \(k): \(f(r.metrics[k]))\n" }
        s += "  \(r.imbalance.message)\n"
        return s
    }
}
