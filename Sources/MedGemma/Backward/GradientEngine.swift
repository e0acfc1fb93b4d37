import Foundation
import Tensor

/// One teacher-forced training example: the full token ids (prompt with its image soft tokens, then the
/// answer), the preprocessed pixel values of each image ([3, S, S] float32, as `imageTokens` takes them),
/// and the targets: which position's logits predict which token.
public struct TrainingExample: Sendable {
    /// A position whose logits are scored and the token they should predict (usually ids[position + 1]).
    public struct Target: Sendable, Equatable {
        public var position: Int
        public var token: Int
        public init(position: Int, token: Int) { self.position = position; self.token = token }
    }

    public var ids: [Int]
    public var pixelValues: [[Float]]
    public var targets: [Target]

    public init(ids: [Int], pixelValues: [[Float]] = [], targets: [Target]) {
        self.ids = ids; self.pixelValues = pixelValues; self.targets = targets
    }

    /// The conversational example: `prompt` (chat turn up to "model\n", images expanded) followed by
    /// `answer` (the label's answer tokens and `<end_of_turn>`); the loss covers the answer tokens only.
    public init(prompt: [Int], answer: [Int], pixelValues: [[Float]] = []) {
        ids = prompt + answer
        self.pixelValues = pixelValues
        targets = answer.enumerated().map { Target(position: prompt.count - 1 + $0.offset, token: $0.element) }
    }
}

/// Loss and gradients of a Gemma 3 (vision-language) model with trainable LoRA updates and a frozen base.
///
/// The forward is the inference arithmetic (same kernels in the same order, layer by layer); the backward
/// runs llm.c style, each layer's backward next to its forward. Memory: only each layer's input is kept
/// (plus each vision layer's input per image); a layer's activations are recomputed inside its backward,
/// and attention probabilities are recomputed block by block (`Attention.backward`).
public struct GradientEngine: @unchecked Sendable {
    public let model: Gemma3TextModel
    public let vision: Gemma3VisionEncoder?

    public init(model: Gemma3TextModel, vision: Gemma3VisionEncoder? = nil) {
        self.model = model
        self.vision = vision
    }

    public init(loaded: LoadedModel) { self.init(model: loaded.model, vision: loaded.vision) }

    /// Mean cross-entropy over the example's targets (full-vocabulary log-softmax of the target rows, with
    /// final-logit soft-capping when configured), forward only, without dropout.
    public func loss(example: TrainingExample, lora: TrainableLoRA?) throws -> Float {
        var rng = SplitMix64(seed: 0)
        return try run(example, Trainables(lora: lora?.withoutDropout, full: nil), rng: &rng, lossScale: 0, backward: false)
    }

    /// The loss (as `loss(example:lora:)`) with every weight taken from `full`.
    public func loss(example: TrainingExample, full: FullParameters) throws -> Float {
        var rng = SplitMix64(seed: 0)
        return try run(example, Trainables(lora: nil, full: full), rng: &rng, lossScale: 0, backward: false)
    }

    /// Loss of `example` (as `loss`) with LoRA dropout drawn from `dropout`; ADDS lossScale · ∂loss/∂θ into
    /// the `grad` of every parameter of `lora` (the caller zeroes gradients per accumulation window) and
    /// returns the loss (unscaled). The base model stays frozen. `dropout` advances by one draw per layer
    /// (vision layers of each image, then decoder layers), whatever the dropout probability.
    public func lossAndGradients(example: TrainingExample, lora: TrainableLoRA, dropout: inout SplitMix64,
                                 lossScale: Float = 1) throws -> Float {
        try run(example, Trainables(lora: lora, full: nil), rng: &dropout, lossScale: lossScale, backward: true)
    }

    /// Full training (`--full`): the loss with every weight taken from `full`, ADDING lossScale · ∂loss/∂θ
    /// into every parameter's `grad` (embeddings, tied output layer, norms, linear weights and biases,
    /// projector, patch embedding, positions). `dropout` advances as in the LoRA variant (no dropout applies).
    public func lossAndGradients(example: TrainingExample, full: FullParameters, dropout: inout SplitMix64,
                                 lossScale: Float = 1) throws -> Float {
        try run(example, Trainables(lora: nil, full: full), rng: &dropout, lossScale: lossScale, backward: true)
    }

