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

    @Option(name: .long, help: "Weight dtype of the output: bf16, f16 or f32.")
    var dtype = "bf16"

    @Option(name: .long, help: "Largest shard in bytes.")
    var maxShardBytes = 4_000_000_000

    func validate() throws {
        if DType(name: dtype) == nil { throw ValidationError("--dtype must be bf16, f16 or f32") }
        if maxShardBytes < 1 { throw ValidationError("--max-shard-bytes must be positive") }
    }

    func run() async throws {
        try CommandErrors.reporting {
            guard let dt = DType(name: dtype) else { throw ValidationError("--dtype must be bf16, f16 or f32") }
            let r = try AdapterMerger.merge(base: URL(fileURLWithPath: model), adapter: URL(fileURLWithPath: adapter),
                                            output: URL(fileURLWithPath: out), dtype: dt, maxShardBytes: maxShardBytes)
            try Console.out(JSONOutput.object([
                ("output", JSONOutput.string(out)),
                ("shards", String(r.shards.filter { $0.pathExtension == "safetensors" }.count)),
                ("merged_modules", String(r.mergedModules)),
                ("dtype", JSONOutput.string(dt.rawValue)),
                ("base_sha256", JSONOutput.string(r.baseSHA256)),
                ("adapter_sha256", JSONOutput.string(r.adapterSHA256)),
            ]) + "\n")
        }
    }
}
