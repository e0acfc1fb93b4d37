import Foundation
import Tensor

/// Trainable PEFT LoRA weights for chosen linear layers of a model: one `Parameter` per matrix, named
/// "<canonical module>.lora_A.weight" [r, in] and "<canonical module>.lora_B.weight" [out, r], with
/// update scale alpha / r (rsLoRA off) and LoRA dropout p on the branch input (as peft's nn.Dropout).
public final class TrainableLoRA: @unchecked Sendable {
    /// One adapted linear layer.
    public struct Module: @unchecked Sendable {
        /// Canonical module path (e.g. "language_model.layers.3.mlp.up_proj").
        public let name: String
        /// [rank, in]
        public let a: Parameter
        /// [out, rank]
        public let b: Parameter
        /// The frozen layer the update belongs to.
        public let layer: LinearLayer
    }

    public let rank: Int
    public let alpha: Float
    /// LoRA dropout probability on the branch input (0 = none).
    public let dropout: Float
    /// Adapted modules, sorted by name.
    public let modules: [Module]
    private let byName: [String: Int]

    /// alpha / rank.
    public var scale: Float { alpha / Float(rank) }
    /// Every trainable tensor: lora_A then lora_B of each module, in module order.
    public var parameters: [Parameter] { modules.flatMap { [$0.a, $0.b] } }
    /// The adapted module of a canonical name.
    public subscript(module: String) -> Module? { byName[module].map { modules[$0] } }

    /// The layers `targets` selects from `layers` (canonical name → layer). nil selects every linear layer
    /// given (PEFT "all-linear": the decoder and vision tower; the output layer and the projector are not
    /// `LinearLayer`s). An entry matches a module by its full canonical name or by its last component
    /// ("q_proj", "fc1"); an entry that matches nothing is an error.
    public static func select(_ targets: [String]?, from layers: [String: LinearLayer]) throws -> [LinearLayer] {
        guard let targets else { return layers.keys.sorted().compactMap { layers[$0] } }
        var chosen: Set<String> = []
        for t in targets {
            let hits = layers.keys.filter { $0 == t || $0.split(separator: ".").last.map(String.init) == t }
            guard !hits.isEmpty else {
                throw ModelError.invalidInput("LoRA target module '\(t)' matches no linear layer of the model")
            }
            chosen.formUnion(hits)
        }
        return chosen.sorted().compactMap { layers[$0] }
    }

    /// Fresh adapters with PEFT's initialisation: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform, a = sqrt 5),
    /// B = 0; the draws come from `rng`, module by module in name order, A row-major.
    public init(layers: [LinearLayer], rank: Int, alpha: Float, dropout: Float, rng: inout SplitMix64) throws {
        try Self.checkHyperParameters(rank: rank, alpha: alpha, dropout: dropout)
        self.rank = rank; self.alpha = alpha; self.dropout = dropout
        var mods: [Module] = []
        for layer in layers.sorted(by: { $0.module < $1.module }) {
            let a = Parameter(name: layer.module + ".lora_A.weight", value: Tensor(zeros: [rank, layer.inFeatures]))
            let bound = 1 / Float(layer.inFeatures).squareRoot()
            for i in 0..<a.count { a.value.f32[i] = (2 * rng.nextFloat() - 1) * bound }
            let b = Parameter(name: layer.module + ".lora_B.weight", value: Tensor(zeros: [layer.outFeatures, rank]))
            mods.append(Module(name: layer.module, a: a, b: b, layer: layer))
        }
        modules = mods
        byName = Dictionary(uniqueKeysWithValues: mods.enumerated().map { ($1.name, $0) })
    }

    /// Adapters holding given values (a saved adapter, a checkpoint, a fixture): `values` maps
    /// "<module>.lora_A.weight" / "<module>.lora_B.weight" to tensors of the layer's shapes; every selected
    /// layer needs both. Values are copied into owned float32 storage.
    public init(layers: [LinearLayer], rank: Int, alpha: Float, dropout: Float, values: [String: Tensor]) throws {
        try Self.checkHyperParameters(rank: rank, alpha: alpha, dropout: dropout)
        self.rank = rank; self.alpha = alpha; self.dropout = dropout
        var mods: [Module] = []
        for layer in layers.sorted(by: { $0.module < $1.module }) {
            let an = layer.module + ".lora_A.weight", bn = layer.module + ".lora_B.weight"
            guard let av = values[an], let bv = values[bn] else {
                throw ModelError.invalidInput("LoRA values lack \(values[an] == nil ? an : bn)")
            }
            guard av.shape == [rank, layer.inFeatures], bv.shape == [layer.outFeatures, rank] else {
                throw ModelError.invalidInput("LoRA values for \(layer.module) have shapes \(av.shape) / \(bv.shape), expected [\(rank), \(layer.inFeatures)] / [\(layer.outFeatures), \(rank)]")
            }
            let a = Parameter(name: an, value: Tensor(zeros: av.shape)), b = Parameter(name: bn, value: Tensor(zeros: bv.shape))
            Convert.toFloat(from: av.raw, dtype: av.dtype, into: a.value.f32, count: av.count)
            Convert.toFloat(from: bv.raw, dtype: bv.dtype, into: b.value.f32, count: bv.count)
            mods.append(Module(name: layer.module, a: a, b: b, layer: layer))
        }
        modules = mods
        byName = Dictionary(uniqueKeysWithValues: mods.enumerated().map { ($1.name, $0) })
    }

    /// Fresh adapters on the linear layers of a loaded model that `targets` selects (nil: all-linear).
    public convenience init(loaded: LoadedModel, targets: [String]? = nil, rank: Int, alpha: Float, dropout: Float,
                            rng: inout SplitMix64) throws {
        try self.init(layers: try Self.select(targets, from: loaded.linearLayers), rank: rank, alpha: alpha, dropout: dropout, rng: &rng)
    }

    /// The same modules and parameters (shared storage) with dropout 0: the evaluation forward.
    init(sharing other: TrainableLoRA) {
        rank = other.rank; alpha = other.alpha; dropout = 0
        modules = other.modules
        byName = other.byName
    }

    static func checkHyperParameters(rank: Int, alpha: Float, dropout: Float) throws {
        guard rank > 0 else { throw ModelError.invalidInput("LoRA rank must be positive (got \(rank))") }
        guard alpha.isFinite, alpha > 0 else { throw ModelError.invalidInput("LoRA alpha must be a positive number (got \(alpha))") }
        guard dropout >= 0, dropout < 1 else { throw ModelError.invalidInput("LoRA dropout must lie in [0, 1) (got \(dropout))") }
    }

    /// Attaches every module to its layer under `adapter` as a `LoRADelta` that shares the parameters'
    /// storage: inference with `adapter:` then sees the current values after every optimiser step.
    public func attach(as adapter: String) {
        for m in modules { m.layer.attach(adapter, LoRADelta(a: m.a.value, b: m.b.value, scale: scale)) }
    }

    /// Removes the modules attached under `adapter`.
    public func detach(_ adapter: String) {
        for m in modules { m.layer.detach(adapter) }
    }

    /// Zeroes every gradient (start of an accumulation window).
    public func zeroGrad() {
        for m in modules { m.a.zeroGrad(); m.b.zeroGrad() }
    }
}
