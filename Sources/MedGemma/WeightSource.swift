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

    /// A small vector (norm weights) widened to float32.
    func vector(_ name: String, count: Int) throws -> [Float] {
        try tensor(name, shape: [count]).floats()
    }
}
