import Tensor

/// Keys and values of every layer for one sequence, stored [kvHeads, capacity, headDim] per layer so that
/// one head's keys are a contiguous matrix for the attention products.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public private(set) var length = 0
    let kvHeads: Int
    let headDim: Int
    let keys: [Tensor]
    let values: [Tensor]

    public init(config: Gemma3TextConfig, capacity: Int) {
        self.capacity = capacity
        kvHeads = config.numKVHeads
        headDim = config.headDim
        keys = (0..<config.numLayers).map { _ in Tensor(zeros: [config.numKVHeads, capacity, config.headDim]) }
        values = (0..<config.numLayers).map { _ in Tensor(zeros: [config.numKVHeads, capacity, config.headDim]) }
    }

    /// Copies `rows` new key/value rows ([rows, kvHeads·headDim]) of `layer` in at the current length.
    func write(layer: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, rows: Int) {
        let kd = keys[layer].f32, vd = values[layer].f32
        let width = kvHeads * headDim
        for t in 0..<rows {
            for g in 0..<kvHeads {
                let dst = g * capacity * headDim + (length + t) * headDim
                (kd + dst).update(from: k + t * width + g * headDim, count: headDim)
                (vd + dst).update(from: v + t * width + g * headDim, count: headDim)
            }
        }
    }

    /// Marks `rows` more positions as filled (after every layer wrote them).
    func advance(by rows: Int) { length += rows }

    /// Forgets everything after `position` (used to reuse a shared prompt prefix).
    public func truncate(to position: Int) throws {
        guard position >= 0 && position <= length else {
            throw ModelError.invalidInput("cannot truncate a cache of \(length) positions to \(position)")
        }
        length = position
    }
}
