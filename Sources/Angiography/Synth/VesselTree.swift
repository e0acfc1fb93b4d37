import Foundation

/// A point in image coordinates (pixels; x to the right, y down).
public struct SynthPoint: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
    static func + (a: SynthPoint, b: SynthPoint) -> SynthPoint { SynthPoint(a.x + b.x, a.y + b.y) }
    static func - (a: SynthPoint, b: SynthPoint) -> SynthPoint { SynthPoint(a.x - b.x, a.y - b.y) }
    static func * (a: SynthPoint, k: Double) -> SynthPoint { SynthPoint(a.x * k, a.y * k) }
    var length: Double { (x * x + y * y).squareRoot() }
}

/// One vessel of the synthetic tree: a sampled centreline with radius and bolus arrival time per point.
public struct SynthVessel: Sendable {
    public var points: [SynthPoint]
    public var radii: [Double]
    /// Seconds after injection at which the contrast front reaches each point.
    public var arrivals: [Double]
    /// Index of the parent vessel, and of the parent's point where this one branches off.
    public var parent: Int?
    public var branchPoint: Int
    /// 0 for the trunk, +1 per bifurcation.
    public var generation: Int
    /// Time from arrival to peak concentration of the gamma-variate curve, seconds.
    public var peakTime: Double
    /// Peak iodine concentration relative to the trunk (below 1 for collaterals).
    public var contrastScale: Double
    public var isCollateral: Bool
    /// Radius of the parent where this vessel leaves it: pixels that close to the first point belong to
    /// the parent's lumen and are not counted twice.
    public var joinRadius: Double = 0
}

/// Where a blocked case is occluded, and what is missing distal to it.
public struct SynthOcclusion: Sendable, Equatable {
    /// The vessel cut off (index into the patent tree) and its generation.
    public var vessel: Int
    public var generation: Int
    /// The centreline point of the cut-off, in pixels.
    public var x: Double
    public var y: Double
    /// Vessel radius at the cut, pixels.
    public var radius: Double
    /// Vessels of the patent tree that are missing (partly, for the occluded vessel itself).
    public var removedVessels: [Int]
    /// Thin, faint, delayed collateral vessels added towards the distal territory.
    public var collaterals: Int
}

/// The vessel tree of one case: the patent tree, and the tree actually rendered (identical when patent).
public struct SynthVesselTree: Sendable {
    /// The tree before any occlusion; a blocked case and its patent twin share it.
    public var patent: [SynthVessel]
    /// What is rendered: the patent tree, or the occluded tree with collaterals.
    public var rendered: [SynthVessel]
    public var occlusion: SynthOcclusion?

    /// Grows the tree from `treeSeed`; when `occlusionSeed` is given, occludes it with draws from that stream.
    public static func make(rows: Int, columns: Int, treeSeed: UInt64, occlusionSeed: UInt64?,
                            occlusionGenerations: ClosedRange<Int> = 1...2, collateralProbability: Double = 0.5) -> SynthVesselTree {
        var rng = SynthRandom(seed: treeSeed)
        let vessels = VesselTreeGrower(rows: rows, columns: columns).grow(&rng)
        guard let os = occlusionSeed else { return SynthVesselTree(patent: vessels, rendered: vessels, occlusion: nil) }
        var orng = SynthRandom(seed: os)
        let occluder = Occluder(rows: rows, columns: columns, generations: occlusionGenerations, collateralProbability: collateralProbability)
        let (rendered, occlusion) = occluder.occlude(vessels, &orng)
        return SynthVesselTree(patent: vessels, rendered: rendered, occlusion: occlusion)
    }
}

/// Recursive branching with Murray-like radii (r³ = r₁³ + r₂³), tapering and smooth tortuosity.
struct VesselTreeGrower {
    let rows: Int
    let columns: Int
    var scale: Double { Double(min(rows, columns)) / 512 }
    let maxVessels = 160

