/// The reference prepared once per evaluation: bin edges and reference counts per statistic, and the sample
/// for KS when the reference keeps one.
struct DriftReference: Sendable {
    struct Statistic: Sendable {
        let edges: [Double]
        let referenceCounts: [Int]
        /// The reference sample, finite values sorted.
        let sample: [Double]?

        init(edges: [Double], referenceCounts: [Int], sample: [Double]?) {
            (self.edges, self.referenceCounts, self.sample) = (edges, referenceCounts, sample.map { $0.filter(\.isFinite).sorted() })
        }

        func measure(_ values: [Double], epsilon: Double) -> DriftMeasure {
            guard !values.isEmpty else { return DriftMeasure(n: 0, psi: nil, ks: nil) }
            let psi = PopulationStabilityIndex.index(current: PopulationStabilityIndex.counts(values, edges: edges),
                                                     reference: referenceCounts, epsilon: epsilon)
            let ks = sample.flatMap { KolmogorovSmirnov.test(values, sortedReference: $0) }
            return DriftMeasure(n: values.count, psi: psi, ks: ks)
        }
    }

    let pBlocked: Statistic?
    let meanGray: Statistic?
    let dynamicRange: Statistic?
    let frameCount: Statistic?
    let skippedShare: Double?
    let unreadableShare: Double?
    let epsilon: Double

    /// P(blocked): equal-width bins over [0, 1] (or the reference's quantiles when configured and a sample is
    /// kept); a reference with bin counts only fixes equal-width bins of its own count. Input statistics
    /// have no natural range, so they are always binned at the reference sample's quantiles.
    init(_ r: ReferenceDistribution, configuration: MonitoringConfiguration) {
        let bins = configuration.psiBins
        if let s = r.pBlocked, !s.isEmpty {
            let edges = configuration.psiBinning == .referenceQuantiles
                ? PopulationStabilityIndex.quantileEdges(reference: s, count: bins) : PopulationStabilityIndex.uniformEdges(count: bins)
            pBlocked = Statistic(edges: edges, referenceCounts: PopulationStabilityIndex.counts(s, edges: edges), sample: s)
        } else if let b = r.pBlockedBins, b.count >= 2 {
            pBlocked = Statistic(edges: PopulationStabilityIndex.uniformEdges(count: b.count), referenceCounts: b, sample: nil)
        } else {
            pBlocked = nil
        }
        func quantiles(_ s: [Double]?) -> Statistic? {
            guard let s, !s.isEmpty else { return nil }
            let edges = PopulationStabilityIndex.quantileEdges(reference: s, count: bins)
            return Statistic(edges: edges, referenceCounts: PopulationStabilityIndex.counts(s, edges: edges), sample: s)
        }
        meanGray = quantiles(r.meanGray)
        dynamicRange = quantiles(r.dynamicRange)
        frameCount = quantiles(r.frameCount)
        skippedShare = r.skippedShare
        unreadableShare = r.unreadableShare
        epsilon = configuration.psiEpsilon
    }
}
