import ArgumentParser
import DICOM
import Foundation
import MedGemma
import Tensor
import Triage
#if canImport(Glibc)
import Glibc
#endif

/// An option's value from a closed set, an enum's raw values: help lists the values and shows the default,
/// and a value outside the set is a usage error (exit 64) that says the option's own sentence
/// ("--format must be jsonl or table"), raised by `value(_:)` from the command's or group's `validate()`.
/// (The parser's own message for an unknown value names neither the option's wording nor its meaning.)
struct Choice<Value: RawRepresentable & CaseIterable & Sendable>: ExpressibleByArgument, Sendable where Value.RawValue == String {
    /// As typed.
    let argument: String

    init(_ value: Value) { argument = value.rawValue }

    init?(argument: String) { self.argument = argument }

    static var allValueStrings: [String] { Value.allCases.map(\.rawValue) }

    var defaultValueDescription: String { argument }

    /// The value, or the usage error `message` when the argument names none.
    func value(_ message: String) throws -> Value {
        guard let v = Value(rawValue: argument) else { throw ValidationError(message) }
        return v
    }

    /// The value after `validate()` has checked it with `value(_:)`; `fallback` only if it was not.
    func checked(or fallback: Value) -> Value { Value(rawValue: argument) ?? fallback }
}

/// `--compute`: auto, or a forced arithmetic.
enum ComputeChoice: String, CaseIterable, Sendable {
    case auto, f32, bf16
}

/// Standard output formats of triage.
enum OutputFormat: String, CaseIterable, Sendable {
    case jsonl, table
}

/// When the progress bar is drawn on stderr.
enum ProgressMode: String, CaseIterable, Sendable {
    case auto, always, never

    /// Whether a bar over `total` units is drawn: always, or (auto) when stderr is a terminal and there are
    /// more than 3 units.
    func enabled(total: Int) -> Bool {
        self == .always || (self == .auto && total > 3 && isatty(2) != 0)
    }
}

/// The arithmetic of a loaded model: triage, generate, bench.
struct ArithmeticOptions: ParsableArguments {
    @Option(name: .long, help: "Arithmetic for 16-bit weights: auto (the faster of f32 and bf16 on this machine, measured once on the model's shapes and cached), f32 (exact) or bf16. float32 models always run in f32.")
    var compute = Choice(ComputeChoice.auto)

    @Option(name: .long, help: "Quantise the base weights of the linear layers at load: none, int8, nf4 (weight-only), or w8a8 (int8 weights and int8 activations per token, int32 sums; opt-in, measured in docs/QUANTIZATION.md). LoRA stays bf16/f32.")
    var quantize = Choice(QuantizationScheme.none)

    func validate() throws {
        _ = try compute.value("--compute must be auto, f32 or bf16")
        _ = try quantize.value("--quantize must be none, int8, w8a8 or nf4")
    }

    /// nil for auto: the loader then asks `ModelLoader.automaticCompute` (set at start-up).
    var computeMode: ComputeMode? { ComputeMode(rawValue: compute.argument) }
    var quantization: QuantizationScheme { quantize.checked(or: .none) }
}

/// The model a command runs, its adapter and its arithmetic: triage, generate.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model directory (config.json + safetensors + tokenizer.json); generate also takes a .gguf file.")
    var model: String

    @Option(name: .long, help: "PEFT LoRA adapter directory, applied unmerged on top of the model (base weights untouched).")
    var adapter: String?

    @OptionGroup var arithmetic: ArithmeticOptions
}

/// The task profile: triage, evaluate, train, domain.
struct ProfileOptions: ParsableArguments {
    @Option(name: .long, help: "Task profile JSON, the one the model was trained with: prompt, labels, frame strategy, and the threshold that decides when predictions have no decision column (default: the compiled-in profile, as profiles/default-task-profile.json).")
    var profile: String?

    /// The profile file's contents, or the compiled-in profile.
    func load() throws -> TaskProfile {
        try profile.map { try TaskProfile.load(path: $0) } ?? TaskProfile.standard
    }
}