    func grow(_ rng: inout SynthRandom) -> [SynthVessel] {
        var vessels: [SynthVessel] = []
        let w = Double(columns), h = Double(rows)
        let maxGeneration = rng.int(2...4)
        let velocity = rng.uniform(350, 650) * scale       // pixels per second along the centreline
        let peakTime = rng.uniform(0.9, 1.5)
        let tortuosity = rng.uniform(0.5, 1.4)
        // The trunk enters from one edge, pointing inwards.
        let edge = rng.int(0...3)
        let along = rng.uniform(0.3, 0.7)
        let start: SynthPoint
        let heading: Double
        switch edge {
        case 0: start = SynthPoint(along * w, -4); heading = .pi / 2
        case 1: start = SynthPoint(w + 4, along * h); heading = .pi
        case 2: start = SynthPoint(along * w, h + 4); heading = -.pi / 2
        default: start = SynthPoint(-4, along * h); heading = 0
        }
        let rootRadius = rng.uniform(6.5, 9.5) * scale
        let rootLength = rng.uniform(0.3, 0.45) * Double(min(rows, columns))
        let injection = rng.uniform(0.55, 0.95)
        var queue: [(start: SynthPoint, heading: Double, radius: Double, length: Double, generation: Int,
                     arrival: Double, parent: Int?, branchPoint: Int, limit: Int)] =
            [(start, heading + rng.uniform(-0.3, 0.3), rootRadius, rootLength, 0, injection, nil, 0, maxGeneration)]
        while !queue.isEmpty && vessels.count < maxVessels {
            let job = queue.removeFirst()
            var v = centreline(from: job.start, heading: job.heading, radius: job.radius, length: job.length,
                               arrival: job.arrival, velocity: velocity, tortuosity: tortuosity, &rng)
            v.parent = job.parent
            v.branchPoint = job.branchPoint
            if let p = job.parent { v.joinRadius = vessels[p].radii[job.branchPoint] }
            v.generation = job.generation
            v.peakTime = peakTime * (1 + 0.12 * Double(job.generation))
            let index = vessels.count
            vessels.append(v)
            let n = v.points.count
            guard n >= 3 else { continue }
            let endHeading = Self.heading(v.points[n - 2], v.points[n - 1])
            let rEnd = v.radii[n - 1]
            // Bifurcation at the end: radii split by Murray's law with some asymmetry.
            if job.generation < job.limit && rEnd >= 0.9 * scale {
                let a = rng.uniform(0.55, 1.0)
                let r1 = rEnd / pow(1 + a * a * a, 1.0 / 3.0)
                let r2 = a * r1
                let side: Double = rng.chance(0.5) ? 1 : -1
                let theta1 = side * rng.uniform(0.15, 0.5)
                let theta2 = -side * rng.uniform(0.5, 1.1)
                let l1 = job.length * rng.uniform(0.6, 0.85)
                let l2 = job.length * rng.uniform(0.5, 0.8)
                queue.append((v.points[n - 1], endHeading + theta1, r1, l1, job.generation + 1, v.arrivals[n - 1],
                              index, n - 1, job.limit))
                queue.append((v.points[n - 1], endHeading + theta2, r2, l2, job.generation + 1, v.arrivals[n - 1],
                              index, n - 1, job.limit))
            }
            // An occasional thin side branch from the middle of the vessel.
            if job.generation < job.limit && rng.chance(0.55) {
                let k = Int(Double(n) * rng.uniform(0.3, 0.7))
                let h = Self.heading(v.points[max(k - 1, 0)], v.points[k])
                let side: Double = rng.chance(0.5) ? 1 : -1
                let r = v.radii[k] * rng.uniform(0.3, 0.5)
                if r >= 0.7 * scale {
                    queue.append((v.points[k], h + side * rng.uniform(0.7, 1.3), r, job.length * rng.uniform(0.35, 0.6),
                                  job.generation + 1, v.arrivals[k], index, k, min(job.limit, job.generation + 2)))
                }
            }
        }
        return vessels
    }

    static func heading(_ a: SynthPoint, _ b: SynthPoint) -> Double { atan2(b.y - a.y, b.x - a.x) }

