import Evaluation

/// Sums for one group in one window, turned into `GroupFigures` at the end.
struct GroupAccumulator {
    var cases = 0, triaged = 0, skipped = 0, unreadable = 0, review = 0
    var adjudicated = 0, nonDiagnosticOnly = 0, disagreements = 0, unweightable = 0
    var confusion = ConfusionCounts()
    var autoConfusion = ConfusionCounts()
    /// Σw and Σw² per cell, indexed tp, fn, fp, tn.
    var w = [0.0, 0.0, 0.0, 0.0]
    var w2 = [0.0, 0.0, 0.0, 0.0]
    /// Weighted cases per cell.
    var wn = [0, 0, 0, 0]
    var pBlocked: [Double] = [], meanGray: [Double] = [], dynamicRange: [Double] = [], frameCount: [Double] = []

    /// Adds a case; `labelled` false keeps its label out (the last-N window labels only its verdicts' cases).
    mutating func add(_ c: MonitoredCase, labelled: Bool, collectDrift: Bool) {
        cases += 1
        switch c.decision {
        case .skipped: skipped += 1
        case .unreadable: unreadable += 1
        case .blocked, .patent, .manualReview:
            triaged += 1
            if c.decision == .manualReview { review += 1 }
        }
        if collectDrift {
            if let p = c.pBlocked { pBlocked.append(p) }
            if let g = c.meanGray { meanGray.append(g) }
            if let r = c.dynamicRange { dynamicRange.append(r) }
            if let f = c.frameCount { frameCount.append(f) }
        }
        guard labelled, c.triaged else { return }
        if c.nonDiagnosticOnly { nonDiagnosticOnly += 1 }
        guard let label = c.label else { return }
        adjudicated += 1
        if c.disagreement { disagreements += 1 }
        confusion.add(label: label, flagged: c.flagged, weight: 1)
        if c.decision != .manualReview { autoConfusion.add(label: label, flagged: c.decision == .blocked, weight: 1) }
        guard let weight = c.weight else {
            unweightable += 1
            return
        }
        let cell = label ? (c.flagged ? 0 : 1) : (c.flagged ? 2 : 3)
        w[cell] += weight
        w2[cell] += weight * weight
        wn[cell] += 1
    }

    /// The weighted proportion of cell `success` among cells `success` and `other`.
    private func weighted(_ success: Int, _ other: Int, n: Int) -> Estimate {
        Estimate.weighted(successWeight: w[success], totalWeight: w[success] + w[other], sumOfSquares: w2[success] + w2[other], n: n)
    }

    func figures(drift: DriftReference?) -> GroupFigures {
        let c = confusion
        let reviewRate = Estimate.proportion(successes: review, n: triaged)
        let weightedN = wn
        return GroupFigures(
            cases: cases, triaged: triaged, skipped: skipped, unreadable: unreadable, adjudicated: adjudicated,
            nonDiagnosticOnly: nonDiagnosticOnly, disagreements: disagreements,
            sensitivity: .proportion(successes: c.tp, n: c.tp + c.fn),
            specificity: .proportion(successes: c.tn, n: c.tn + c.fp),
            ppv: .proportion(successes: c.tp, n: c.tp + c.fp),
            npv: .proportion(successes: c.tn, n: c.tn + c.fn),
            reviewRate: reviewRate,
            autoDecisionRate: .proportion(successes: triaged - review, n: triaged),
            autoDecided: AutoDecidedFigures(sensitivity: .proportion(successes: autoConfusion.tp, n: autoConfusion.tp + autoConfusion.fn),
                                            specificity: .proportion(successes: autoConfusion.tn, n: autoConfusion.tn + autoConfusion.fp)),
            weighted: WeightedFigures(sensitivity: weighted(0, 1, n: weightedN[0] + weightedN[1]),
                                      specificity: weighted(3, 2, n: weightedN[3] + weightedN[2]),
                                      ppv: weighted(0, 2, n: weightedN[0] + weightedN[2]),
                                      npv: weighted(3, 1, n: weightedN[3] + weightedN[1]),
                                      reviewRate: reviewRate, unweightable: unweightable),
            psi: nil, drift: drift.map(driftFigures) ?? DriftFigures())
            .withHeadlinePSI()
    }

    func driftFigures(_ r: DriftReference) -> DriftFigures {
        let outcomeShares = Estimate.proportion(successes: skipped, n: cases)
        var outcome: OutcomeDrift?
        if cases > 0 {
            var psi: Double?
            if let rs = r.skippedShare, let ru = r.unreadableShare {
                psi = PopulationStabilityIndex.index(current: [Double(cases - skipped - unreadable), Double(skipped), Double(unreadable)],
                                                     reference: [1 - rs - ru, rs, ru], epsilon: r.epsilon)
            }
            outcome = OutcomeDrift(n: cases, skippedShare: outcomeShares, unreadableShare: .proportion(successes: unreadable, n: cases),
                                   referenceSkippedShare: r.skippedShare, referenceUnreadableShare: r.unreadableShare, psi: psi)
        }
        return DriftFigures(pBlocked: r.pBlocked?.measure(pBlocked, epsilon: r.epsilon),
                            meanGray: r.meanGray?.measure(meanGray, epsilon: r.epsilon),
                            dynamicRange: r.dynamicRange?.measure(dynamicRange, epsilon: r.epsilon),
                            frameCount: r.frameCount?.measure(frameCount, epsilon: r.epsilon),
                            seriesOutcome: outcome)
    }
}

extension GroupFigures {
    /// Copies the P(blocked) PSI to the top-level `psi` key.
    func withHeadlinePSI() -> GroupFigures {
        var f = self
        f.psi = drift.pBlocked?.psi
        return f
    }
}
