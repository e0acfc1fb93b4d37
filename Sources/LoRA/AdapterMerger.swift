import FileAccess
import Foundation
import MedGemma
import ModelFiles
import Tensor

/// Folds a LoRA adapter into its base: W' = W + scale·B·A for every adapted layer, written as a standalone
/// model directory (sharded safetensors + index, config, tokenizer and processor files) that transformers
/// loads as the base's own class.
public enum AdapterMerger {
    /// Files copied unchanged from the base directory when present (none is needed to merge weights).
    static let companionFiles = [
        "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "preprocessor_config.json", "processor_config.json", "chat_template.jinja", "chat_template.json",
        "generation_config.json",
    ]

    public struct Result: Sendable {
        public var shards: [URL]
        public var mergedModules: Int
        public var baseSHA256: String
        public var adapterSHA256: String
        /// The dtypes the output's tensors are stored in, sorted (the base's own when no dtype was asked for).
        public var dtypes: [DType]
        /// Tensors stored in a narrower dtype than the base's (nonzero only when a dtype was asked for).
        public var narrowedTensors: Int
        /// Companion files copied from the base (tokenizer, processor, chat template, ...).
        public var copiedFiles: [String]
    }

    /// A fingerprint of a model directory: sha256 over its weight files' own sha256s (sorted by name).
    public static func fingerprint(modelDirectory dir: URL) throws -> String {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".safetensors") || $0 == "model.safetensors.index.json" }.sorted()
        guard !files.isEmpty else { throw LoRAError.missingFile(dir.appendingPathComponent("model.safetensors").path) }
        let digests = try SHA256Hasher.hex(ofFiles: files.map { dir.appendingPathComponent($0).path })
        var lines = ""
        for (f, d) in zip(files, digests) { lines += "\(f) \(d)\n" }
        return SHA256Hasher.hex(of: Data(lines.utf8))
    }

    /// Merges `adapterDir` into `base`. `dtype` nil keeps every tensor in the base's dtype (no rounding beyond
    /// the base's own); a dtype converts every tensor to it.
    public static func merge(base: URL, adapter adapterDir: URL, output: URL, dtype: DType?,
                             maxShardBytes: Int = 4_000_000_000) throws -> Result {
        let fm = FileManager.default
        if fm.fileExists(atPath: output.path) {
            let contents = (try? fm.contentsOfDirectory(atPath: output.path)) ?? ["?"]
            guard contents.isEmpty else { throw LoRAError.output(path: output.path, reason: "output directory exists and is not empty") }
        }
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: base.path, isDirectory: &isDir) else { throw ModelError.missingModel(base.path) }
        guard isDir.boolValue else {
            throw LoRAError.output(path: base.path, reason: "the base must be a model directory (safetensors); GGUF bases cannot be merged")
        }
        // Weights only: the tokenizer plays no part in merging and is copied when present.
        let layers = try ModelLoader.loadWeights(directory: base, computeMode: .f32).weights.linearLayers
        let adapter = try LoRAAdapter(directory: adapterDir, name: "merge", layers: layers)
        let bySource = Dictionary(uniqueKeysWithValues: adapter.deltas.compactMap { module, delta in
            layers[module].map { ($0.sourceName, delta) }
        })
        let checkpoint = try SafeTensorsCheckpoint(directory: base)
        let baseSHA = try fingerprint(modelDirectory: base)
        var entries: [SafeTensorsWriter.Entry] = []
        var written = Set<DType>()
        var narrowed = 0
        for name in checkpoint.names {
            let info = try checkpoint.info(name)
            guard let stored = info.dtype.tensorDType else {
                throw LoRAError.output(path: base.path, reason: "tensor '\(name)' has dtype \(info.dtype), which cannot be merged")
            }
            let target = dtype ?? stored
            written.insert(target)
            if target.byteSize < stored.byteSize { narrowed += 1 }
            let delta = bySource[name]
            entries.append(SafeTensorsWriter.Entry(name: name, dtype: target, shape: info.shape) {
                let t = try checkpoint.tensor(name)
                guard let delta else { return t.converted(to: target) }
                let w = t.toFloat32()
                let update = try delta.denseUpdate()
                for i in 0..<w.count { w.f32[i] += update.f32[i] }
                return w.converted(to: target)
            })
        }
        try OutputFolder.create(output)
        let metadata = [
            "format": "pt",
            "merged_by": "dsa-triage merge",
            "base_sha256": baseSHA,
            "adapter_sha256": adapter.sha256,
        ]
        let shards = try SafeTensorsWriter.writeSharded(entries: entries, metadata: metadata, to: output, maxShardBytes: maxShardBytes)

        var copied: [String] = []
        for f in companionFiles {
            let src = base.appendingPathComponent(f)
            if fm.fileExists(atPath: src.path) {
                try fm.copyItem(at: src, to: output.appendingPathComponent(f))
                copied.append(f)
            }
        }
        // config.json: same architecture, weights now in `dtype`.
        let cfgURL = base.appendingPathComponent("config.json")
        guard let cfgData = fm.contents(atPath: cfgURL.path),
              var cfg = (try? JSONSerialization.jsonObject(with: cfgData)) as? [String: Any] else {
            throw LoRAError.output(path: cfgURL.path, reason: "cannot read the base config.json")
        }
        // With no dtype asked for, the weights keep the base's dtypes and so does config.json.
        let torchName = dtype.map(torchDTypeName)
        if let torchName {
            cfg["dtype"] = torchName
            if cfg["torch_dtype"] != nil { cfg["torch_dtype"] = torchName }
        }
        try AtomicWrite.write(try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys]),
                              to: output.appendingPathComponent("config.json"))
        let info: [String: Any] = [
            "base": ["path": base.path, "sha256": baseSHA],
            "adapter": ["path": adapterDir.path, "sha256": adapter.sha256, "r": adapter.config.rank,
                        "lora_alpha": adapter.config.alpha, "use_rslora": adapter.config.useRSLoRA],
            "merged_modules": adapter.deltas.keys.sorted(),
            "dtype": torchName ?? "as the base",
            "stored_dtypes": written.map(torchDTypeName).sorted(),
        ]
        try AtomicWrite.write(try JSONSerialization.data(withJSONObject: info, options: [.prettyPrinted, .sortedKeys]),
                              to: output.appendingPathComponent("merge_info.json"))
        return Result(shards: shards, mergedModules: adapter.deltas.count, baseSHA256: baseSHA, adapterSHA256: adapter.sha256,
                      dtypes: written.sorted { $0.rawValue < $1.rawValue }, narrowedTensors: narrowed, copiedFiles: copied)
    }

    /// PyTorch's name of a dtype, as config.json spells it.
    static func torchDTypeName(_ d: DType) -> String {
        switch d {
        case .f32: return "float32"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        }
    }
}
