import Foundation

/// Size and timing of the synthetic runs.
public struct SynthConfiguration: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var frames: Int
    /// Bits Stored of the native and subtracted runs (unsigned, 16 bits allocated).
    public let bitsStored = 12
    /// Branch generations an occlusion may cut (0 = the trunk): 1…2 by default, the hard, clinically
    /// typical case; 0…1 gives proximal occlusions that remove most of the tree.
    public var occlusionGenerations: ClosedRange<Int>
    /// Chance that a blocked case shows faint delayed collaterals towards the missing territory.
    public var collateralProbability: Double

    public init(rows: Int = 512, columns: Int = 512, frames: Int = 12, occlusionGenerations: ClosedRange<Int> = 1...2,
                collateralProbability: Double = 0.5) {
        self.rows = rows
        self.columns = columns
        self.frames = frames
        self.occlusionGenerations = occlusionGenerations
        self.collateralProbability = collateralProbability
    }

    /// Checks the sizes; the error says which value is wrong.
    public func validate() throws {
        guard (16...4096).contains(rows), (16...4096).contains(columns) else {
            throw SynthError.invalidArgument("image size \(rows)×\(columns) outside 16…4096")
        }
        guard (2...500).contains(frames) else { throw SynthError.invalidArgument("frame count \(frames) outside 2…500") }
        guard occlusionGenerations.lowerBound >= 0, occlusionGenerations.upperBound <= 6 else {
            throw SynthError.invalidArgument("occlusion generations \(occlusionGenerations) outside 0…6")
        }
        guard collateralProbability >= 0, collateralProbability <= 1 else {
            throw SynthError.invalidArgument("collateral probability \(collateralProbability) outside 0…1")
        }
    }

    /// Frame Time in milliseconds: the run spans about 4.5 s, so wash-in and wash-out both show.
    public var frameTimeMs: Double { min(max((4500.0 / Double(frames)).rounded(), 20), 1000) }
}

/// Why synthesis failed.
public enum SynthError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidArgument(String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidArgument(r): return "synth: \(r)"
        case let .writeFailed(p, r): return "\(p): synth: \(r)"
        }
    }
}

/// Acquisition settings drawn per case, written into the XA attributes.
public struct SynthAcquisition: Sendable, Equatable {
    public var kvp: Double
    public var tubeCurrentMA: Int
    public var pulseWidthMs: Double
    public var primaryAngle: Double
    public var secondaryAngle: Double
    public var sourceToDetectorMm: Double
    public var sourceToPatientMm: Double
    public var imagerPixelSpacingMm: Double
    /// Mean detected quanta per pixel with nothing in the beam (sets the noise level).
    public var quantaPerPixel: Double
}

/// One synthetic run: native frames (LIN), the log-subtracted frames and their minimum-intensity projection.
public struct SynthRun: Sendable {
    public let configuration: SynthConfiguration
    public let seed: UInt64
    public let tree: SynthVesselTree
    public let acquisition: SynthAcquisition
    /// Stored values of each native frame, row-major (12 bits, LIN: contrast darkens).
    public let native: [[UInt16]]
    /// Stored values of each subtracted frame: 2048 + 3000 · (ln frame − ln mask), clamped to 12 bits.
    public let subtracted: [[UInt16]]
    /// The 8-bit image for the model: minimum over the contrast frames of the log subtraction,
    /// 235 + 500 · sub, dark vessels on a light background.
    public let minimumIntensityProjection: [UInt8]
    /// Patient motion of each frame relative to the mask frame, pixels.
    public let motion: [SynthPoint]
    /// Mask frame numbers (1-based) used for the subtraction.
    public let maskFrames: [Int]

    public var occlusion: SynthOcclusion? { tree.occlusion }
    public var isBlocked: Bool { tree.occlusion != nil }
}

/// Renders synthetic DSA runs, deterministically per seed.
///
/// Physics, simplified: detected intensity I = Q · vignetting · exp(−(background + iodine)), where the iodine
/// line integral is the chord length through each vessel times the local concentration, which follows a
/// gamma-variate curve delayed by the bolus arrival time along the tree. Quantum noise is Gaussian with
/// variance equal to the count; patient motion translates the whole object between frames.
public enum SynthAngiogram {
    /// Stream numbers of the independent random sources derived from a case seed.
    enum Stream: UInt64 { case tree = 1, occlusion = 2, background = 3, noise = 4, acquisition = 5, motion = 6 }

