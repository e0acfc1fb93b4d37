import Angiography
import ArgumentParser
import DICOM
import Foundation
import LoRA
import MedGemma
import Tensor
import Training
import Triage

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the engine (language-model prefill and decode, vision tower) or DICOM ingestion (prints one JSON object).",
        discussion: ExitStatusHelp.plain)

    @Option(name: .long, help: "Model directory or .gguf file.")
    var model: String?

    @Option(name: .long, help: "Time DICOM ingestion of this file instead: read, decode every frame, build the model input.")
    var dicom: String?

    @Option(name: .long, help: "Prompt length for the prefill timing.")
    var promptTokens = 256

    @Option(name: .long, help: "Greedy decode steps timed after the prompt.")
    var decodeTokens = 64

    @Option(name: .long, help: "Timed runs after one warm-up; the median is reported.")
    var runs = 5

    @OptionGroup var arithmetic: ArithmeticOptions

    @Option(name: .long, help: "Timed runs of the vision tower (models with one); 0 skips it.")
    var visionRuns = 3

    @Flag(name: .long, help: "Time only the vision tower (and an image prompt prefill), not text decode.")
    var visionOnly = false

    @Option(name: .long, help: "Also time the image path with this LoRA adapter applied unmerged (same loaded weights).")
    var adapter: String?

    @Flag(name: .long, help: "Measure the kernel families --compute auto chooses between (f32 through OpenBLAS and oneDNN, bf16) on a model's linear-layer shapes, without loading its weights: the shapes of --model's config.json, else MedGemma 1.5 4B's. Always measured (the cache is neither read nor written).")
    var kernels = false

    func validate() throws {
        if kernels {
            if dicom != nil { throw ValidationError("--kernels takes no --dicom") }
            return
        }
        if (model == nil) == (dicom == nil) { throw ValidationError("give either --model or --dicom") }
        if promptTokens < 1 || decodeTokens < 1 || runs < 1 { throw ValidationError("--prompt-tokens, --decode-tokens and --runs must be positive") }
    }

    func run() async throws {
        if kernels {
            try CommandErrors.reporting { try Console.out(try kernelTable() + "\n") }
            return
        }
        if let dicom {
            try CommandErrors.reporting { try Console.out(try DICOMIngestBenchmark.run(path: dicom, runs: runs) + "\n") }
            return
        }
        guard let model else { return }
        try CommandErrors.reporting {
            let bench = try ModelBenchmark(.init(
                model: model, computeMode: arithmetic.computeMode, quantization: arithmetic.quantization, adapter: adapter,
                promptTokens: promptTokens, decodeTokens: decodeTokens, runs: runs, visionRuns: visionRuns, visionOnly: visionOnly))
            let median = TextBenchmarkResult.median
            var fields: [(String, String)] = [
                ("engine", JSONOutput.string("dsa-triage")),
                ("compute", JSONOutput.string(bench.computeMode.rawValue)),
                ("compute_choice", JSONOutput.string(computeDescription(forced: arithmetic.computeMode, loaded: bench.computeMode,
                                                                       quantization: arithmetic.quantization))),
                ("quantization", JSONOutput.string(arithmetic.quantization.rawValue)),
                ("threads", String(Parallel.cores)),
                ("load_s", String(format: "%.3f", bench.loadSeconds)),
            ]
            if arithmetic.computeMode == nil, let selection = ModelLoader.automaticCompute?.lastSelection, selection.mode == bench.computeMode {
                // The table behind --compute auto: each family's rate on the model's shapes.
                let rates = selection.measurements.map { "\(JSONOutput.string($0.family)):" + String(format: "%.1f", $0.gflops) }
                fields.append(("compute_gflops", "{" + rates.joined(separator: ",") + "}"))
            }
            if let v = bench.vision {
                fields += [
                    ("vision_s", String(format: "%.3f", median(v.visionSeconds))),
                    ("vision_runs", "[" + v.visionSeconds.map { String(format: "%.3f", $0) }.joined(separator: ",") + "]"),
                    ("image_prompt_tokens", String(v.promptTokens)),
                    ("image_prefill_s", String(format: "%.3f", median(v.prefillSeconds))),
                ]
                if let a = bench.adapterVision {
                    let base = median(v.visionSeconds) + median(v.prefillSeconds)
                    let with = median(a.visionSeconds) + median(a.prefillSeconds)
                    fields += [
                        ("adapter_vision_s", String(format: "%.3f", median(a.visionSeconds))),
                        ("adapter_image_prefill_s", String(format: "%.3f", median(a.prefillSeconds))),
                        ("adapter_overhead", String(format: "%.4f", with / base - 1)),
                    ]
                }
            }
            if let r = bench.text {
                fields += [
                    ("prompt_tokens", String(promptTokens)),
                    ("decode_tokens", String(decodeTokens)),
                    ("prefill_tok_s", String(format: "%.2f", median(r.prefillRates))),
                    ("decode_tok_s", String(format: "%.2f", median(r.decodeRates))),
                    ("prefill_runs", "[" + r.prefillRates.map { String(format: "%.2f", $0) }.joined(separator: ",") + "]"),
                    ("decode_runs", "[" + r.decodeRates.map { String(format: "%.2f", $0) }.joined(separator: ",") + "]"),
                ]
            }
            fields.append(("peak_rss_mb", String(format: "%.1f", Double(ResourceUsage.peakResidentBytes()) / 1_048_576)))
            try Console.out(JSONOutput.object(fields) + "\n")
        }
    }
}

