import Foundation

/// Decides what `dsa-triage train --out DIR` may do with DIR: start a run in a new or empty folder, continue
/// the same run with `--resume`, and refuse everything else before anything is overwritten.
public enum OutputDirectoryGuard {
    /// What the command may do with the directory.
    public enum Decision: Equatable {
        /// Nothing there (or only hidden files): start from step 0.
        case fresh
        /// The same run: continue from `checkpoint` (nil when it stopped before its first checkpoint), keeping
        /// the earlier record's history.
        case resume(checkpoint: URL?, previous: TrainingRunRecord)
    }

    /// Checks `directory` against the run described by `record`. Throws `differentRun` (naming the fields
    /// that differ), `runExists` (same run, no `resume`), `notARunDirectory` (files but no training_run.json)
    /// or `nothingToResume` (`resume` with no run there).
    public static func check(directory: URL, record: TrainingRunRecord, resume: Bool) throws -> Decision {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        let path = directory.path
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw TrainingArtifactError.writeFailed(path: path, reason: "--out must be a directory, this is a file")
            }
        } else {
            if resume { throw TrainingArtifactError.nothingToResume(directory: path) }
            return .fresh
        }
        if let format = TrainingRunRecord.format(in: directory), format != TrainingRunRecord.currentFormat {
            throw TrainingArtifactError.corrupt(path: directory.appendingPathComponent(TrainingRunRecord.fileName).path,
                reason: "written in layout \(format) by another dsa-triage version (this one writes layout \(TrainingRunRecord.currentFormat)); "
                    + "it cannot be resumed or overwritten: choose another --out directory")
        }
        guard let previous = try TrainingRunRecord.read(from: directory) else {
            let entries = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            if entries.isEmpty {
                if resume { throw TrainingArtifactError.nothingToResume(directory: path) }
                return .fresh
            }
            throw TrainingArtifactError.notARunDirectory(directory: path, entries: entries)
        }
        let differences = record.identityDifferences(from: previous)
        guard differences.isEmpty else { throw TrainingArtifactError.differentRun(directory: path, fields: differences) }
        guard resume else { throw TrainingArtifactError.runExists(directory: path) }
        return .resume(checkpoint: TrainingCheckpoint.latestCheckpoint(in: directory), previous: previous)
    }
}
