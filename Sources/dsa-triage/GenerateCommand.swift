import ArgumentParser
import Foundation
import LoRA
import MedGemma
import ModelFiles
import Tensor

struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Greedy text generation with a Gemma 3 / MedGemma model; prints one JSON object.",
        discussion: ExitStatusHelp.plain)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "Prompt text.")
    var prompt: String?

    @Option(name: .long, help: "Read the prompt text from a UTF-8 file instead (for prompts too long for a command line).")
    var promptFile: String?

    @Option(name: .long, help: "System text placed before the prompt in the user turn.")
    var system: String?

    @Flag(name: .long, help: "Tokenize the prompt as-is with <bos> prepended (base models); default is the chat format.")
    var raw = false

    @Option(name: .long, help: "Maximum number of new tokens.")
    var maxNewTokens = 64

    @Option(name: .long, help: "Write the float32 logits at the last prompt position as a .npy of shape [vocab].")
    var dumpLogits: String?

    @Option(name: .long, help: "Image file (PNG or JPEG) placed before the prompt in the user turn; repeat for several.")
    var image: [String] = []

    @Flag(name: .long, help: "Print timings to stderr.")
    var verbose = false

    func validate() throws {
        if (prompt == nil) == (promptFile == nil) { throw ValidationError("give exactly one of --prompt and --prompt-file") }
        if maxNewTokens < 0 { throw ValidationError("--max-new-tokens must be zero or more") }
        if system != nil && raw { throw ValidationError("--system applies to the chat format; it cannot be combined with --raw") }
        if !image.isEmpty && raw { throw ValidationError("--image needs the chat format; it cannot be combined with --raw") }
    }

    func run() async throws {
        try CommandErrors.reporting {
            let request = GenerationRequest(
                model: model.model, adapter: model.adapter, computeMode: model.arithmetic.computeMode,
                quantization: model.arithmetic.quantization, text: try promptText(), system: system, raw: raw,
                images: image.map { URL(fileURLWithPath: $0) }, maxNewTokens: maxNewTokens)
            let output = try request.run()
            let promptIDs = output.promptIDs, result = output.result
            if let path = dumpLogits {
                try NPYFile.write(URL(fileURLWithPath: path), floats: result.firstLogits, shape: [result.firstLogits.count])
            }
            let generated = output.text
            try Console.out(JSONOutput.object([
                ("prompt_token_ids", JSONOutput.ints(promptIDs)),
                ("token_ids", JSONOutput.ints(result.tokenIDs)),
                ("text", JSONOutput.string(generated)),
            ]) + "\n")
            if verbose {
                let n = max(result.tokenIDs.count - 1, 0)
                let msg = String(format: "prefill %d tokens %.3f s (%.1f tok/s); decode %d tokens %.3f s (%.1f tok/s)\n",
                                 promptIDs.count, result.prefillSeconds, Double(promptIDs.count) / max(result.prefillSeconds, 1e-9),
                                 n, result.decodeSeconds, Double(n) / max(result.decodeSeconds, 1e-9))
                Console.err(msg)
            }
        }
    }
}

extension GenerateCommand {
    func promptText() throws -> String {
        if let prompt { return prompt }
        let path = promptFile ?? ""
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read prompt file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("prompt file \(path) is not UTF-8") }
        return text
    }
}