/// How files found under folders are named: triage, evaluate, train, domain.
struct PathOptions: ParsableArguments {
    @Option(name: .long, help: "How files found under a folder (an INPUT, or a manifest row) are named in the output, messages and caches: hashed (the folder as typed, then a hash of the rest; the default, since names there can hold patient names), relative (the part under the folder) or as-given (the folder as typed, then the names found). Manifest paths stay as written.")
    var paths = Choice(PathDisplay.Mode.hashed)

    func validate() throws {
        _ = try paths.value("--paths must be as-given, relative or hashed")
    }

    var mode: PathDisplay.Mode { paths.checked(or: .hashed) }
}

/// Reading input files: the site key for hashes and the decode memory limit; triage, evaluate, inspect.
struct InputOptions: ParsableArguments {
    @Option(name: .long, help: "Site key file: UIDs (and, in triage and evaluate, hashed paths) are hashed with HMAC-SHA256 under it, so they cannot be linked across sites (default: $DSA_SITE_KEY_FILE; none: plain SHA-256).")
    var siteKeyFile: String?

    @Option(name: .long, help: "Memory one file's decoding and display pipeline may claim, in MiB (default 2048); a file that needs more is refused with an error.")
    var maxDecodeMb = DecodeBudget.defaultMaxBytes >> 20

    func validate() throws {
        if maxDecodeMb < 1 || maxDecodeMb > Self.maxMegabytes {
            throw ValidationError("--max-decode-mb must lie in 1…\(Self.maxMegabytes)")
        }
    }

    /// 16 TiB: far above any machine, and small enough that MiB → bytes cannot overflow.
    static let maxMegabytes = 16 << 20

    var maxDecodeBytes: Int { maxDecodeMb << 20 }

    func siteKey() throws -> SiteKey? { try SiteKey.resolve(option: siteKeyFile) }
}

/// The progress bar: triage, evaluate.
struct ProgressOptions: ParsableArguments {
    @Option(name: .long, help: "Progress bar on stderr: auto (when stderr is a terminal and there are more than 3 units), always or never.")
    var progress = Choice(ProgressMode.auto)

    func validate() throws {
        _ = try progress.value("--progress must be auto, always or never")
    }

    func bar(total: Int) -> ProgressBar {
        ProgressBar(total: total, enabled: progress.checked(or: .auto).enabled(total: total))
    }
}

/// How the arithmetic was chosen, for logs, `--verbose`, `bench` and `/readyz`: forced, measured by
/// `--compute auto` (with the rates), or fixed by float32 weights.
func computeDescription(forced: ComputeMode?, loaded: ComputeMode, quantization: QuantizationScheme = .none) -> String {
    let arithmetic: String
    if forced != nil {
        arithmetic = "\(loaded.rawValue) (forced by --compute)"
    } else if let selection = ModelLoader.automaticCompute?.lastSelection, selection.mode == loaded {
        arithmetic = selection.summary
    } else {
        arithmetic = "\(loaded.rawValue) (the weights' dtype)"
    }
    return arithmetic + quantizationDescription(quantization)
}

/// What the linear layers of a quantised base run on, for the same lines.
func quantizationDescription(_ scheme: QuantizationScheme) -> String {
    switch scheme {
    case .none: return ""
    case .int8, .nf4: return "; linear layers: \(scheme.rawValue) weights dequantised per tile"
    case .w8a8:
        return MatMul.int8Native
            ? "; linear layers: w8a8 (int8 weights and activations, int32 sums on the int8 units)"
            : "; linear layers: w8a8 (int8 weights and activations, multiplied in float32: this CPU has no VNNI)"
    }
}

/// Sets up `--compute auto` for the process: the choice is cached in `$DSA_TRIAGE_COMPUTE_CACHE` when set
/// (an empty value: not cached), else under the user's cache folder.
func enableAutomaticCompute() {
    let env = ProcessInfo.processInfo.environment["DSA_TRIAGE_COMPUTE_CACHE"]
    let file = env.map { $0.isEmpty ? nil : URL(fileURLWithPath: $0) } ?? ComputeAutoSelector.defaultCacheFile
    ModelLoader.automaticCompute = ComputeAutoSelector(cacheFile: file)
}