    /// A smoothly winding centreline: heading = base + two sinusoids + a slowly varying random curvature,
    /// steered back when it heads out of the image.
    func centreline(from start: SynthPoint, heading: Double, radius: Double, length: Double, arrival: Double,
                    velocity: Double, tortuosity: Double, _ rng: inout SynthRandom) -> SynthVessel {
        let step = max(1.0, 1.5 * scale)
        let n = max(Int(length / step), 2)
        let a1 = rng.uniform(0.1, 0.3) * tortuosity, w1 = 2 * .pi / (rng.uniform(50, 120) * scale), p1 = rng.uniform(0, 2 * .pi)
        let a2 = rng.uniform(0.05, 0.15) * tortuosity, w2 = 2 * .pi / (rng.uniform(15, 40) * scale), p2 = rng.uniform(0, 2 * .pi)
        let taper = rng.uniform(0.12, 0.3)
        var points = [start], radii = [radius], arrivals = [arrival]
        var p = start
        var base = heading
        var curvature = 0.0
        let w = Double(columns), h = Double(rows)
        for k in 1...n {
            let s = Double(k) * step
            curvature = 0.92 * curvature + rng.normal() * 0.004 * tortuosity / scale
            base += curvature * step
            // Steer towards the centre when close to an edge and heading out.
            let margin = 0.06 * Double(min(rows, columns))
            let toCentre = atan2(h / 2 - p.y, w / 2 - p.x)
            if p.x < margin || p.y < margin || p.x > w - margin || p.y > h - margin {
                var d = toCentre - base
                while d > .pi { d -= 2 * .pi }
                while d < -.pi { d += 2 * .pi }
                if k > 8 { base += 0.05 * d }
            }
            let theta = base + a1 * sin(w1 * s + p1) + a2 * sin(w2 * s + p2)
            p = p + SynthPoint(cos(theta), sin(theta)) * step
            points.append(p)
            radii.append(radius * (1 - taper * s / length))
            arrivals.append(arrival + s / velocity)
        }
        return SynthVessel(points: points, radii: radii, arrivals: arrivals, parent: nil, branchPoint: 0,
                           generation: 0, peakTime: 1, contrastScale: 1, isCollateral: false)
    }
}

/// Cuts one vessel abruptly, drops everything distal to the cut, and sometimes adds collaterals.
struct Occluder {
    let rows: Int
    let columns: Int
    var generations: ClosedRange<Int> = 1...2
    var collateralProbability = 0.5
    var scale: Double { Double(min(rows, columns)) / 512 }