    func validate(_ example: TrainingExample) throws {
        guard !example.targets.isEmpty else { throw ModelError.invalidInput("training example has no target tokens") }
        for t in example.targets {
            guard t.position >= 0, t.position < example.ids.count else {
                throw ModelError.invalidInput("target position \(t.position) is outside the \(example.ids.count)-token example")
            }
            guard t.token >= 0, t.token < model.config.vocabSize else {
                throw ModelError.invalidInput("target token \(t.token) is outside the vocabulary (0..<\(model.config.vocabSize))")
            }
        }
        guard example.ids.count <= model.config.maxPositions else {
            throw ModelError.contextOverflow(promptTokens: example.ids.count, limit: model.config.maxPositions)
        }
    }

    func run(_ example: TrainingExample, _ trainables: Trainables, rng: inout SplitMix64, lossScale: Float, backward: Bool) throws -> Float {
        try validate(example)
        var w = trainables
        w.mode = model.computeMode
        // Vision: each image through the tower (keeping the layer inputs) and the projector.
        var traces: [VisionTrace] = []
        var imageTokens: [Tensor] = []
        if !example.pixelValues.isEmpty {
            guard let vision else { throw ModelError.unsupportedFeature("the model has no vision tower, so the example's images cannot be used") }
            for pixels in example.pixelValues {
                let trace = try vision.tower.trainingEncode(pixelValues: pixels, trainables: w, dropout: &rng, keepLayerInputs: backward)
                imageTokens.append(try vision.projector.trainingProject(trace.encoded, trainables: w))
                traces.append(trace)
            }
        }
        // Tokens after the last target cannot change the loss (causal; image blocks only look inside
        // themselves), so the sequence stops there unless an image block reaches further.
        var cut = (example.targets.map(\.position).max() ?? 0) + 1
        let imageID = vision?.settings.imageTokenID ?? -1
        if let lastImage = example.ids.lastIndex(of: imageID) { cut = max(cut, lastImage + 1) }
        let ids = Array(example.ids[0..<cut])
        let input = imageTokens.isEmpty && !ids.contains(imageID)
            ? try model.promptInput(ids: ids)
            : try model.promptInput(ids: ids, imageTokens: imageTokens, imageTokenID: imageID)
        let t = ids.count, d = model.config.hiddenSize, vocab = model.config.vocabSize
        let context = try DecoderPassContext(model: model, tokens: t, extraVisible: input.extraVisible)
        let embedding = w.full?["language_model.embed_tokens.weight"]
        let outputLayer = model.config.tieWordEmbeddings ? embedding : w.full?["lm_head.weight"]

        // Decoder forward, keeping each layer's input and dropout stream.
        let x = Tensor(zeros: [t, d])
        x.f32.update(from: input.embeddings.f32, count: t * d)
        if let embedding {
            // Text positions read the trained table (image positions hold the projector's tokens).
            for (r, id) in ids.enumerated() where id != imageID {
                let row = x.f32 + r * d, src = embedding.value.f32 + id * d
                for j in 0..<d { row[j] = src[j] * model.embedScale }
            }
        }
        var inputs: [Tensor] = [], streams: [SplitMix64] = []
        for li in 0..<model.layers.count {
            if backward {
                let saved = Tensor(zeros: [t, d])
                saved.f32.update(from: x.f32, count: t * d)
                inputs.append(saved)
            }
            var layerRNG = SplitMix64(seed: rng.next())
            streams.append(layerRNG)
            try model.trainingLayerForward(li, x: x, context: context, trainables: w, rng: &layerRNG)
        }

        // Loss head on the target rows: final norm, full-vocabulary logits, log-softmax.
        let n = example.targets.count
        let rows = Tensor(zeros: [n, d])
        for (i, target) in example.targets.enumerated() {
            (rows.f32 + i * d).update(from: x.f32 + target.position * d, count: d)
        }
        let finalNorm = w.vector("language_model.norm.weight", model.finalNorm)
        let normed = Tensor(zeros: [n, d])
        Ops.rmsNorm(rows.f32, rows: n, dim: d, weight: finalNorm, eps: model.config.rmsNormEps, into: normed.f32)
        let logits: Tensor
        if let outputLayer {
            logits = Tensor(zeros: [n, vocab])
            try MatMul.linear(normed.f32, rows: n, weight: outputLayer.value, out: logits.f32, mode: model.computeMode)
            if let cap = model.config.outputLogitSoftcap { Ops.softcap(logits.f32, count: logits.count, cap: cap) }
        } else {
            logits = try model.logits(normed)
        }
        var total = 0.0
        let dLogits = Tensor(zeros: [n, vocab])
        for (i, target) in example.targets.enumerated() {
            let row = logits.f32 + i * vocab
            var m = -Float.infinity
            for j in 0..<vocab { m = max(m, row[j]) }
            var s = 0.0
            for j in 0..<vocab { s += Double(expf(row[j] - m)) }
            let lse = Double(m) + log(s)
            total += lse - Double(row[target.token])
            if backward {
                // ∂/∂logit_j of the mean loss = (softmax_j − [j = target]) / n, times lossScale.
                let g = dLogits.f32 + i * vocab
                let c = Double(lossScale) / Double(n)
                for j in 0..<vocab { g[j] = Float(exp(Double(row[j]) - lse) * c) }
                g[target.token] -= Float(c)
            }
        }
        let loss = Float(total / Double(n))
        guard backward else { return loss }

        // Backward: loss head.
        if let cap = model.config.outputLogitSoftcap {
            Ops.softcapBackward(capped: logits.f32, dy: dLogits.f32, count: n * vocab, cap: cap)
        }
        let dNormed = Tensor(zeros: [n, d])
        if let outputLayer {
            try MatMul.gemm(m: n, n: d, k: vocab, a: dLogits.f32, lda: vocab, b: outputLayer.value.f32, ldb: d, transB: false, beta: 1,
                            c: dNormed.f32, ldc: d, operation: "output layer input gradient")
            // dW_out += dLogitsᵀ · normed
            try MatMul.gemm(transA: true, m: vocab, n: d, k: n, a: dLogits.f32, lda: vocab, b: normed.f32, ldb: d, transB: false, beta: 1,
                            c: outputLayer.grad.f32, ldc: d, operation: "output layer gradient")
        } else {
            try FrozenWeight.accumulateInputGradient(dLogits.f32, rows: n, weight: model.lmHead, into: dNormed.f32, mode: model.computeMode)
        }
        Ops.rmsNormBackward(rows.f32, dy: dNormed.f32, rows: n, dim: d, weight: finalNorm, eps: model.config.rmsNormEps, dx: dNormed.f32,
                            dWeight: w.grad("language_model.norm.weight"))
        let dx = Tensor(zeros: [t, d])
        for (i, target) in example.targets.enumerated() {
            let dst = dx.f32 + target.position * d, src = dNormed.f32 + i * d
            for j in 0..<d { dst[j] += src[j] }
        }
        // Decoder layers, last to first.
        for li in stride(from: model.layers.count - 1, through: 0, by: -1) {
            var layerRNG = streams[li]
            try model.trainingLayerBackward(li, input: inputs[li], dx: dx, context: context, trainables: w, rng: &layerRNG)
        }
        // Token embeddings of the text positions.
        if let embedding {
            for (r, id) in ids.enumerated() where id != imageID {
                let g = embedding.grad.f32 + id * d, src = dx.f32 + r * d
                for j in 0..<d { g[j] += src[j] * model.embedScale }
            }
        }
        // Image positions: ∂L/∂(soft tokens) → projector → vision tower.
        guard let vision, !traces.isEmpty else { return loss }
        var image = 0, i = 0
        while i < t {
            guard ids[i] == imageID else { i += 1; continue }
            var j = i
            while j < t && ids[j] == imageID { j += 1 }
            let dPatches = try vision.projector.backward(traces[image].encoded, dOut: dx.f32 + i * d, trainables: w)
            try vision.tower.trainingBackward(traces[image], dEncoded: dPatches, trainables: w)
            image += 1
            i = j
        }
        return loss
    }
}

extension TrainableLoRA {
    /// A view sharing these parameters with dropout 0.
    var withoutDropout: TrainableLoRA {
        dropout == 0 ? self : TrainableLoRA(sharing: self)
    }
}
