import ArgumentParser
import Foundation
import MedGemma
import Tensor

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the engine: language-model prefill and decode (prints one JSON object).")

    @Option(name: .long, help: "Model directory or .gguf file.")
    var model: String

    @Option(name: .long, help: "Prompt length for the prefill timing.")
    var promptTokens = 256

    @Option(name: .long, help: "Greedy decode steps timed after the prompt.")
    var decodeTokens = 64

    @Option(name: .long, help: "Timed runs after one warm-up; the median is reported.")
    var runs = 5

    @Option(name: .long, help: "Arithmetic for weights: f32 or bf16.")
    var compute: String?

    func validate() throws {
        if promptTokens < 1 || decodeTokens < 1 || runs < 1 { throw ValidationError("--prompt-tokens, --decode-tokens and --runs must be positive") }
        if let c = compute, ComputeMode(rawValue: c) == nil { throw ValidationError("--compute must be f32 or bf16") }
    }

    func run() async throws {
        try CommandErrors.reporting {
            let start = Date()
            let loaded = try ModelLoader.load(path: model, computeMode: compute.flatMap(ComputeMode.init(rawValue:)))
            let load = Date().timeIntervalSince(start)
            let r = try TextBenchmark.run(model: loaded.model, promptTokens: promptTokens, decodeTokens: decodeTokens, runs: runs, loadSeconds: load)
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let fields: [(String, String)] = [
                ("engine", JSONOutput.string("dsa-triage")),
                ("compute", JSONOutput.string(loaded.model.computeMode.rawValue)),
                ("threads", String(Parallel.cores)),
                ("prompt_tokens", String(promptTokens)),
                ("decode_tokens", String(decodeTokens)),
                ("load_s", String(format: "%.3f", load)),
                ("prefill_tok_s", String(format: "%.2f", TextBenchmarkResult.median(r.prefillRates))),
                ("decode_tok_s", String(format: "%.2f", TextBenchmarkResult.median(r.decodeRates))),
                ("prefill_runs", "[" + r.prefillRates.map { String(format: "%.2f", $0) }.joined(separator: ",") + "]"),
                ("decode_runs", "[" + r.decodeRates.map { String(format: "%.2f", $0) }.joined(separator: ",") + "]"),
                ("peak_rss_mb", String(format: "%.1f", Double(usage.ru_maxrss) / 1024)),
            ]
            print(JSONOutput.object(fields))
        }
    }
}
