import ArgumentParser
import DICOM
import Foundation
import FileAccess
import MedGemma
import Tensor
import Triage
#if canImport(Glibc)
import Glibc
#endif

struct TriageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triage",
        abstract: "Triage angiograms: patent, blocked or manual review, with P(blocked); one JSON line per series or image.",
        discussion: """
            INPUT may be DICOM files, folders (scanned recursively and grouped into series; a series is one record), \
            PNG or JPEG files. Out-of-scope series are reported as skipped. Decision support only: every result \
            needs a clinician.

            Exit status: 0 every input processed (skipped inputs count as processed); 3 some inputs failed (their \
            records say why); 4 no input could be processed (or the inputs held no file at all); \(ExitStatusHelp.common).
            """)

    @Option(name: .long, help: "Model directory (config.json + safetensors + tokenizer.json).")
    var model: String

    @Option(name: .long, help: "PEFT LoRA adapter directory, applied unmerged on top of the model.")
    var adapter: String?

    @Option(name: .long, help: "Task profile JSON (default: the compiled-in profile, as profiles/default-task-profile.json).")
    var profile: String?

    @Option(name: .long, help: "score (label log-likelihoods), generate (free text, parsed) or both (default: the profile's).")
    var mode: String?

    @Option(name: .long, help: "Output: jsonl (one JSON object per line) or table (for people).")
    var format = "jsonl"

    @Option(name: .long, help: "Arithmetic for 16-bit weights: f32 or bf16. Default: bf16 for bf16 models, else f32.")
    var compute: String?

    @Option(name: .long, help: "Quantise the base weights of the linear layers at load: none, int8 or nf4 (LoRA stays bf16/f32).")
    var quantize = "none"

    @Option(name: .long, help: "Progress bar on stderr: auto (when stderr is a terminal and there are more than 3 units), always, never.")
    var progress = "auto"

    @Flag(name: .long, help: "Keep the generated text in the records (off: a model may repeat text burned into the pixels).")
    var keepGeneratedText = false

    @Option(name: .long, help: "Write the profile in use to this file and continue (for auditing a run).")
    var writeProfile: String?

    @Option(name: .long, help: "Memory one file's decoding and display pipeline may claim, in MiB (default 2048); a file that needs more is refused with an error.")
    var maxDecodeMb = DecodeBudget.defaultMaxBytes >> 20

    @Argument(help: "DICOM files, folders, PNG or JPEG files.")
    var inputs: [String] = []

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one INPUT") }
        if let m = mode, TriageMode(rawValue: m) == nil { throw ValidationError("--mode must be score, generate or both") }
        if !["jsonl", "table"].contains(format) { throw ValidationError("--format must be jsonl or table") }
        if let c = compute, ComputeMode(rawValue: c) == nil { throw ValidationError("--compute must be f32 or bf16") }
        if QuantizationScheme(rawValue: quantize) == nil { throw ValidationError("--quantize must be none, int8 or nf4") }
        if !["auto", "always", "never"].contains(progress) { throw ValidationError("--progress must be auto, always or never") }
        if maxDecodeMb < 1 || maxDecodeMb > DecodeMemoryOption.maxMegabytes { throw ValidationError("--max-decode-mb must lie in 1…\(DecodeMemoryOption.maxMegabytes)") }
    }

    func run() async throws {
        var total = 0, failed = 0
        try CommandErrors.reporting {
            let taskProfile = try profile.map { try TaskProfile.load(path: $0) } ?? TaskProfile.standard
            if let writeProfile { try AtomicWrite.write(try taskProfile.jsonData(), to: URL(fileURLWithPath: writeProfile)) }
            let triageMode = mode.flatMap(TriageMode.init(rawValue:)) ?? TriageMode(rawValue: taskProfile.generation.mode) ?? .score
            let pipeline = try TriagePipeline.load(model: model, adapter: adapter, profile: taskProfile, mode: triageMode,
                                                   computeMode: compute.flatMap(ComputeMode.init(rawValue:)),
                                                   quantization: QuantizationScheme(rawValue: quantize) ?? .none)
            pipeline.keepGeneratedText = keepGeneratedText
            pipeline.builder.options.maxDecodeBytes = maxDecodeMb << 20
            if pipeline.isTestModel {
                Self.stderr("warning: \(model) is a tiny test model; its decisions are meaningless (records say test_model_decisions_meaningless: true)\n")
            }
            if let notice = pipeline.demoNotice {
                Self.stderr("warning: \(model) is a demo model — \(notice) (records say demo_model_no_clinical_meaning: true)\n")
            }
            let units = TriagePipeline.plan(inputs)
            let bar = ProgressBar(total: units.count, enabled: progress == "always" || (progress == "auto" && units.count > 3 && isatty(2) != 0))
            if format == "table" { try Self.stdout(TableFormat.header + "\n") }
            for unit in units {
                let r = pipeline.run(unit)
                total += 1
                if r.status == .error { failed += 1 }
                // Written straight to the file descriptor, one line per unit, so a reader sees each as it lands.
                try Self.stdout((format == "jsonl" ? try r.jsonLine() : TableFormat.row(r)) + "\n")
                bar.advance()
            }
            bar.finish()
        }
        if total == 0 {
            Self.stderr("no DICOM, PNG or JPEG file found in the inputs\n")
            throw ExitCode(4)
        }
        if failed == 0 { return }
        Self.stderr("\(failed) of \(total) input(s) failed; see their records\n")
        throw ExitCode(failed == total ? 4 : 3)
    }

    static func stderr(_ s: String) { Console.err(s) }
    static func stdout(_ s: String) throws { try Console.out(s) }
}

/// Plain-text table for people.
enum TableFormat {
    static let header = pad("decision", 14) + pad("P(blocked)", 11) + pad("status", 10) + pad("modality", 9) + "input — reasons"

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

    static func row(_ r: TriageRecord) -> String {
        let p = r.pBlocked.map { String(format: "%.3f", $0) } ?? "-"
        let why = r.error ?? r.reasons.joined(separator: "; ")
        return pad(r.decision?.rawValue ?? "-", 14) + pad(p, 11) + pad(r.status.rawValue, 10) + pad(r.modality ?? "-", 9)
            + (r.files.count == 1 ? r.files[0] : r.input + (r.files.count > 1 ? " (\(r.files.count) files)" : "")) + " — " + why
            + (r.testModel ? " [test model: meaningless]" : "") + (r.demoModel ? " [demo model: no clinical meaning]" : "")
    }
}