    func occlude(_ vessels: [SynthVessel], _ rng: inout SynthRandom) -> ([SynthVessel], SynthOcclusion?) {
        // Vessels distal to vessel i beyond point k.
        func distal(of i: Int, after k: Int) -> [Int] {
            var out: [Int] = []
            var frontier = [i]
            var first = true
            while let v = frontier.popLast() {
                for (j, c) in vessels.enumerated() where c.parent == v && (!first || c.branchPoint > k) {
                    out.append(j)
                    frontier.append(j)
                }
                first = false
            }
            return out
        }
        func visibleLength(_ list: [Int]) -> Double {
            list.reduce(0) { total, j in
                total + Double(vessels[j].points.filter(inside).count) * max(vessels[j].radii.first ?? 0, 0.5)
            }
        }
        var candidates: [(vessel: Int, cut: Int, removed: [Int], weight: Double)] = []
        for (i, v) in vessels.enumerated() where generations.contains(v.generation) && v.points.count > 12 {
            let cut = Int(Double(v.points.count) * 0.3)
            guard inside(v.points[cut]), v.radii[cut] >= 1.3 * scale else { continue }
            let removed = distal(of: i, after: cut)
            let weight = visibleLength(removed) + Double(v.points.count - cut) * v.radii[cut]
            if weight > 300 * scale * scale { candidates.append((i, cut, removed, weight)) }
        }
        if candidates.isEmpty {
            // Fall back to the trunk itself (always long enough).
            let cut = max(Int(Double(vessels[0].points.count) * 0.5), 1)
            candidates = [(0, cut, distal(of: 0, after: cut), 1)]
        }
        // Larger distal territories are likelier: an occlusion that matters clinically removes a visible tree.
        let totalWeight = candidates.reduce(0) { $0 + $1.weight }
        var draw = rng.uniform() * totalWeight
        var pick = candidates[candidates.count - 1]
        for c in candidates {
            if draw < c.weight { pick = c; break }
            draw -= c.weight
        }
        let v = vessels[pick.vessel]
        let cut = min(max(Int(Double(v.points.count) * rng.uniform(0.15, 0.45)), 2), v.points.count - 1)
        let removed = distal(of: pick.vessel, after: cut)
        var out = vessels
        // Abrupt cut-off with a short, rounded stump.
        var stump = v
        stump.points = Array(v.points[0...cut])
        stump.radii = Array(v.radii[0...cut])
        stump.arrivals = Array(v.arrivals[0...cut])
        if cut >= 2 { stump.radii[cut] *= 0.7; stump.radii[cut - 1] *= 0.9 }
        out[pick.vessel] = stump
        let removedSet = Set(removed)
        var collaterals: [SynthVessel] = []
        if rng.chance(collateralProbability) {
            // Distal targets: points of the missing tree (the rest of the occluded vessel and its branches).
            var targets: [SynthPoint] = Array(v.points[(cut + 1)...]).filter(inside)
            for j in removed { targets += vessels[j].points.filter(inside) }
            // Sources: points of patent vessels, not distal to the cut.
            var sources: [(SynthPoint, Double)] = []
            for (j, u) in vessels.enumerated() where j != pick.vessel && !removedSet.contains(j) {
                for (k, p) in u.points.enumerated() where k % 4 == 0 && inside(p) { sources.append((p, u.arrivals[k])) }
            }
            if !targets.isEmpty && !sources.isEmpty {
                let count = rng.int(2...4)
                for _ in 0..<count {
                    let target = targets[rng.int(0...(targets.count - 1))]
                    // The nearest few sources, one chosen at random.
                    let near = sources.sorted { ($0.0 - target).length < ($1.0 - target).length }.prefix(40)
                    let src = near[near.startIndex + rng.int(0...(near.count - 1))]
                    collaterals.append(collateral(from: src.0, arrival: src.1, to: target, &rng))
                }
            }
        }
        var rendered: [SynthVessel] = []
        for (j, u) in out.enumerated() where !removedSet.contains(j) { rendered.append(u) }
        rendered += collaterals
        let occlusion = SynthOcclusion(vessel: pick.vessel, generation: v.generation, x: v.points[cut].x, y: v.points[cut].y,
                                       radius: v.radii[cut], removedVessels: removed.sorted(), collaterals: collaterals.count)
        return (rendered, occlusion)
    }

    func inside(_ p: SynthPoint) -> Bool { p.x >= 0 && p.y >= 0 && p.x < Double(columns) && p.y < Double(rows) }

    /// A thin, winding, faint vessel whose contrast arrives late.
    func collateral(from a: SynthPoint, arrival: Double, to b: SynthPoint, _ rng: inout SynthRandom) -> SynthVessel {
        let d = b - a
        let length = max(d.length, 4)
        let normal = SynthPoint(-d.y / length, d.x / length)
        let step = max(1.0, 1.5 * scale)
        let n = max(Int(length / step), 2)
        let amp = rng.uniform(3, 8) * scale
        let waves = Double(rng.int(2...5))
        let phase = rng.uniform(0, 2 * .pi)
        let radius = rng.uniform(0.45, 0.7) * scale
        let delay = rng.uniform(1.0, 2.0)
        var points: [SynthPoint] = [], radii: [Double] = [], arrivals: [Double] = []
        for k in 0...n {
            let t = Double(k) / Double(n)
            let envelope = sin(.pi * t)
            let off = amp * envelope * sin(2 * .pi * waves * t + phase) + 0.3 * amp * envelope * sin(7 * .pi * t)
            points.append(a + d * t + normal * off)
            radii.append(radius)
            arrivals.append(arrival + delay + Double(k) * step / (120 * scale))
        }
        return SynthVessel(points: points, radii: radii, arrivals: arrivals, parent: nil, branchPoint: 0, generation: 99,
                           peakTime: rng.uniform(1.8, 2.6), contrastScale: rng.uniform(0.3, 0.5), isCollateral: true)
    }
}