/// `bench --dicom`'s JSON object: the file's shape and the median milliseconds of each phase.
enum DICOMIngestBenchmark {
    static func run(path: String, runs: Int) throws -> String {
        let b = try IngestBenchmark(path: path, runs: runs)
        func ms(_ xs: [Double]) -> String { String(format: "%.1f", TextBenchmarkResult.median(xs) * 1000) }
        let d = b.description
        return JSONOutput.object([
            ("reader", JSONOutput.string("dsa-triage")),
            ("transfer_syntax_uid", JSONOutput.string(b.transferSyntax)),
            ("frames", String(d?.numberOfFrames ?? 0)),
            ("rows", String(d?.rows ?? 0)),
            ("columns", String(d?.columns ?? 0)),
            ("chosen_frames", "[" + b.chosenFrames.map { JSONOutput.ints($0) }.joined(separator: ",") + "]"),
            ("read_ms", ms(b.read)),
            ("decode_ms", ms(b.decode)),
            ("model_input_ms", ms(b.build)),
            ("total_ms", ms(b.total)),
            ("total_runs_ms", "[" + b.total.map { String(format: "%.1f", $0 * 1000) }.joined(separator: ",") + "]"),
            ("peak_rss_mb", String(format: "%.1f", Double(ResourceUsage.peakResidentBytes()) / 1_048_576)),
        ])
    }
}

extension BenchCommand {
    /// MedGemma 1.5 4B (Gemma 3 4B with SigLIP at 896 px): decoder hidden 2560 / MLP 10240, vision 1152 / 4304.
    static let medgemma4BShapes: [GEMMShape] = {
        var text = Gemma3TextConfig()
        text.hiddenSize = 2560
        text.intermediateSize = 10240
        var vision = SiglipVisionConfig()
        vision.hiddenSize = 1152
        vision.intermediateSize = 4304
        vision.imageSize = 896
        vision.patchSize = 14
        return ModelLoader.representativeShapes(text: text, vision: vision)
    }()

    /// One JSON object: the machine, each family's rate overall and per shape, and the choice.
    func kernelTable() throws -> String {
        var shapes = Self.medgemma4BShapes
        var source = "MedGemma 1.5 4B"
        if let model {
            let configURL = URL(fileURLWithPath: model).appendingPathComponent("config.json")
            let (config, root) = try Gemma3TextConfig.load(configURL: configURL)
            shapes = ModelLoader.representativeShapes(text: config, vision: root.vision?.vision)
            source = model
        }
        let families: [(ComputeMode, SGEMMLibrary)] = [(.f32, .openblas), (.f32, .onednn), (.bf16, .onednn)]
        let measured = try families.map { try ComputeAutoSelector.measure(mode: $0.0, library: $0.1, shapes: shapes, seconds: 0.5) }
        let (mode, library) = ComputeAutoSelector.choose(measured, exactPreference: 1.05)
        // The float32 GEMM rate itself (weights already float32): what the widened-per-tile path is compared with.
        let floors = try SGEMMLibrary.allCases.map {
            try ComputeAutoSelector.measure(mode: .f32, library: $0, shapes: shapes, seconds: 0.5, widenedWeights: true)
        }
        let floorRows = floors.map { m in
            "{\"family\":\(JSONOutput.string("f32-weights/" + m.library.rawValue)),\"gflops\":\(String(format: "%.1f", m.gflops)),\"per_shape_gflops\":["
                + m.perShape.map { String(format: "%.1f", $0) }.joined(separator: ",") + "]}"
        }
        // The opt-in int8 path (--quantize w8a8): not a candidate of auto, which chooses for 16-bit weights.
        let w8a8 = try ComputeAutoSelector.measureW8A8(shapes: shapes, seconds: 0.5)
        let w8a8Row = "{\"family\":\"w8a8\",\"int8_units\":\(MatMul.int8Native),\"gflops\":\(String(format: "%.1f", w8a8.gflops)),\"per_shape_gflops\":["
            + w8a8.perShape.map { String(format: "%.1f", $0) }.joined(separator: ",") + "]}"
        let rows = measured.map { m in
            "{\"family\":\(JSONOutput.string(m.family)),\"gflops\":\(String(format: "%.1f", m.gflops)),\"per_shape_gflops\":["
                + m.perShape.map { String(format: "%.1f", $0) }.joined(separator: ",") + "]}"
        }
        let fields: [(String, String)] = [
            ("engine", JSONOutput.string("dsa-triage")),
            ("kernels_for", JSONOutput.string(source)),
            ("machine", JSONOutput.string(ComputeAutoSelector.machineDescription())),
            ("threads", String(Parallel.cores)),
            ("shapes", "[" + shapes.map { JSONOutput.string($0.description) }.joined(separator: ",") + "]"),
            ("families", "[" + rows.joined(separator: ",") + "]"),
            ("float32_weights_reference", "[" + floorRows.joined(separator: ",") + "]"),
            ("opt_in", "[" + w8a8Row + "]"),
            ("auto_choice", JSONOutput.string("\(mode.rawValue) with float32 products through \(library.rawValue)")),
        ]
        return "{" + fields.map { "\(JSONOutput.string($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }
}
