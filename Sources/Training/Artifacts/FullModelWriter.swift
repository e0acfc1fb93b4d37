import FileAccess
import Foundation
import ModelFiles
import Tensor

/// Writes a fully fine-tuned model as a standalone model directory: every non-weight file of the base copied
/// (config, tokenizer, processor files) and one `model.safetensors` holding the trained tensors under their
/// checkpoint names (`FullParameters.checkpointTensors`: the layout transformers' `save_pretrained` writes),
/// so that the directory loads wherever the base loads (dsa-triage, transformers).
public enum FullModelWriter {
    /// Writes `tensors` with the base model's other files from `base` into `directory` (created; files
    /// replaced atomically), and `readme` as README.md in place of the base's, which describes the base.
    public static func write(tensors: [(name: String, tensor: Tensor)], base: URL, readme: String, to directory: URL) throws {
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw TrainingArtifactError.writeFailed(path: directory.path, reason: "\(error)")
        }
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: base.path).sorted() } catch {
            throw TrainingArtifactError.corrupt(path: base.path, reason: "cannot list the base model's files: \(error)")
        }
        for name in names where !name.hasSuffix(".safetensors") && name != "model.safetensors.index.json" && !name.hasPrefix(".")
            && name != "README.md" {
            let from = base.appendingPathComponent(name), to = directory.appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: from.path, isDirectory: &isDir), !isDir.boolValue else { continue }
            guard let data = fm.contents(atPath: from.path) else {
                throw TrainingArtifactError.writeFailed(path: from.path, reason: "cannot read the base model's file")
            }
            try AtomicWrite.write(data, to: to)
        }
        try AtomicWrite.write(Data(readme.utf8), to: directory.appendingPathComponent("README.md"))
        try AtomicWrite.write(to: directory.appendingPathComponent("model.safetensors")) { tmp in
            try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: tmp)
        }
    }
}
