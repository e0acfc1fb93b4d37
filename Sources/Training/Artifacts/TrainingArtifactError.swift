/// Errors of the optimiser, the adapter writer, checkpoints and the run record; each names the file or
/// directory and what is wrong.
public enum TrainingArtifactError: Error, CustomStringConvertible, Equatable {
    /// A caller passed something unusable (a duplicate parameter name, a negative step count, …).
    case invalidArgument(String)
    /// A parameter cannot go into a PEFT adapter (name not "<module>.lora_A.weight" / ".lora_B.weight", …).
    case invalidParameter(name: String, reason: String)
    /// A saved file is missing, unreadable or inconsistent.
    case corrupt(path: String, reason: String)
    /// Writing failed.
    case writeFailed(path: String, reason: String)
    /// The output directory holds a different run; `fields` are the settings that differ.
    case differentRun(directory: String, fields: [String])
    /// The output directory holds this same run and `--resume` was not given.
    case runExists(directory: String)
    /// The output directory holds files but no run record.
    case notARunDirectory(directory: String, entries: [String])
    /// `--resume` was given but there is nothing to resume.
    case nothingToResume(directory: String)

    /// The message shown to the user.
    public var description: String {
        switch self {
        case .invalidArgument(let s): return s
        case .invalidParameter(let name, let reason): return "parameter '\(name)': \(reason)"
        case .corrupt(let path, let reason): return "\(path): \(reason)"
        case .writeFailed(let path, let reason): return "cannot write \(path): \(reason)"
        case .differentRun(let dir, let fields):
            return "\(dir) already holds a different training run (differs in: \(fields.joined(separator: ", "))); "
                + "choose another --out directory or remove that one"
        case .runExists(let dir):
            return "\(dir) already holds this training run; pass --resume to continue it from its latest checkpoint, "
                + "or choose another --out directory"
        case .notARunDirectory(let dir, let entries):
            let shown = entries.prefix(5).joined(separator: ", ") + (entries.count > 5 ? ", …" : "")
            return "\(dir) is not empty (\(shown)) and holds no training_run.json; choose an empty or new --out directory"
        case .nothingToResume(let dir):
            return "--resume: \(dir) holds no training run to resume (no training_run.json or no checkpoint-<step> folder)"
        }
    }
}
