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

    @OptionGroup var model: ModelOptions

    @OptionGroup var profile: ProfileOptions

    @Option(name: .long, help: "score (label log-likelihoods), generate (free text, parsed) or both (default: the profile's).")
    var mode: Choice<TriageMode>?

    @Option(name: .long, help: "Output: jsonl (one JSON object per line) or table (for people).")
    var format = Choice(OutputFormat.jsonl)

    @OptionGroup var progress: ProgressOptions

    @Flag(name: .long, help: "Keep the generated text in the records (off: a model may repeat text burned into the pixels).")
    var keepGeneratedText = false

    @Option(name: .long, help: "Write the profile in use to this file and continue (for auditing a run).")
    var writeProfile: String?

    @OptionGroup var paths: PathOptions

    @OptionGroup var input: InputOptions

    @Option(name: .long, help: "series (one record per series or picture) or study (also one record per study: the worst of its series).")
    var group = Choice(TriageGrouping.series)

    @Flag(name: .long, help: "Say on stderr how the model was loaded: the arithmetic (and, with --compute auto, the measured rates behind the choice) and the load time.")
    var verbose = false

    @Option(name: .long, help: "Write each model input image as PNG into this folder, named by the record's hashed series UID and frames; records give the file name (saved_image).")
    var saveImages: String?

    @Argument(help: "DICOM files, folders, PNG or JPEG files.")
    var inputs: [String] = []

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one INPUT") }
        _ = try mode?.value("--mode must be score, generate or both")
        _ = try format.value("--format must be jsonl or table")
        _ = try group.value("--group must be series or study")
    }

    func run() async throws {
        var total = 0, failed = 0
        var summary = RunSummary()
        try CommandErrors.reporting {
            let request = TriageRequest(
                model: model.model, adapter: model.adapter, profilePath: profile.profile, writeProfilePath: writeProfile,
                mode: mode.flatMap { TriageMode(rawValue: $0.argument) }, computeMode: model.arithmetic.computeMode,
                quantization: model.arithmetic.quantization, keepGeneratedText: keepGeneratedText,
                siteKey: try input.siteKey(), pathMode: paths.mode, savedImagesDirectory: saveImages.map { URL(fileURLWithPath: $0) },
                maxDecodeBytes: input.maxDecodeBytes)
            let loadStart = Date()
            let pipeline = try request.pipeline()
            if verbose {
                Self.stderr(String(format: "model loaded in %.1f s; compute ", Date().timeIntervalSince(loadStart))
                            + computeDescription(forced: model.arithmetic.computeMode, loaded: pipeline.loaded.model.computeMode,
                                               quantization: model.arithmetic.quantization) + "\n")
            }
            for line in pipeline.notices(model: model.model, recordNotes: true) { Self.stderr(line + "\n") }
            // Arguments as their escaped forms: a name that is not UTF-8 is read through its raw bytes.
            let units = TriagePipeline.plan(inputs.map(EscapedPath.argument))
            let bar = progress.bar(total: units.count)
            let table = format.checked(or: .jsonl) == .table
            func line(_ r: TriageRecord) throws -> String { (table ? TableFormat.row(r) : try r.jsonLine()) + "\n" }
            if table { try Self.stdout(TableFormat.header + "\n") }
            var batch = TriageBatch(pipeline: pipeline, grouping: group.checked(or: .series))
            defer { (total, failed) = (batch.total, batch.failed) }
            for unit in units {
                let r = batch.run(unit)
                summary.add(r)
                // The bar shares the terminal with the rows: erase it first, or a row starts after its text.
                bar.clear()
                // Written straight to the file descriptor, one line per unit, so a reader sees each as it lands.
                try Self.stdout(try line(r))
                bar.advance()
            }
            bar.finish()
            for r in batch.studyRecords() { try Self.stdout(try line(r)) }
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
