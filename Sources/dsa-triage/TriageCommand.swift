import Angiography
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

    @Option(name: .long, help: "How files found under a folder INPUT are named in the output: hashed (the folder as typed, then a hash of the rest; the default, since names there can hold patient names), relative (the part under the folder) or as-given (the folder as typed, then the names found).")
    var paths = "hashed"

    @Option(name: .long, help: "Site key file: UIDs and hashed paths are hashed with HMAC-SHA256 under it, so they cannot be linked across sites (default: $DSA_SITE_KEY_FILE; none: plain SHA-256).")
    var siteKeyFile: String?

    @Option(name: .long, help: "series (one record per series or picture) or study (also one record per study: the worst of its series).")
    var group = "series"

    @Option(name: .long, help: "Write each model input image as PNG into this folder, named by the record's hashed series UID and frames; records give the file name (saved_image).")
    var saveImages: String?

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
        if PathDisplay.Mode(rawValue: paths) == nil { throw ValidationError("--paths must be as-given, relative or hashed") }
        if !["series", "study"].contains(group) { throw ValidationError("--group must be series or study") }
        if maxDecodeMb < 1 || maxDecodeMb > DecodeMemoryOption.maxMegabytes { throw ValidationError("--max-decode-mb must lie in 1…\(DecodeMemoryOption.maxMegabytes)") }
    }

    func run() async throws {
        var total = 0, failed = 0
        var summary = RunSummary()
        try CommandErrors.reporting {
            let siteKey = try SiteKey.resolve(option: siteKeyFile)
            let imageDirectory = saveImages.map { URL(fileURLWithPath: $0) }
            // Checked before the model loads: a run that cannot keep its images should not start.
            if let imageDirectory { try SavedImages.prepare(imageDirectory) }
            let taskProfile = try profile.map { try TaskProfile.load(path: $0) } ?? TaskProfile.standard
            if let writeProfile { try AtomicWrite.write(try taskProfile.jsonData(), to: URL(fileURLWithPath: writeProfile)) }
            let triageMode = mode.flatMap(TriageMode.init(rawValue:)) ?? TriageMode(rawValue: taskProfile.generation.mode) ?? .score
            let pipeline = try TriagePipeline.load(model: model, adapter: adapter, profile: taskProfile, mode: triageMode,
                                                   computeMode: compute.flatMap(ComputeMode.init(rawValue:)),
                                                   quantization: QuantizationScheme(rawValue: quantize) ?? .none)
            pipeline.keepGeneratedText = keepGeneratedText
            pipeline.siteKey = siteKey
            pipeline.pathDisplay = PathDisplay(mode: PathDisplay.Mode(rawValue: paths) ?? .hashed, key: siteKey)
            pipeline.savedImagesDirectory = imageDirectory
            pipeline.builder.options.maxDecodeBytes = maxDecodeMb << 20
            if pipeline.isTestModel {
                Self.stderr("warning: \(model) is a tiny test model; its decisions are meaningless (records say test_model_decisions_meaningless: true)\n")
            }
            if let notice = pipeline.demoNotice {
                Self.stderr("warning: \(model) is a demo model — \(notice) (records say demo_model_no_clinical_meaning: true)\n")
            }
            if pipeline.inputDomain == nil { Self.stderr("notice: \(TriagePipeline.noInputDomainNotice)\n") }
            // Arguments as their escaped forms: a name that is not UTF-8 is read through its raw bytes.
            let units = TriagePipeline.plan(inputs.map(EscapedPath.argument))
            let bar = ProgressBar(total: units.count, enabled: progress == "always" || (progress == "auto" && units.count > 3 && isatty(2) != 0))
            if format == "table" { try Self.stdout(TableFormat.header + "\n") }
            var seriesRecords: [TriageRecord] = []
            for unit in units {
                let r = pipeline.run(unit)
                total += 1
                if r.status == .error { failed += 1 }
                summary.add(r)
                if group == "study" && r.kind == .dicomSeries { seriesRecords.append(r) }
                // The bar shares the terminal with the rows: erase it first, or a row starts after its text.
                bar.clear()
                // Written straight to the file descriptor, one line per unit, so a reader sees each as it lands.
                try Self.stdout((format == "jsonl" ? try r.jsonLine() : TableFormat.row(r)) + "\n")
                bar.advance()
            }
            bar.finish()
            // Study records come after all series: a study's series may lie anywhere in the inputs.
            for r in StudyVerdict.records(for: seriesRecords) {
                try Self.stdout((format == "jsonl" ? try r.jsonLine() : TableFormat.row(r)) + "\n")
            }
        }
        if total > 0 { Self.stderr(summary.text + "\n") }
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
    /// The input column, always from the record's own fields (so it follows `--paths` as the JSONL does):
    /// the unit's one file, or the input with its file count, or the study with its series count.
    static func inputColumn(_ r: TriageRecord) -> String {
        if r.kind == .study { return "study \(r.studyUIDHash ?? "-") (\(r.series?.count ?? 0) series) in \(r.input)" }
        if r.files.count == 1 { return r.files[0] }
        return r.input + (r.files.count > 1 ? " (\(r.files.count) files)" : "")
    }

    static let header = pad("decision", 14) + pad("P(blocked)", 11) + pad("status", 10) + pad("modality", 9) + "input — reasons"

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

    static func row(_ r: TriageRecord) -> String {
        let p = r.pBlocked.map { String(format: "%.3f", $0) } ?? "-"
        let why = r.error ?? r.reasons.joined(separator: "; ")
        return pad(r.decision?.rawValue ?? "-", 14) + pad(p, 11) + pad(r.status.rawValue, 10) + pad(r.modality ?? "-", 9)
            + inputColumn(r) + " — " + why
            + (r.testModel ? " [test model: meaningless]" : "") + (r.demoModel ? " [demo model: no clinical meaning]" : "")
    }
}
