/// SplitMix64 (Steele, Lea, Flood): a small seeded generator, the same sequence on every machine. Its whole
/// state is one public word, so a training run can save it in a checkpoint and resume the same draws.
public struct SplitMix64: Sendable, Equatable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Uniform in [0, 1) as float32 (24 random bits).
    public mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
    /// Uniform integer in 0..<bound (bound > 0), by rejection so every value is equally likely.
    public mutating func next(below bound: Int) -> Int {
        // Programmer error only: callers draw below collection sizes they have checked to be non-empty.
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true {
            let v = next()
            if v < limit { return Int(v % b) }
        }
    }
    /// next() mod n (0 for n ≤ 1): cheap, slightly biased for large n; for test data and fuzzing.
    public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}
