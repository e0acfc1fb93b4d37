import FileAccess
import Foundation
import LoRA
import ModelFiles
import Tensor

/// Where a run stands between two optimiser steps: enough to continue it bit-for-bit.
public struct TrainerState: Codable, Equatable, Sendable {
    /// Optimiser steps done.
    public var globalStep: Int
    /// The sampler's count of finished passes over the training set (0 during the first epoch): a position,
    /// not an epoch number (records number epochs from 1).
    public var epoch: Int
    /// Examples of `epochOrder` already consumed in this epoch.
    public var positionInEpoch: Int
    /// This epoch's sample order (indices into the training set), for a loop that keeps it; `Trainer` leaves
    /// it empty, since its sampler re-derives the order from its seed, the epoch and the position.
    public var epochOrder: [Int]
    /// Every random generator's state by purpose ("dropout", "sampler", …): `SplitMix64.state` words.
    public var rngStates: [String: UInt64]
    /// Every optimiser step so far.
    public var steps: [StepRecord]
    /// Every finished epoch.
    public var epochs: [EpochRecord]
    /// The best checkpoint so far.
    public var best: BestCheckpoint?

    /// The state at the start of a run, or as given.
    public init(globalStep: Int = 0, epoch: Int = 0, positionInEpoch: Int = 0, epochOrder: [Int] = [],
                rngStates: [String: UInt64] = [:], steps: [StepRecord] = [], epochs: [EpochRecord] = [],
                best: BestCheckpoint? = nil) {
        self.globalStep = globalStep
        self.epoch = epoch
        self.positionInEpoch = positionInEpoch
        self.epochOrder = epochOrder
        self.rngStates = rngStates
        self.steps = steps
        self.epochs = epochs
        self.best = best
    }
}

/// `checkpoint-<step>/` folders in an output directory: the trained parameters (a PEFT adapter, loadable as
/// it is, or for full fine-tuning `parameters.safetensors`), the optimiser state (`optimizer.safetensors`:
/// "<parameter>.exp_avg" / ".exp_avg_sq", step in the metadata) and `trainer_state.json`. A checkpoint is
/// written into a hidden temporary folder and renamed into place, so a crash never leaves a half checkpoint
/// under a `checkpoint-<step>` name.
public enum TrainingCheckpoint {
    /// Checkpoint folders are named folderPrefix + step.
    public static let folderPrefix = "checkpoint-"
    /// The trainer state file (written last: it marks a complete checkpoint).
    public static let stateFileName = "trainer_state.json"
    /// The AdamW moments.
    public static let optimizerFileName = "optimizer.safetensors"
    /// The parameters in the plain layout.
    public static let parametersFileName = "parameters.safetensors"

    /// How the trained parameters are stored.
    public enum ParameterLayout: Sendable {
        /// LoRA: as a PEFT adapter (adapter_config.json + adapter_model.safetensors).
        case peftAdapter(PEFTAdapterWriter)
        /// Full fine-tuning: parameters.safetensors under the parameters' own names.
        case plain
    }

    /// The folder of the checkpoint after `step` optimiser steps.
    public static func folder(in root: URL, step: Int) -> URL {
        root.appendingPathComponent("\(folderPrefix)\(step)")
    }

