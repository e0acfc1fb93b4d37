/// Errors of adapter loading and merging; each names the file or key and what was expected.
public enum LoRAError: Error, CustomStringConvertible {
    case missingFile(String)
    case invalidConfig(file: String, reason: String)
    case unsupported(file: String, feature: String)
    case unknownModule(file: String, key: String)
    case missingTensor(file: String, module: String, missing: String)
    case shapeMismatch(file: String, key: String, expected: [Int], found: [Int])
    case configContradiction(file: String, key: String, reason: String)
    case output(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "missing file: \(p)"
        case .invalidConfig(let f, let r): return "\(f): invalid adapter configuration: \(r)"
        case .unsupported(let f, let feature): return "\(f): \(feature) is not supported"
        case .unknownModule(let f, let k): return "\(f): tensor '\(k)' matches no linear layer of the base model"
        case .missingTensor(let f, let m, let which): return "\(f): module '\(m)' has no \(which) tensor"
        case .shapeMismatch(let f, let k, let e, let found):
            return "\(f): tensor '\(k)' has shape \(found), the base model needs \(e) (adapter made for another base?)"
        case .configContradiction(let f, let k, let r): return "\(f): tensor '\(k)' contradicts adapter_config.json: \(r)"
        case .output(let p, let r): return "\(p): \(r)"
        }
    }
}
