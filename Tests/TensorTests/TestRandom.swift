/// A seeded linear congruential generator of floats in [-1, 1] for the product tests: the same operands on
/// every run and machine.
struct TestRandom {
    var s: UInt64
    mutating func next() -> Float {
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: s >> 11) % 2_000_001) / 1_000_000 - 1
    }
}
