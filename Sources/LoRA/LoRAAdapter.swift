import Foundation
import MedGemma
import ModelFiles
import Tensor

/// A PEFT LoRA adapter read from `adapter_config.json` + `adapter_model.safetensors` and checked against
/// the base model it is attached to.
public final class LoRAAdapter: @unchecked Sendable {
    public let name: String
    public let directory: URL
    public let config: AdapterConfig
    /// Update of each targeted linear layer, by canonical module path.
    public let deltas: [String: LoRADelta]
    /// sha256 of adapter_model.safetensors.
    public let sha256: String

    /// Canonical module path of a peft module path (the layouts of `Gemma3CheckpointLayout`), or nil when it
    /// is neither text nor vision.
    static func canonicalModule(_ peftModule: String) -> String? { Gemma3CheckpointLayout.canonicalModule(peftModule) }

    /// Reads the adapter in `directory` and validates every tensor against `layers` (the base model's
    /// linear layers by canonical path).
    public init(directory: URL, name: String, layers: [String: LinearLayer]) throws {
        self.name = name
        self.directory = directory
        let fm = FileManager.default
        let configURL = directory.appendingPathComponent("adapter_config.json")
        guard fm.fileExists(atPath: configURL.path) else { throw LoRAError.missingFile(configURL.path) }
        config = try AdapterConfig(url: configURL)
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        guard fm.fileExists(atPath: weightsURL.path) else {
            if fm.fileExists(atPath: directory.appendingPathComponent("adapter_model.bin").path) {
                throw LoRAError.unsupported(file: directory.appendingPathComponent("adapter_model.bin").path,
                                            feature: "a pickled .bin adapter (convert it to adapter_model.safetensors)")
            }
            throw LoRAError.missingFile(weightsURL.path)
        }
        let file = try SafeTensorsFile(url: weightsURL)
        let path = weightsURL.path
        sha256 = try SHA256Hasher.hex(ofFile: path)

        // Group tensors by module: "<module>.lora_A.weight" / "<module>.lora_B.weight".
        var aKeys: [String: String] = [:], bKeys: [String: String] = [:]
        for key in file.names {
            var k = key
            if k.hasPrefix("base_model.model.") { k.removeFirst("base_model.model.".count) }
            if k.contains("lora_magnitude_vector") { throw LoRAError.unsupported(file: path, feature: "DoRA (tensor '\(key)')") }
            if k.contains("lora_embedding_") { throw LoRAError.unsupported(file: path, feature: "LoRA on embeddings (tensor '\(key)')") }
            if k.hasSuffix(".bias") && (k.contains(".lora_A.") || k.contains(".lora_B.")) {
                throw LoRAError.unsupported(file: path, feature: "LoRA bias (tensor '\(key)')")
            }
            if let r = k.range(of: ".lora_A.") ?? k.range(of: ".lora_A.weight") { aKeys[String(k[..<r.lowerBound])] = key; continue }
            if let r = k.range(of: ".lora_B.") ?? k.range(of: ".lora_B.weight") { bKeys[String(k[..<r.lowerBound])] = key; continue }
            throw LoRAError.unsupported(file: path, feature: "tensor '\(key)' (neither lora_A nor lora_B; modules_to_save or trainable tokens?)")
        }
        var deltas: [String: LoRADelta] = [:]
        for module in Set(aKeys.keys).union(bKeys.keys).sorted() {
            guard let aKey = aKeys[module] else { throw LoRAError.missingTensor(file: path, module: module, missing: "lora_A") }
            guard let bKey = bKeys[module] else { throw LoRAError.missingTensor(file: path, module: module, missing: "lora_B") }
            guard let canonical = Self.canonicalModule(module), let layer = layers[canonical] else {
                throw LoRAError.unknownModule(file: path, key: aKey)
            }
            guard config.targets(module: module) else {
                throw LoRAError.configContradiction(file: path, key: aKey, reason: "module '\(module)' is not among target_modules")
            }
            let a = try file.tensor(aKey), b = try file.tensor(bKey)
            let (rank, scale) = config.rankAndScale(module: module)
            guard a.rank == 2, a.shape[1] == layer.inFeatures else {
                throw LoRAError.shapeMismatch(file: path, key: aKey, expected: [a.rank == 2 ? a.shape[0] : rank, layer.inFeatures], found: a.shape)
            }
            guard b.rank == 2, b.shape[0] == layer.outFeatures else {
                throw LoRAError.shapeMismatch(file: path, key: bKey, expected: [layer.outFeatures, b.rank == 2 ? b.shape[1] : rank], found: b.shape)
            }
            guard a.shape[0] == b.shape[1] else {
                throw LoRAError.shapeMismatch(file: path, key: bKey, expected: [layer.outFeatures, a.shape[0]], found: b.shape)
            }
            guard a.shape[0] == rank else {
                throw LoRAError.configContradiction(file: path, key: aKey, reason: "rank \(a.shape[0]) in the tensor, r = \(rank) in the configuration")
            }
            deltas[canonical] = LoRADelta(a: a, b: b, scale: Float(scale))
        }
        guard !deltas.isEmpty else { throw LoRAError.invalidConfig(file: path, reason: "the adapter holds no LoRA tensors") }
        self.deltas = deltas
    }
}

extension LoadedModel {
    /// Loads the adapter in `directory` and attaches it under `name`; the base weights are untouched, so
    /// other adapters and the bare base (adapter nil) stay available on the same loaded model.
    @discardableResult
    public func attachAdapter(directory: URL, name: String) throws -> LoRAAdapter {
        let layers = linearLayers
        let adapter = try LoRAAdapter(directory: directory, name: name, layers: layers)
        for (module, delta) in adapter.deltas { layers[module]?.attach(name, delta) }
        return adapter
    }
}