    /// Complete checkpoints in `root` (a `checkpoint-<step>` folder holding trainer_state.json), by step.
    public static func checkpoints(in root: URL) -> [(step: Int, url: URL)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root.path) else { return [] }
        var out: [(Int, URL)] = []
        for name in names where name.hasPrefix(folderPrefix) {
            guard let step = Int(name.dropFirst(folderPrefix.count)), step >= 0, String(step) == name.dropFirst(folderPrefix.count) else { continue }
            let url = root.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(stateFileName).path) { out.append((step, url)) }
        }
        return out.sorted { $0.0 < $1.0 }.map { (step: $0.0, url: $0.1) }
    }

    /// The checkpoint with the highest step in `root`, or nil.
    public static func latestCheckpoint(in root: URL) -> URL? { checkpoints(in: root).last?.url }

    /// Saves a checkpoint of `state` (its `globalStep` names the folder) with the parameters and the optimiser
    /// state, then keeps only the last `keepLast` checkpoints (nil keeps all) plus the steps in `protect`
    /// (the best one). Returns the folder.
    @discardableResult
    public static func save(in root: URL, state: TrainerState, parameters: [Parameter], optimizer: AdamW,
                            layout: ParameterLayout, keepLast: Int? = nil, protect: Set<Int> = []) throws -> URL {
        guard optimizer.stepCount == state.globalStep else {
            throw TrainingArtifactError.invalidArgument("checkpoint: the optimiser has taken \(optimizer.stepCount) steps, the trainer state says \(state.globalStep)")
        }
        let fm = FileManager.default
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        let final = folder(in: root, step: state.globalStep)
        let tmp = AtomicWrite.temporarySibling(of: final)
        do {
            try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
            switch layout {
            case .peftAdapter(let writer):
                try writer.write(parameters: parameters, to: tmp)
            case .plain:
                try SafeTensorsWriter.write(parameters.map { (name: $0.name, tensor: $0.value) }, metadata: ["format": "pt"],
                                            to: tmp.appendingPathComponent(parametersFileName))
            }
            var moments: [(name: String, tensor: Tensor)] = []
            for (i, p) in optimizer.parameters.enumerated() {
                moments.append((p.name + ".exp_avg", optimizer.firstMoments[i]))
                moments.append((p.name + ".exp_avg_sq", optimizer.secondMoments[i]))
            }
            try SafeTensorsWriter.write(moments, metadata: ["step": String(optimizer.stepCount)],
                                        to: tmp.appendingPathComponent(optimizerFileName))
            // trainer_state.json last: its presence marks a complete checkpoint.
            try TrainingJSON.write(state, to: tmp.appendingPathComponent(stateFileName))
            if fm.fileExists(atPath: final.path) {
                // Same step saved again (a resumed run): move the old one aside, then swap.
                let old = AtomicWrite.temporarySibling(of: final)
                try AtomicWrite.replace(old, with: final)
                try AtomicWrite.replace(final, with: tmp)
                try? fm.removeItem(at: old)
            } else {
                try AtomicWrite.replace(final, with: tmp)
            }
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
        if let keepLast { try prune(in: root, keepLast: keepLast, protect: protect.union([state.globalStep])) }
        return final
    }

    /// Removes all but the last `keepLast` checkpoints and those in `protect`.
    public static func prune(in root: URL, keepLast: Int, protect: Set<Int> = []) throws {
        let all = checkpoints(in: root)
        for (step, url) in all.dropLast(max(0, keepLast)) where !protect.contains(step) {
            do { try FileManager.default.removeItem(at: url) } catch {
                throw TrainingArtifactError.writeFailed(path: url.path, reason: "cannot remove an old checkpoint: \(error)")
            }
        }
    }

    /// Loads the checkpoint in `folder` into `parameters` and `optimizer` (matched by name, shapes checked) and
    /// returns the trainer state.
    public static func load(from folder: URL, parameters: [Parameter], optimizer: AdamW, layout: ParameterLayout) throws -> TrainerState {
        let state = try TrainingJSON.read(TrainerState.self, from: folder.appendingPathComponent(stateFileName))
        switch layout {
        case .peftAdapter(let writer):
            try writer.read(into: parameters, from: folder)
        case .plain:
            try readParameters(parameters, from: folder.appendingPathComponent(parametersFileName))
        }
        let url = folder.appendingPathComponent(optimizerFileName)
        let file = try openSafeTensors(url)
        guard let stepText = file.metadata["step"], let step = Int(stepText) else {
            throw TrainingArtifactError.corrupt(path: url.path, reason: "no integer 'step' in the metadata")
        }
        guard step == state.globalStep else {
            throw TrainingArtifactError.corrupt(path: url.path, reason: "optimiser step \(step), trainer_state.json says \(state.globalStep)")
        }
        var m: [String: Tensor] = [:], v: [String: Tensor] = [:]
        for p in optimizer.parameters {
            m[p.name] = try tensor(file, p.name + ".exp_avg", shape: p.shape, url: url)
            v[p.name] = try tensor(file, p.name + ".exp_avg_sq", shape: p.shape, url: url)
        }
        if file.names.count != 2 * optimizer.parameters.count {
            let known = Set(optimizer.parameters.flatMap { [$0.name + ".exp_avg", $0.name + ".exp_avg_sq"] })
            let extra = Set(file.names).subtracting(known).sorted().first ?? "?"
            throw TrainingArtifactError.corrupt(path: url.path, reason: "tensor '\(extra)' belongs to no trained parameter")
        }
        try optimizer.restore(stepCount: step, firstMoments: m, secondMoments: v, source: url.path)
        return state
    }

    /// Copies each parameter's tensor (stored under `key(parameter)`: its own name by default) from the
    /// safetensors file `url` into it, checking float32 and the shape; a missing file or tensor, a tensor of
    /// another shape, or a tensor no parameter claims is an error naming the file.
    static func readParameters(_ parameters: [Parameter], from url: URL, key: (Parameter) throws -> String = { $0.name }) throws {
        let file = try openSafeTensors(url)
        var expected = Set<String>()
        for p in parameters {
            let k = try key(p)
            expected.insert(k)
            let t = try tensor(file, k, shape: p.shape, url: url, parameter: k == p.name ? nil : p.name)
            p.value.f32.update(from: t.f32, count: p.count)
        }
        if let extra = Set(file.names).subtracting(expected).sorted().first {
            throw TrainingArtifactError.corrupt(path: url.path, reason: "tensor '\(extra)' is not among the trained parameters")
        }
    }

    static func openSafeTensors(_ url: URL) throws -> SafeTensorsFile {
        guard FileManager.default.fileExists(atPath: url.path) else { throw TrainingArtifactError.corrupt(path: url.path, reason: "missing") }
        do { return try SafeTensorsFile(url: url) } catch { throw TrainingArtifactError.corrupt(path: url.path, reason: "\(error)") }
    }

    static func tensor(_ file: SafeTensorsFile, _ name: String, shape: [Int], url: URL, parameter: String? = nil) throws -> Tensor {
        guard file.contains(name) else {
            throw TrainingArtifactError.corrupt(path: url.path, reason: "no tensor '\(name)'" + (parameter.map { " for parameter '\($0)'" } ?? ""))
        }
        let t = try file.tensor(name)
        guard t.dtype == .f32, t.shape == shape else {
            throw TrainingArtifactError.corrupt(path: url.path, reason: "tensor '\(name)' is \(t.dtype) \(t.shape), expected f32 \(shape)")
        }
        return t
    }
}

extension PEFTAdapterWriter {
    /// Reads the LoRA matrices of an adapter written by `write` back into `parameters` (matched by name,
    /// shapes checked); used to resume from a checkpoint.
    public func read(into parameters: [Parameter], from directory: URL) throws {
        try TrainingCheckpoint.readParameters(parameters, from: directory.appendingPathComponent(Self.weightsFileName)) {
            try peftKey(parameterName: $0.name)
        }
    }
}
