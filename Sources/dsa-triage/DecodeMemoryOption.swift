/// Bounds of `--max-decode-mb` (triage, evaluate, inspect).
enum DecodeMemoryOption {
    /// 16 TiB: far above any machine, and small enough that MiB → bytes cannot overflow.
    static let maxMegabytes = 16 << 20
}
