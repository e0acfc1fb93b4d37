import Support

/// Seeds of the synthetic generator: SplitMix64 expands one 64-bit seed into well-mixed words (seeds the
/// main generator, derives sub-seeds).
enum SynthSeedMixer {
    /// A sub-seed for stream `stream` of `seed`: independent streams keep, e.g., the vessel tree of a
    /// blocked case identical to its patent twin while the occlusion draws come from elsewhere.
    static func derive(_ seed: UInt64, stream: UInt64) -> UInt64 {
        var s = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        _ = s.next()
        return s.next()
    }
}

/// xoshiro256** (Blackman and Vigna): the generator's random source, identical on every platform.
public struct SynthRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spareNormal: Double?

    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always) public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [a, b).
    @inline(__always) public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * uniform() }

    /// Uniform integer in a closed range.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// True with probability p.
    public mutating func chance(_ p: Double) -> Bool { uniform() < p }

    /// Standard normal (Box–Muller, pairs cached).
    public mutating func normal() -> Double {
        if let s = spareNormal { spareNormal = nil; return s }
        var u = uniform()
        while u <= 0x1p-60 { u = uniform() }
        let v = uniform()
        let r = (-2 * _log(u)).squareRoot()
        let a = 2 * Double.pi * v
        spareNormal = r * _sin(a)
        return r * _cos(a)
    }

    /// A 128-bit random number as decimal digits, for "2.25." UIDs.
    public mutating func uidSuffix() -> String {
        var hi = next() >> 1, lo = next()   // below 2^127: fits 39 digits and a 64-character UID easily
        var digits: [UInt8] = []
        while hi != 0 || lo != 0 {
            // Divide the 128-bit (hi, lo) by 10.
            let qh = hi / 10, rh = hi % 10
            let (qlHigh, rem) = (10 as UInt64).dividingFullWidth((rh, lo))
            hi = qh; lo = qlHigh
            digits.append(UInt8(rem) + 48)
        }
        if digits.isEmpty { digits = [48] }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}

import Foundation

@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _sin(_ x: Double) -> Double { Foundation.sin(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }
