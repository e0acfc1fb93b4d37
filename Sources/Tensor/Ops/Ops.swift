/// The element-wise and row-wise operations of the models' forward and backward passes, forward and
/// backward side by side (one file per family). Together with `MatMul`, `Attention` and `Parallel` they
/// are everything the model code asks of the compute layer; a second backend provides the same set.
///
/// Conventions: buffers are row-major float32; outputs may alias inputs where a function says so;
/// weight and bias gradients are accumulated (+=) and may be nil when that weight is frozen; input
/// gradients are overwritten.
public enum Ops {}