    /// Renders the case of `seed`; `blocked` occludes the tree that the patent twin of the same seed shows.
    public static func generate(seed: UInt64, blocked: Bool, configuration: SynthConfiguration) throws -> SynthRun {
        try configuration.validate()
        let rows = configuration.rows, columns = configuration.columns, n = rows * columns
        let scale = Double(min(rows, columns)) / 512
        let tree = SynthVesselTree.make(rows: rows, columns: columns,
                                        treeSeed: SynthSeedMixer.derive(seed, stream: Stream.tree.rawValue),
                                        occlusionSeed: blocked ? SynthSeedMixer.derive(seed, stream: Stream.occlusion.rawValue) : nil,
                                        occlusionGenerations: configuration.occlusionGenerations,
                                        collateralProbability: configuration.collateralProbability)
        var arng = SynthRandom(seed: SynthSeedMixer.derive(seed, stream: Stream.acquisition.rawValue))
        let acquisition = SynthAcquisition(
            kvp: (arng.uniform(70, 95)).rounded(), tubeCurrentMA: arng.int(150...800),
            pulseWidthMs: (arng.uniform(4, 12) * 10).rounded() / 10,
            primaryAngle: (arng.uniform(-40, 40) * 10).rounded() / 10, secondaryAngle: (arng.uniform(-25, 25) * 10).rounded() / 10,
            sourceToDetectorMm: arng.uniform(950, 1200).rounded(), sourceToPatientMm: arng.uniform(650, 800).rounded(),
            imagerPixelSpacingMm: (0.308 / scale * 1000).rounded() / 1000, quantaPerPixel: arng.uniform(4000, 9000))

        let background = Background.attenuation(rows: rows, columns: columns,
                                                seed: SynthSeedMixer.derive(seed, stream: Stream.background.rawValue))
        let vignetting = Background.vignetting(rows: rows, columns: columns)
        let footprints = tree.rendered.map { VesselFootprint(vessel: $0, rows: rows, columns: columns) }
        let motion = Self.motion(frames: configuration.frames, scale: scale,
                                 seed: SynthSeedMixer.derive(seed, stream: Stream.motion.rawValue))
        let mu = Float(0.03 / scale)            // iodine attenuation per pixel of chord at full concentration
        let q = Float(acquisition.quantaPerPixel)
        let gain = Float(3600) / q
        var noise = SynthRandom(seed: SynthSeedMixer.derive(seed, stream: Stream.noise.rawValue))
        var native: [[UInt16]] = []
        var total = [Float](repeating: 0, count: n)
        let frameTime = configuration.frameTimeMs / 1000
        for k in 0..<configuration.frames {
            let t = Float(Double(k) * frameTime)
            total.withUnsafeMutableBufferPointer { tot in
                background.withUnsafeBufferPointer { bg in
                    for i in 0..<n { tot[i] = bg[i] }
                }
                for fp in footprints { fp.addIodine(at: t, mu: mu, into: tot) }
            }
            var stored = [UInt16](repeating: 0, count: n)
            let shift = motion[k]
            stored.withUnsafeMutableBufferPointer { out in
                total.withUnsafeBufferPointer { tot in
                    vignetting.withUnsafeBufferPointer { vig in
                        render(tot, vig, out, rows: rows, columns: columns, dx: Float(shift.x), dy: Float(shift.y),
                               q: q, gain: gain, rng: &noise)
                    }
                }
            }
            native.append(stored)
        }
        // Log subtraction against mask frame 1, through a table of ln(max(v, 1)).
        let logTable = (0..<4096).map { Float(Foundation.log(Double(max($0, 1)))) }
        var subtracted: [[UInt16]] = []
        var minimum = [Float](repeating: 0, count: n)
        let mask = native[0]
        for k in 0..<configuration.frames {
            var sub = [UInt16](repeating: 2048, count: n)
            if k > 0 {
                sub.withUnsafeMutableBufferPointer { out in
                    native[k].withUnsafeBufferPointer { c in
                        mask.withUnsafeBufferPointer { m in
                            minimum.withUnsafeMutableBufferPointer { mn in
                                logTable.withUnsafeBufferPointer { lt in
                                    for i in 0..<n {
                                        let d = lt[Int(c[i] & 4095)] - lt[Int(m[i] & 4095)]
                                        if k == 1 || d < mn[i] { mn[i] = d }
                                        out[i] = UInt16(min(max((2048 + 3000 * d).rounded(), 0), 4095))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            subtracted.append(sub)
        }
        let mip = minimum.map { UInt8(min(max((235 + 500 * $0).rounded(), 0), 255)) }
        return SynthRun(configuration: configuration, seed: seed, tree: tree, acquisition: acquisition, native: native,
                        subtracted: subtracted, minimumIntensityProjection: mip, motion: motion, maskFrames: [1])
    }

    /// Per-frame translation: none on the mask frame, then a slow random walk with breathing and sometimes a jolt.
    static func motion(frames: Int, scale: Double, seed: UInt64) -> [SynthPoint] {
        var rng = SynthRandom(seed: seed)
        var out = [SynthPoint(0, 0)]
        var p = SynthPoint(0, 0)
        let breath = rng.uniform(0.2, 0.9) * scale
        let period = rng.uniform(3, 6)
        let phase = rng.uniform(0, 2 * .pi)
        let joltFrame = rng.chance(0.25) ? rng.int(1...max(frames - 1, 1)) : -1
        let jolt = SynthPoint(rng.uniform(-2.5, 2.5), rng.uniform(-2.5, 2.5)) * scale
        for k in 1..<max(frames, 1) {
            p = p + SynthPoint(rng.normal(), rng.normal()) * (0.15 * scale)
            if k == joltFrame { p = p + jolt }
            let b = breath * (sin(2 * .pi * Double(k) / period + phase) - sin(phase))
            out.append(SynthPoint(p.x, p.y + b))
        }
        return out
    }

    /// Shifts the attenuation by (dx, dy) (bilinear, edges clamped), converts to detected quanta, adds
    /// quantum noise and quantises to 12 bits.
    static func render(_ att: UnsafeBufferPointer<Float>, _ vig: UnsafeBufferPointer<Float>, _ out: UnsafeMutableBufferPointer<UInt16>,
                       rows: Int, columns: Int, dx: Float, dy: Float, q: Float, gain: Float, rng: inout SynthRandom) {
        let fx = dx.rounded(.down), fy = dy.rounded(.down)
        let ax = dx - fx, ay = dy - fy
        let ix = Int(fx), iy = Int(fy)
        let w00 = (1 - ax) * (1 - ay), w01 = ax * (1 - ay), w10 = (1 - ax) * ay, w11 = ax * ay
        for y in 0..<rows {
            // Source rows for output row y: y − dy lies between y − iy − 1 and y − iy.
            let y0 = min(max(y - iy - 1, 0), rows - 1), y1 = min(max(y - iy, 0), rows - 1)
            for x in 0..<columns {
                let x0 = min(max(x - ix - 1, 0), columns - 1), x1 = min(max(x - ix, 0), columns - 1)
                // Weights: the sample at (x − dx) is (1 − ax) of the way from x − ix − 1 to x − ix.
                let a = w11 * att[y0 * columns + x0] + w10 * att[y0 * columns + x1]
                      + w01 * att[y1 * columns + x0] + w00 * att[y1 * columns + x1]
                let i = y * columns + x
                let mean = q * vig[i] * Foundation.exp(-a)
                // Sum of four 16-bit uniforms: mean 2, variance 1/3; scaled to a unit normal.
                let word = rng.next()
                let s = Float(word & 0xFFFF) + Float(word >> 16 & 0xFFFF) + Float(word >> 32 & 0xFFFF) + Float(word >> 48)
                let z = (s / 65536 - 2) * 1.7320508
                let counts = mean + mean.squareRoot() * z
                out[i] = UInt16(min(max((gain * counts).rounded(), 0), 4095))
            }
        }
    }
}

/// The pixels one vessel covers: chord length through it and bolus arrival time at each pixel.
struct VesselFootprint: Sendable {
    var indices: [Int32] = []
    var chords: [Float] = []
    var arrivals: [Float] = []
    let peakTime: Float
    let scale: Float
    /// Gamma-variate shape.
    static let alpha: Float = 3

    init(vessel v: SynthVessel, rows: Int, columns: Int) {
        peakTime = Float(v.peakTime)
        scale = Float(v.contrastScale)
        guard v.points.count >= 2 else { return }
        let pad = (v.radii.max() ?? 1) + 2
        let minX = max(Int((v.points.map(\.x).min() ?? 0) - pad), 0)
        let maxX = min(Int((v.points.map(\.x).max() ?? 0) + pad), columns - 1)
        let minY = max(Int((v.points.map(\.y).min() ?? 0) - pad), 0)
        let maxY = min(Int((v.points.map(\.y).max() ?? 0) + pad), rows - 1)
        guard minX <= maxX, minY <= maxY else { return }
        let bw = maxX - minX + 1, bh = maxY - minY + 1
        let join = v.points[0], joinR2 = v.joinRadius * v.joinRadius
        var chord = [Float](repeating: 0, count: bw * bh)
        var arrival = [Float](repeating: 0, count: bw * bh)
        for s in 0..<(v.points.count - 1) {
            let a = v.points[s], b = v.points[s + 1]
            let ra = v.radii[s], rb = v.radii[s + 1]
            let reach = max(ra, rb, 0.7) + 1
            let x0 = max(Int(min(a.x, b.x) - reach), minX), x1 = min(Int(max(a.x, b.x) + reach), maxX)
            let y0 = max(Int(min(a.y, b.y) - reach), minY), y1 = min(Int(max(a.y, b.y) + reach), maxY)
            guard x0 <= x1, y0 <= y1 else { continue }
            let ex = b.x - a.x, ey = b.y - a.y
            let len2 = max(ex * ex + ey * ey, 1e-9)
            for y in y0...y1 {
                let py = Double(y) + 0.5
                for x in x0...x1 {
                    let px = Double(x) + 0.5
                    let u = min(max(((px - a.x) * ex + (py - a.y) * ey) / len2, 0), 1)
                    let cx = a.x + u * ex - px, cy = a.y + u * ey - py
                    let d2 = cx * cx + cy * cy
                    let r = ra + u * (rb - ra)
                    // Thin vessels: widen to 0.7 px and scale down, keeping the cross-section area.
                    let reff = max(r, 0.7)
                    guard d2 < reff * reff else { continue }
                    var c = 2 * (reff * reff - d2).squareRoot()
                    if r < 0.7 { c *= (r / 0.7) * (r / 0.7) }
                    // Inside the parent's lumen at the joint count only what exceeds the parent's own chord,
                    // so the joint is neither doubled (dark blot) nor hollow (light ring).
                    let jx = px - join.x, jy = py - join.y
                    let dj2 = jx * jx + jy * jy
                    if dj2 < joinR2 { c -= 2 * (joinR2 - dj2).squareRoot() }
                    guard c > 0 else { continue }
                    let l = (y - minY) * bw + (x - minX)
                    if Float(c) > chord[l] {
                        chord[l] = Float(c)
                        arrival[l] = Float(v.arrivals[s] + u * (v.arrivals[s + 1] - v.arrivals[s]))
                    }
                }
            }
        }
        for l in 0..<(bw * bh) where chord[l] > 0 {
            indices.append(Int32((minY + l / bw) * columns + minX + l % bw))
            chords.append(chord[l])
            arrivals.append(arrival[l])
        }
    }

    /// Adds μ · chord · concentration(t) to the attenuation of each covered pixel.
    func addIodine(at t: Float, mu: Float, into out: UnsafeMutableBufferPointer<Float>) {
        let alpha = Self.alpha
        for j in 0..<indices.count {
            let dt = t - arrivals[j]
            guard dt > 0 else { continue }
            let x = dt / peakTime
            let c = Foundation.exp(alpha * (Foundation.log(x) + 1 - x))
            out[Int(indices[j])] += mu * chords[j] * c * scale
        }
    }

    /// Covered pixel indices (for region masks in tests and reports).
    var pixelIndices: [Int] { indices.map(Int.init) }
}

extension SynthAngiogram {
    /// Pixels covered by the given vessels, as a mask of `rows * columns` flags.
    public static func coverage(of vessels: [SynthVessel], rows: Int, columns: Int) -> [Bool] {
        var mask = [Bool](repeating: false, count: rows * columns)
        for v in vessels {
            for i in VesselFootprint(vessel: v, rows: rows, columns: columns).pixelIndices { mask[i] = true }
        }
        return mask
    }
}

/// Smooth anatomy that subtraction removes: soft tissue, bone with cortical rims, and the detector's vignetting.
enum Background {
    static func attenuation(rows: Int, columns: Int, seed: UInt64) -> [Float] {
        var rng = SynthRandom(seed: seed)
        let scale = Double(min(rows, columns)) / 512
        let base = rng.uniform(0.15, 0.45)
        let gx = rng.uniform(-0.25, 0.25) / Double(columns), gy = rng.uniform(-0.25, 0.25) / Double(rows)
        struct Blob { var x, y, s, a: Double }
        struct Bone { var x, y, c, s, a, b, inner, rim, width: Double }
        let blobs = (0..<rng.int(5...9)).map { _ in
            Blob(x: rng.uniform(0, Double(columns)), y: rng.uniform(0, Double(rows)),
                 s: rng.uniform(40, 160) * scale, a: rng.uniform(-0.2, 0.3))
        }
        let bones = (0..<rng.int(1...3)).map { _ -> Bone in
            let angle = rng.uniform(0, .pi)
            return Bone(x: rng.uniform(0.1, 0.9) * Double(columns), y: rng.uniform(0.1, 0.9) * Double(rows),
                        c: cos(angle), s: sin(angle), a: rng.uniform(80, 260) * scale, b: rng.uniform(20, 70) * scale,
                        inner: rng.uniform(0.2, 0.45), rim: rng.uniform(0.15, 0.35), width: rng.uniform(2.5, 6) * scale)
        }
        var out = [Float](repeating: 0, count: rows * columns)
        // Blobs evaluated on separable factors: exp(−(dx² + dy²)/2s²) = exp(−dx²/2s²) · exp(−dy²/2s²).
        var fx = [[Double]](), fy = [[Double]]()
        for b in blobs {
            fx.append((0..<columns).map { Foundation.exp(-pow(Double($0) + 0.5 - b.x, 2) / (2 * b.s * b.s)) })
            fy.append((0..<rows).map { Foundation.exp(-pow(Double($0) + 0.5 - b.y, 2) / (2 * b.s * b.s)) })
        }
        for y in 0..<rows {
            let py = Double(y) + 0.5
            for x in 0..<columns {
                let px = Double(x) + 0.5
                var v = base + gx * px + gy * py
                for (k, b) in blobs.enumerated() { v += b.a * fx[k][x] * fy[k][y] }
                for b in bones {
                    let u = (px - b.x) * b.c + (py - b.y) * b.s
                    let w = -(px - b.x) * b.s + (py - b.y) * b.c
                    let rho = ((u / b.a) * (u / b.a) + (w / b.b) * (w / b.b)).squareRoot()
                    // Distance to the outline in pixels, approximately.
                    let dist = (rho - 1) * min(b.a, b.b)
                    if dist > 4 * b.width + 2 { continue }
                    let inside = 1 / (1 + Foundation.exp(dist / 1.2))
                    let rim = Foundation.exp(-(dist + b.width) * (dist + b.width) / (b.width * b.width))
                    v += b.inner * inside + b.rim * rim
                }
                out[y * columns + x] = Float(v)
            }
        }
        return out
    }

    /// Relative beam intensity at the detector: brighter centre, darker corners.
    static func vignetting(rows: Int, columns: Int) -> [Float] {
        let cx = Double(columns) / 2, cy = Double(rows) / 2
        let r2 = cx * cx + cy * cy
        var out = [Float](repeating: 0, count: rows * columns)
        for y in 0..<rows {
            for x in 0..<columns {
                let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
                out[y * columns + x] = Float(1 - 0.3 * (dx * dx + dy * dy) / r2)
            }
        }
        return out
    }
}
