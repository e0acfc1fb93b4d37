import ArgumentParser
import Foundation
import LoRA
import Tensor

struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge a PEFT LoRA adapter into its base model and write a standalone model directory.",
        discussion: ExitStatusHelp.plain)

    @Option(name: .long, help: "Base model directory (safetensors).")
    var model: String

    @Option(name: .long, help: "PEFT LoRA adapter directory.")
    var adapter: String

    @Option(name: .long, help: "Output directory (must not exist or be empty).")
    var out: String

    @Option(name: .long, help: "Weight dtype of the output: bf16, f16 or f32 (default: every tensor keeps the base's dtype; a narrower dtype rounds the merged weights).")
    var dtype: String?

    @Option(name: .long, help: "Largest shard in bytes.")
    var maxShardBytes = 4_000_000_000

    func validate() throws {
        if let dtype, DType(name: dtype) == nil { throw ValidationError("--dtype must be bf16, f16 or f32") }
        if maxShardBytes < 1 { throw ValidationError("--max-shard-bytes must be positive") }
    }

    func run() async throws {
        try CommandErrors.reporting {
            var dt: DType?
            if let dtype {
                guard let d = DType(name: dtype) else { throw ValidationError("--dtype must be bf16, f16 or f32") }
                dt = d
            }
            let r = try AdapterMerger.merge(base: URL(fileURLWithPath: model), adapter: URL(fileURLWithPath: adapter),
                                            output: URL(fileURLWithPath: out), dtype: dt, maxShardBytes: maxShardBytes)
            if let dt, r.narrowedTensors > 0 {
                // Rounding the merged weights moves the outputs away from base + adapter (on the tiny test
                // model f32 -> bf16 changed logits by up to 1.3 and an argmax); say so rather than do it silently.
                Console.err("note: --dtype \(dt.rawValue) narrows \(r.narrowedTensors) tensor(s) of the base; "
                    + "the merged model's outputs will differ from base + adapter by the rounding. Omit --dtype to keep the base's precision.\n")
            }
            try Console.out(JSONOutput.object([
                ("output", JSONOutput.string(out)),
                ("shards", String(r.shards.filter { $0.pathExtension == "safetensors" }.count)),
                ("merged_modules", String(r.mergedModules)),
                ("dtype", JSONOutput.string(r.dtypes.map(\.rawValue).joined(separator: ","))),
                ("base_sha256", JSONOutput.string(r.baseSHA256)),
                ("adapter_sha256", JSONOutput.string(r.adapterSHA256)),
            ]) + "\n")
        }
    }
}
