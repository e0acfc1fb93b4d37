/// Element types the engine stores; compute always accumulates in float32.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case f32, f16, bf16

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        }
    }

    public var description: String { rawValue }

    /// Parses the spellings used by safetensors ("F32", "BF16"), config.json ("bfloat16") and the command line ("bf16").
    public init?(name: String) {
        switch name.lowercased() {
        case "f32", "float32", "float": self = .f32
        case "f16", "float16", "half": self = .f16
        case "bf16", "bfloat16": self = .bf16
        default: return nil
        }
    }
}
