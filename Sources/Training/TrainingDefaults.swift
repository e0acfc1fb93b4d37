/// The fine-tuning recipe of the MedGemma DSA model card: QLoRA (NF4 base with double-quantised absmax,
/// bf16 compute), LoRA r 8, alpha 16, dropout 0.1 on every linear layer, learning rate 2e-5, batch 1 with
/// gradient accumulation 8, 2 epochs. `dsa-triage train` starts from these; every value can be overridden.
public enum TrainingDefaults {
    public static let rank = 8
    public static let alpha = 16.0
    public static let dropout = 0.1
    /// PEFT's shorthand for every linear layer except the output layer.
    public static let targetModules = "all-linear"
    public static let learningRate = 2e-5
    public static let batchSize = 1
    public static let gradientAccumulation = 8
    public static let epochs = 2
    public static let quantization = "nf4"
}
