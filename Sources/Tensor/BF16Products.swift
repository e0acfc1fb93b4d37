import CKernels

/// How this CPU runs products of bf16 operands. oneDNN (2.6, as Debian ships it) has bf16 matmul kernels
/// only on CPUs with AVX-512; elsewhere (AVX2-only CPUs such as many AMD EPYC virtual machines) the
/// operands are widened to float32 a panel at a time and multiplied by sgemm. Both accumulate in float32
/// and bf16 × bf16 products are exact in float32, so the two differ only in the order of summation.
public enum BF16Products {
    /// True when the bf16 products run on native bf16 kernels, false when they are widened.
    public static var native: Bool { ck_bf16_native() != 0 }

    /// Test hook: sends every bf16 product through the widened path (true) or back to the CPU's choice.
    public static func forceWidened(_ on: Bool) { ck_set_bf16_force_widened(on ? 1 : 0) }
}
