/// A trainable float32 tensor with its gradient (same shape), named canonically (LoRA:
/// "<canonical module>.lora_A.weight"; full training: "language_model.layers.N.…weight"; writers map the
/// names to a checkpoint layout). Backward passes add into `grad`; optimisers read `grad` and update `value`
/// in place.
public final class Parameter: @unchecked Sendable {
    public let name: String
    public let value: Tensor
    public let grad: Tensor

    /// Wraps `value` (converted to an owned float32 copy when it is not float32) with a zero gradient.
    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value.dtype == .f32 ? value : value.toFloat32()
        self.grad = Tensor(zeros: value.shape)
    }

    public var shape: [Int] { value.shape }
    public var count: Int { value.count }

    /// Sets the gradient to zero (start of an accumulation window).
    public func zeroGrad() {
        grad.f32.update(repeating: 0, count: grad.count)
    }
}
