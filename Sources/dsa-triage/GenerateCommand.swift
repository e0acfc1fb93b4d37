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
            let text = try promptText()
            let loaded = try ModelLoader.load(path: model.model, computeMode: model.arithmetic.computeMode,
                                             quantization: model.arithmetic.quantization)
            var adapterName: String?
            if let adapter = model.adapter {
                try loaded.attachAdapter(directory: URL(fileURLWithPath: adapter), name: "adapter")
                adapterName = "adapter"
            }
            let prompt: PromptInput
            if raw {
                prompt = try loaded.model.promptInput(ids: loaded.tokenizer.encode(text, addBOS: true))
            } else if image.isEmpty {
                prompt = try loaded.model.promptInput(ids: try loaded.chatPromptIDs(text: text, system: system))
            } else {
                let pixels = try image.map { try loaded.pixelValues(imageFile: URL(fileURLWithPath: $0)) }
                prompt = try loaded.imagePrompt(text: text, system: system, images: pixels, adapter: adapterName)
            }
            let promptIDs = prompt.ids
            let result = try loaded.model.generateGreedy(prompt: prompt, maxNewTokens: maxNewTokens,
                                                        stopIDs: raw ? loaded.stopIDs : loaded.chatStopIDs, adapter: adapterName)
            if let path = dumpLogits {
                try NPYFile.write(URL(fileURLWithPath: path), floats: result.firstLogits, shape: [result.firstLogits.count])
            }
            let generated = loaded.tokenizer.decode(result.tokenIDs, skipSpecialTokens: true)
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
