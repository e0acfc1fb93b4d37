import Tensor

/// Where a model's named tensors come from (a safetensors checkpoint, a GGUF file, a merged view...).
/// Names are Hugging Face checkpoint names.
public protocol WeightSource: AnyObject {
    /// Human-readable origin used in error messages (a path).
    var sourceName: String { get }
    var tensorNames: [String] { get }
    func contains(_ name: String) -> Bool
    func tensor(_ name: String) throws -> Tensor
}

extension WeightSource {
    /// Fetches `name` and checks its shape; dtype must be one the engine computes with.
    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard contains(name) else { throw ModelError.missingTensor(name: name, source: sourceName) }
        let t = try tensor(name)
        guard t.shape == shape else {
            throw ModelError.badTensor(name: name, source: sourceName, expected: "shape \(shape)", found: "shape \(t.shape)")
        }
        return t
    }

    /// A matrix weight as the compute mode wants it stored: bf16 arithmetic converts other dtypes to bf16
    /// once at load (half the memory of f32); float32 arithmetic keeps the stored dtype (mmapped).
    func weight(_ name: String, shape: [Int], for mode: ComputeMode) throws -> Tensor {
        let t = try tensor(name, shape: shape)
        return mode == .bf16 && t.dtype != .bf16 ? t.converted(to: .bf16) : t
    }

    /// A small vector (norm weights) widened to float32.
    func vector(_ name: String, count: Int) throws -> [Float] {
        try tensor(name, shape: [count]).floats()
    }
}
