/// Errors raised while loading or running a model; each names the file or tensor and what was expected.
public enum ModelError: Error, CustomStringConvertible {
    case missingFile(String)
    /// The model path itself (a directory or a .gguf file) does not exist.
    case missingModel(String)
    case invalidConfig(file: String, reason: String)
    case unsupportedArchitecture(file: String, found: String)
    case unsupportedFeature(String)
    case missingTensor(name: String, source: String)
    case badTensor(name: String, source: String, expected: String, found: String)
    case contextOverflow(promptTokens: Int, limit: Int)
    case invalidInput(String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "missing file: \(p)"
        case .missingModel(let p): return "\(p): model not found (no such folder or file; a model is a directory with config.json and safetensors, or a .gguf file)"
        case .invalidConfig(let f, let r): return "\(f): invalid model configuration: \(r)"
        case .unsupportedArchitecture(let f, let a):
            return "\(f): unsupported architecture '\(a)' (expected gemma3 or gemma3_text)"
        case .unsupportedFeature(let s): return "unsupported: \(s)"
        case .missingTensor(let n, let s): return "\(s): tensor '\(n)' is missing"
        case .badTensor(let n, let s, let e, let f): return "\(s): tensor '\(n)' expected \(e), found \(f)"
        case .contextOverflow(let p, let l):
            return "prompt of \(p) tokens exceeds the model's context limit of \(l) tokens"
        case .invalidInput(let s): return s
        }
    }
}
