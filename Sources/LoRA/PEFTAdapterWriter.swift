import FileAccess
import Foundation
import ModelFiles
import Tensor

/// Why trained parameters cannot be written as a PEFT adapter.
public enum PEFTAdapterWriteError: Error, CustomStringConvertible, Equatable {
    /// A parameter cannot go into a PEFT adapter (name not "<module>.lora_A.weight" / ".lora_B.weight", …).
    case invalidParameter(name: String, reason: String)
    /// There is nothing to write.
    case noParameters

    public var description: String {
        switch self {
        case .invalidParameter(let name, let reason): return "parameter '\(name)': \(reason)"
        case .noParameters: return "PEFT adapter: no LoRA parameters to write"
        }
    }
}

/// The writer beside the reader (`LoRAAdapter`): an adapter this writes, `LoRAAdapter` and peft load.
///
/// Writes trained LoRA parameters as peft 0.21.2's `save_pretrained` does for Gemma 3 under transformers 5:
/// `adapter_config.json` (every field peft writes, sorted, indented by 2) and `adapter_model.safetensors`
/// (float32, metadata {"format": "pt"}, keys "base_model.model.<module as named in the transformers
/// model>.lora_A.weight" [r, in] / ".lora_B.weight" [out, r]). Parameters are named
/// "<canonical module>.lora_A.weight" / ".lora_B.weight" with canonical modules as `LinearLayer.module`.
public struct PEFTAdapterWriter: Sendable, Equatable {
    /// The transformers class of the base model; it fixes the module names peft saves under.
    public enum Architecture: String, Codable, Sendable {
        /// Vision-language model: "model.language_model.layers.…", "model.vision_tower.encoder.layers.…".
        case conditionalGeneration = "Gemma3ForConditionalGeneration"
        /// Text-only model: "model.layers.…".
        case causalLM = "Gemma3ForCausalLM"
    }

    /// What `target_modules` says.
    public enum Targets: Codable, Equatable, Sendable {
        /// peft's "all-linear", saved as peft saves it after resolution: the set of the wrapped modules' last names.
        case allLinear
        /// Module names (a module matches when its path equals a name or ends in "." + name).
        case names([String])
        /// A regular expression that must match the whole module path.
        case regex(String)
        /// Exactly the trained modules, saved as a regex that matches their peft paths and nothing else (names
        /// like "q_proj" would also make peft wrap, untrained, the vision tower's q_proj).
        case exactly
    }

    /// The base model's class (fixes the saved module names).
    public var architecture: Architecture
    /// LoRA rank r.
    public var rank: Int
    /// lora_alpha (the update is scaled by alpha / r, or alpha / sqrt(r) with rsLoRA).
    public var alpha: Double
    /// lora_dropout (recorded; it acts only in training).
    public var dropout: Double
    /// How target_modules is written.
    public var targets: Targets
    /// Rank-stabilised scaling alpha / sqrt(r).
    public var useRSLoRA: Bool
    /// Recorded as `base_model_name_or_path` (peft keeps whatever path or hub id the base was loaded from).
    public var baseModelNameOrPath: String?

    /// The file names peft uses.
    public static let configFileName = "adapter_config.json"
    public static let weightsFileName = "adapter_model.safetensors"
    /// The peft release whose layout this writer reproduces (written as `peft_version`).
    public static let peftVersion = "0.21.2"

    /// A writer for adapters of this shape.
    public init(architecture: Architecture, rank: Int, alpha: Double, dropout: Double, targets: Targets,
                useRSLoRA: Bool = false, baseModelNameOrPath: String? = nil) {
        self.architecture = architecture
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
        self.useRSLoRA = useRSLoRA
        self.baseModelNameOrPath = baseModelNameOrPath
    }

    /// The name a trained LoRA matrix of `module` (canonical path) carries as a `Parameter`.
    public static func parameterName(module: String, matrix: Character) -> String {
        "\(module).lora_\(matrix).weight"
    }

