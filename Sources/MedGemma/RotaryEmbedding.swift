import Foundation

/// Cosine/sine tables of the "rotate half" rotary embedding for one attention kind, computed in float32
/// the way transformers does (inverse frequencies base^(-2i/d), divided by the linear factor).
struct RotaryEmbedding: Sendable {
    let half: Int
    let invFreq: [Float]

    init(headDim: Int, parameters: RopeParameters) {
        half = headDim / 2
        let base = Float(parameters.theta)
        let factor = Float(parameters.linearFactor)
        invFreq = (0..<headDim / 2).map { i in
            (1 / powf(base, Float(2 * i) / Float(headDim))) / factor
        }
    }

    /// Tables [positions.count, half] for the given absolute positions.
    func tables(positions: [Int]) -> (cos: [Float], sin: [Float]) {
        var c = [Float](repeating: 0, count: positions.count * half)
        var s = c
        for (r, p) in positions.enumerated() {
            let fp = Float(p)
            for i in 0..<half {
                let a = fp * invFreq[i]
                c[r * half + i] = cosf(a)
                s[r * half + i] = sinf(a)
            }
        }
        return (c, s)
    }
}
