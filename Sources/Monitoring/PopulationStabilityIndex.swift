import Evaluation
import Foundation

/// Population stability index PSI = Σ (aᵢ − eᵢ)·ln(aᵢ / eᵢ) of the current shares aᵢ against the reference
/// shares eᵢ over the same bins. A share of 0 is replaced by `epsilon` so an empty bin gives a large but
/// finite term. Usual reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift.
public enum PopulationStabilityIndex {
    /// The floor for empty-bin shares.
    public static let defaultEpsilon = 1e-4

    /// PSI of two count vectors of equal length; nil when either is empty or the lengths differ.
    public static func index(current: [Int], reference: [Int], epsilon: Double = defaultEpsilon) -> Double? {
        index(current: current.map(Double.init), reference: reference.map(Double.init), epsilon: epsilon)
    }

    /// PSI of two non-negative weight vectors of equal length (counts or shares).
    public static func index(current: [Double], reference: [Double], epsilon: Double = defaultEpsilon) -> Double? {
        guard current.count == reference.count, !current.isEmpty else { return nil }
        let ca = current.reduce(0, +), ra = reference.reduce(0, +)
        guard ca > 0, ra > 0 else { return nil }
        var psi = 0.0
        for i in current.indices {
            let a = max(current[i] / ca, epsilon), e = max(reference[i] / ra, epsilon)
            psi += (a - e) * log(a / e)
        }
        return psi
    }

    /// Interior edges of `count` equal-width bins over [0, 1]: i / count for i = 1 … count − 1.
    public static func uniformEdges(count: Int) -> [Double] {
        count > 1 ? (1..<count).map { Double($0) / Double(count) } : []
    }

    /// Interior edges at the reference sample's quantiles i / count (numpy's linear quantiles).
    public static func quantileEdges(reference: [Double], count: Int) -> [Double] {
        let sorted = reference.filter(\.isFinite).sorted()
        guard count > 1, !sorted.isEmpty else { return [] }
        return (1..<count).compactMap { Intervals.quantile(sorted: sorted, Double($0) / Double(count)) }
    }

    /// Counts per bin for interior `edges` (bins are [edgeᵢ₋₁, edgeᵢ), the outer ones unbounded; numpy's
    /// `searchsorted(edges, x, side="right")`). Non-finite values are left out.
    public static func counts(_ values: [Double], edges: [Double]) -> [Int] {
        var c = [Int](repeating: 0, count: edges.count + 1)
        for v in values where v.isFinite { c[bin(v, edges: edges)] += 1 }
        return c
    }

    /// The bin index of one value: how many interior edges are ≤ it.
    public static func bin(_ v: Double, edges: [Double]) -> Int {
        var lo = 0, hi = edges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if edges[mid] <= v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