    /// The module path peft saves for canonical `module` ("language_model.layers.0.self_attn.q_proj" →
    /// "model.language_model.layers.0.self_attn.q_proj", or "model.layers.0.self_attn.q_proj" text-only).
    public func peftModule(_ module: String) throws -> String {
        switch architecture {
        case .conditionalGeneration:
            guard module.hasPrefix("language_model.") || module.hasPrefix("vision_tower.") else {
                throw PEFTAdapterWriteError.invalidParameter(name: module, reason: "not a language_model.* or vision_tower.* module")
            }
            return "model." + module
        case .causalLM:
            guard module.hasPrefix("language_model.") else {
                throw PEFTAdapterWriteError.invalidParameter(name: module, reason: "a text-only model (Gemma3ForCausalLM) has only language_model.* modules")
            }
            return "model." + module.dropFirst("language_model.".count)
        }
    }

    /// The key of a parameter in adapter_model.safetensors.
    public func peftKey(parameterName name: String) throws -> String {
        let (module, matrix) = try Self.split(name)
        return "base_model.model." + (try peftModule(module)) + ".lora_\(matrix).weight"
    }

    /// Module and matrix ("A" / "B") of a parameter name.
    static func split(_ name: String) throws -> (module: String, matrix: Character) {
        for m: Character in ["A", "B"] where name.hasSuffix(".lora_\(m).weight") {
            return (String(name.dropLast(".lora_\(m).weight".count)), m)
        }
        throw PEFTAdapterWriteError.invalidParameter(name: name, reason: "a LoRA parameter is named <module>.lora_A.weight or <module>.lora_B.weight")
    }

    /// `target_modules` as peft saves it for the trained `modules` (canonical paths): "all-linear" becomes the
    /// sorted set of their last names (peft stores the same set, in Python set order).
    public func savedTargetModules(modules: [String]) -> JSONLiteral {
        switch targets {
        case .allLinear:
            return .strings(Set(modules.map { String($0.split(separator: ".").last ?? Substring($0)) }).sorted())
        case .names(let names): return .strings(Array(Set(names)).sorted())
        case .regex(let pattern): return .string(pattern)
        case .exactly:
            let paths = modules.compactMap { try? peftModule($0) }.sorted()
            return .string(paths.map(NSRegularExpression.escapedPattern(for:)).joined(separator: "|"))
        }
    }

    /// A JSON value of the few kinds adapter_config.json holds, written as Python's json.dumps writes it.
    /// Not Support's `JSONValue`: that reader's type keeps numbers as doubles, while peft's file tells an
    /// int (`"r": 8`) from a float (`"lora_dropout": 0.0`), and this writer must reproduce it byte for byte.
    public enum JSONLiteral: Equatable, Sendable {
        case null, bool(Bool), int(Int), double(Double), string(String), strings([String]), emptyObject

