import Foundation
import ModelFiles
import Tensor

/// Writes a fully fine-tuned model as a standalone model directory: every non-weight file of the base copied
/// (config, tokenizer, processor files), and one `model.safetensors` holding every tensor of the base
/// checkpoint under its own name, with the trained value where training has one (float32), so that the
/// directory loads wherever the base loads (dsa-triage, transformers).
public enum FullModelWriter {
    /// Canonical parameter name (as `FullParameters` names it) of a checkpoint tensor name in any of the
    /// Gemma 3 layouts, or nil for tensors training does not hold.
    public static func canonicalName(_ key: String) -> String? {
        let prefixes: [(String, String)] = [
            ("model.vision_tower.vision_model.", "vision_tower."), ("vision_tower.vision_model.", "vision_tower."),
            ("model.vision_tower.", "vision_tower."), ("vision_tower.", "vision_tower."),
            ("model.multi_modal_projector.", "multi_modal_projector."), ("multi_modal_projector.", "multi_modal_projector."),
            ("model.language_model.", "language_model."), ("language_model.model.", "language_model."),
            ("language_model.lm_head.", "lm_head."), ("lm_head.", "lm_head."), ("model.", "language_model."),
        ]
        for (from, to) in prefixes where key.hasPrefix(from) { return to + key.dropFirst(from.count) }
        return nil
    }

    /// Writes `parameters` over the base model in `base` into `directory` (created; files replaced atomically).
    public static func write(parameters: [Parameter], base: URL, to directory: URL) throws {
        let fm = FileManager.default
        let checkpoint = try SafeTensorsCheckpoint(directory: base)
        let byName = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0) })
        var used = Set<String>()
        var tensors: [(name: String, tensor: Tensor)] = []
        for key in checkpoint.names {
            let stored = try checkpoint.tensor(key)
            if let canonical = canonicalName(key), let p = byName[canonical] {
                guard p.count == stored.count else {
                    throw TrainingArtifactError.invalidParameter(name: canonical, reason: "\(p.count) values, the base's \(key) has \(stored.count)")
                }
                tensors.append((key, try p.value.reshaped(stored.shape)))
                used.insert(canonical)
            } else {
                tensors.append((key, stored))
            }
        }
        if let missing = parameters.map(\.name).first(where: { !used.contains($0) }) {
            throw TrainingArtifactError.invalidParameter(name: missing, reason: "no tensor of the base checkpoint in \(base.path) takes it")
        }
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw TrainingArtifactError.writeFailed(path: directory.path, reason: "\(error)")
        }
        for name in try fm.contentsOfDirectory(atPath: base.path).sorted()
        where !name.hasSuffix(".safetensors") && name != "model.safetensors.index.json" && !name.hasPrefix(".") {
            let from = base.appendingPathComponent(name), to = directory.appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: from.path, isDirectory: &isDir), !isDir.boolValue else { continue }
            guard let data = fm.contents(atPath: from.path) else {
                throw TrainingArtifactError.writeFailed(path: from.path, reason: "cannot read the base model's file")
            }
            try AtomicWrite.write(data, to: to)
        }
        let target = directory.appendingPathComponent("model.safetensors")
        let tmp = AtomicWrite.temporarySibling(of: target)
        do {
            try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: tmp)
            try AtomicWrite.replace(target, with: tmp)
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
    }
}
