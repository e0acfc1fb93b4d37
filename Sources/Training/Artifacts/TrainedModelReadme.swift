import Foundation

/// The README.md of a model written by full training: what it was trained from and on, which checkpoint it is
/// and how it scored, taken from the run's record. The base's own README describes the base (for the demo
/// starting point: random weights that know nothing), so it is never copied over the trained model.
public enum TrainedModelReadme {
    /// The README text for the model `record` describes (its best checkpoint, else its last step).
    public static func text(record: TrainingRunRecord) -> String {
        let h = record.hyperparameters
        var lines = ["# Fully fine-tuned model", ""]
        lines.append("Written by `dsa-triage train --full` (dsa-triage \(record.codeVersion)), run started \(record.startedAt): every")
        lines.append("weight of the base model `\(record.baseModel)`"
                     + (record.baseModelFingerprint.map { " (weights fingerprint \($0))" } ?? "") + " trained on")
        lines.append("the manifest `\(record.dataManifest)` (sha256 \(record.dataManifestSha256))"
                     + (record.validationManifest.map { ", validated on `\($0)`" + (record.validationManifestSha256.map { " (sha256 \($0))" } ?? "") } ?? "")
                     + ".")
        lines.append("")
        let schedule = "\(h.epochs) epoch(s), learning rate \(h.learningRate) (\(h.schedule.rawValue)), batch \(h.batchSize) × "
            + "accumulation \(h.gradientAccumulation), seed \(h.seed), task profile \(h.profile)"
        lines.append("Training: \(schedule). Every setting, the per-step and per-epoch history and the cost are in")
        lines.append("`training_run.json` beside this file.")
        lines.append("")
        if let best = record.best {
            lines.append("These weights are the checkpoint of step \(best.step) (epoch \(best.epoch)), chosen by \(best.criterion)"
                         + " = \(best.value).")
            if let summary = record.epochs.first(where: { $0.step == best.step })?.summary {
                lines.append("Its validation: \(summary).")
            }
        } else {
            let last = record.steps.last.map { "step \($0.step) (epoch \($0.epoch))" } ?? "the last step"
            lines.append("These weights are those of \(last): there was no validation set to choose a checkpoint by.")
        }
        lines.append("")
        lines.append("The model knows what this data taught it and nothing more. Measure it with `dsa-triage evaluate` on")
        lines.append("data it has not seen before relying on its answers; it is not a medical device.")
        return lines.joined(separator: "\n") + "\n"
    }
}