        func text(indent: String) -> String {
            switch self {
            case .null: return "null"
            case .bool(let b): return b ? "true" : "false"
            case .int(let i): return String(i)
            case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) + ".0" : "\(d)"
            case .string(let s): return jsonString(s)
            case .strings(let list):
                if list.isEmpty { return "[]" }
                return "[\n" + list.map { indent + "  " + jsonString($0) }.joined(separator: ",\n") + "\n" + indent + "]"
            case .emptyObject: return "{}"
            }
        }
    }

    /// Every field of adapter_config.json for the trained `modules`.
    public func configFields(modules: [String]) -> [(String, JSONLiteral)] {
        // alpha is an int in peft's configs unless a fractional one was asked for.
        let alphaValue: JSONLiteral = alpha == alpha.rounded() && abs(alpha) < 1e9 ? .int(Int(alpha)) : .double(alpha)
        let fields: [(String, JSONLiteral)] = [
            ("alora_invocation_tokens", .null), ("alpha_pattern", .emptyObject), ("arrow_config", .null),
            ("auto_mapping", .null),
            ("base_model_name_or_path", baseModelNameOrPath.map(JSONLiteral.string) ?? .null),
            ("bias", .string("none")), ("corda_config", .null), ("ensure_weight_tying", .bool(false)),
            ("eva_config", .null), ("exclude_modules", .null), ("fan_in_fan_out", .bool(false)),
            ("inference_mode", .bool(true)), ("init_lora_weights", .bool(true)), ("kasa_config", .null),
            ("layer_replication", .null), ("layers_pattern", .null), ("layers_to_transform", .null),
            ("loftq_config", .emptyObject), ("lora_alpha", alphaValue), ("lora_bias", .bool(false)),
            ("lora_dropout", .double(dropout)), ("lora_ga_config", .null), ("megatron_config", .null),
            ("megatron_core", .string("megatron.core")), ("modules_to_save", .null), ("monteclora_config", .null),
            ("peft_type", .string("LORA")), ("peft_version", .string(Self.peftVersion)), ("qalora_group_size", .int(16)),
            ("r", .int(rank)), ("rank_pattern", .emptyObject), ("revision", .null),
            ("target_modules", savedTargetModules(modules: modules)), ("target_parameters", .null),
            ("task_type", .string("CAUSAL_LM")), ("trainable_token_indices", .null), ("use_bdlora", .null),
            ("use_dora", .bool(false)), ("use_qalora", .bool(false)), ("use_rslora", .bool(useRSLoRA)),
            ("velora_config", .null),
        ]
        return fields.sorted { $0.0 < $1.0 }
    }

    /// adapter_config.json's text (json.dumps(indent=2, sort_keys=True) layout).
    public func configText(modules: [String]) -> String {
        "{\n" + configFields(modules: modules).map { "  " + jsonString($0.0) + ": " + $0.1.text(indent: "  ") }
            .joined(separator: ",\n") + "\n}"
    }

    /// Checks the parameters (LoRA names, float32, A [r, in] and B [out, r] in pairs, r = `rank`) and returns
    /// their canonical modules, sorted.
    public func modules(of parameters: [Parameter]) throws -> [String] {
        var a: [String: Parameter] = [:], b: [String: Parameter] = [:]
        for p in parameters {
            let (module, m) = try Self.split(p.name)
            _ = try peftModule(module)
            guard p.value.dtype == .f32, p.shape.count == 2 else {
                throw PEFTAdapterWriteError.invalidParameter(name: p.name, reason: "expected a float32 matrix, found \(p.value.dtype) \(p.shape)")
            }
            if m == "A" {
                guard a.updateValue(p, forKey: module) == nil else { throw PEFTAdapterWriteError.invalidParameter(name: p.name, reason: "given twice") }
            } else {
                guard b.updateValue(p, forKey: module) == nil else { throw PEFTAdapterWriteError.invalidParameter(name: p.name, reason: "given twice") }
            }
        }
        for module in Set(a.keys).union(b.keys) {
            guard let pa = a[module] else { throw PEFTAdapterWriteError.invalidParameter(name: Self.parameterName(module: module, matrix: "A"), reason: "missing (lora_B is given)") }
            guard let pb = b[module] else { throw PEFTAdapterWriteError.invalidParameter(name: Self.parameterName(module: module, matrix: "B"), reason: "missing (lora_A is given)") }
            guard pa.shape[0] == rank, pb.shape[1] == rank else {
                throw PEFTAdapterWriteError.invalidParameter(name: pa.name, reason: "rank \(pa.shape[0]) (lora_A \(pa.shape), lora_B \(pb.shape)), the configuration says r = \(rank)")
            }
        }
        guard !a.isEmpty else { throw PEFTAdapterWriteError.noParameters }
        return a.keys.sorted()
    }

    /// Writes adapter_model.safetensors, then adapter_config.json, into `directory` (created if needed), each
    /// through a temporary file renamed into place.
    public func write(parameters: [Parameter], to directory: URL) throws {
        let modules = try modules(of: parameters)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors = try parameters.map { (name: try peftKey(parameterName: $0.name), tensor: $0.value) }
        try AtomicWrite.write(to: directory.appendingPathComponent(Self.weightsFileName)) { tmp in
            try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: tmp)
        }
        try AtomicWrite.write(Data(configText(modules: modules).utf8), to: directory.appendingPathComponent(Self.configFileName))
    }
}
