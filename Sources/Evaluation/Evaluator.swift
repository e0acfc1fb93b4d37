import Foundation

/// Options of one evaluation.
public struct EvaluationOptions: Sendable {
    /// The threshold behind the decisions (reported; used when decisions come from P(blocked)).
    public var threshold: Double
    public var decisionSource: String
    public var bootstrap: BootstrapSettings
    /// Target sensitivity for the operating point (nil: none).
    public var targetSensitivity: Double?

    public init(threshold: Double, decisionSource: String, bootstrap: BootstrapSettings = BootstrapSettings(), targetSensitivity: Double? = nil) {
        self.threshold = threshold
        self.decisionSource = decisionSource
        self.bootstrap = bootstrap
        self.targetSensitivity = targetSensitivity
    }
}

/// From samples to an `EvaluationResult`.
public enum Evaluator {
    static let validationNames: Set<String> = ["validation", "val", "valid", "dev"]

    /// The cases the headline metrics describe: the test split when the manifest has one, else all.
    public static func evaluatedSet(_ samples: [EvaluationSample]) -> (name: String, samples: [EvaluationSample]) {
        let test = samples.filter { $0.split == "test" }
        return test.isEmpty ? ("all", samples) : ("test", test)
    }

    public static func table(_ s: [EvaluationSample], bootstrap: BootstrapSettings) -> MetricTable {
        let e = MetricEngine(samples: s)
        let c = e.confusion()
        return MetricTable(n: s.count, positives: c.positives,
                           prevalence: MetricValue(value: c.prevalence, ci: Intervals.wilson(successes: c.positives, n: c.total)),
                           confusion: c, metrics: e.metrics(bootstrap: bootstrap))
    }

    public static func evaluate(samples all: [EvaluationSample], options: EvaluationOptions, provenance: Provenance,
                                comparisons: [RunComparison] = [], run: RunCounts? = nil) throws -> EvaluationResult {
        guard !all.isEmpty else { throw EvaluationError.invalid("no cases to evaluate") }
        let (splitName, s) = evaluatedSet(all)
        var warnings: [String] = []
        let head = table(s, bootstrap: options.bootstrap)
        let c = head.confusion
        if c.positives == 0 { warnings.append("no blocked case among the \(s.count) evaluated: sensitivity, AUROC and AUPRC are undefined") }
        if c.negatives == 0 { warnings.append("no patent case among the \(s.count) evaluated: specificity and AUROC are undefined") }
        let unscored = s.filter { $0.pBlocked == nil }.count
        if unscored > 0 { warnings.append("\(Plural.count(unscored, "case")) \(unscored == 1 ? "has" : "have") no P(blocked): \(unscored == 1 ? "it counts" : "they count") for the decision metrics only") }
        if s.count < 30 { warnings.append("only \(Plural.count(s.count, "case")): intervals are wide and bootstrap intervals rough") }

        let reviews = s.filter(\.isReview)
        let review = ReviewSummary(count: reviews.count,
                                   rate: MetricValue(value: Double(reviews.count) / Double(s.count), ci: Intervals.wilson(successes: reviews.count, n: s.count)),
                                   actuallyBlocked: reviews.filter(\.blocked).count, actuallyPatent: reviews.filter { !$0.blocked }.count,
                                   autoDecided: reviews.isEmpty ? head : table(s.filter { !$0.isReview }, bootstrap: options.bootstrap))

        let imbalance = imbalanceCheck(head)
        if imbalance.majorityClassFailure { warnings.append(imbalance.message) }

        var op: OperatingPoint?
        if let target = options.targetSensitivity {
            op = operatingPoint(all: all, evaluated: s, evaluatedName: splitName, target: target)
            if let w = op?.warning { warnings.append(w) }
        }
        func groups(_ key: (EvaluationSample) -> String?) -> [SubgroupRow] {
            guard s.contains(where: { key($0) != nil }) else { return [] }
            let byKey = Dictionary(grouping: s) { key($0) ?? "(unknown)" }
            return byKey.sorted { $0.key < $1.key }.map { k, g in
                SubgroupRow(group: k, reviewRate: Double(g.filter(\.isReview).count) / Double(g.count),
                            table: table(g, bootstrap: options.bootstrap))
            }
        }
        let subgroups = Subgroups(site: groups(\.site), scanner: groups(\.scanner),
                                  month: groups { $0.date.flatMap(EvaluationData.month) })
        return EvaluationResult(provenance: provenance, evaluatedSplit: splitName, n: s.count,
                                nScored: s.count - unscored, prevalence: head.prevalence, threshold: options.threshold,
                                decisionSource: options.decisionSource, metrics: head.metrics, confusion: c, review: review,
                                imbalance: imbalance, curves: curves(s), operatingPoint: op, subgroups: subgroups,
                                comparisons: comparisons, bootstrap: options.bootstrap, run: run, warnings: warnings)
    }

    /// The majority-class baseline and the failure check (see `ImbalanceCheck`).
    public static func imbalanceCheck(_ t: MetricTable) -> ImbalanceCheck {
        let c = t.confusion
        let blockedMajority = c.positives > c.negatives
        let base = MajorityBaseline(majorityClass: blockedMajority ? "blocked" : "patent",
                                    accuracy: c.total > 0 ? Double(max(c.positives, c.negatives)) / Double(c.total) : nil,
                                    sensitivity: c.positives > 0 ? (blockedMajority ? 1 : 0) : nil,
                                    specificity: c.negatives > 0 ? (blockedMajority ? 0 : 1) : nil)
        let sens = c.sensitivity
        let acc = c.accuracy ?? 0
        let failure = !blockedMajority && c.positives > 0 && (sens ?? 0) < 0.5 && acc >= (base.accuracy ?? 1) - 0.05
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f %%", $0 * 100) } ?? "undefined" }
        let message = failure
            ? "IMBALANCE FAILURE: accuracy \(pct(acc)) is close to the majority-class baseline's \(pct(base.accuracy)) while blocked sensitivity is \(pct(sens)): the model mostly predicts the majority class"
            : "accuracy \(pct(c.accuracy)) against the majority-class baseline's \(pct(base.accuracy)); blocked sensitivity \(pct(sens))"
        return ImbalanceCheck(baseline: base, majorityClassFailure: failure, message: message)
    }

    /// "Flag when P ≥ t" on the scored cases of a split.
    public static func performance(_ s: [EvaluationSample], split: String, threshold t: Double) -> SplitPerformance {
        let scored = s.filter { $0.pBlocked != nil }
        let c = ConfusionCounts(labels: scored.map(\.blocked), flagged: scored.map { ($0.pBlocked ?? -1) >= t })
        func mv(_ k: Int, _ n: Int) -> MetricValue { MetricValue(value: n > 0 ? Double(k) / Double(n) : nil, ci: Intervals.wilson(successes: k, n: n)) }
        return SplitPerformance(split: split, n: scored.count, confusion: c, sensitivity: mv(c.tp, c.tp + c.fn),
                                specificity: mv(c.tn, c.tn + c.fp), ppv: mv(c.tp, c.tp + c.fp), npv: mv(c.tn, c.tn + c.fn),
                                flaggedRate: mv(c.tp + c.fp, c.total))
    }

    /// The highest threshold whose sensitivity on the validation split reaches `target` (the candidates are
    /// the validation scores themselves), reported on the evaluated split.
    public static func operatingPoint(all: [EvaluationSample], evaluated: [EvaluationSample], evaluatedName: String, target: Double) -> OperatingPoint {
        var val = all.filter { $0.split.map(validationNames.contains) ?? false }
        var chosenOn = "validation"
        var warning: String?
        if val.isEmpty {
            val = evaluated
            chosenOn = evaluatedName
            warning = "no validation split: the operating point is chosen and reported on the same cases (optimistic)"
        }
        let scored = val.filter { $0.pBlocked != nil }
        let positives = scored.filter(\.blocked)
        guard !positives.isEmpty else {
            return OperatingPoint(targetSensitivity: target, chosenOn: chosenOn, threshold: nil, chosen: nil, reported: nil,
                                  warning: "no blocked case with P(blocked) in the \(chosenOn) split: no operating point")
        }
        // Sensitivity at threshold t is the share of positives with p ≥ t; the k-th highest positive score
        // is the highest threshold flagging k positives.
        let ps = positives.compactMap(\.pBlocked).sorted(by: >)
        let k = min(ps.count, max(1, Int((target * Double(ps.count) - 1e-9).rounded(.up))))
        let t = ps[k - 1]
        return OperatingPoint(targetSensitivity: target, chosenOn: chosenOn, threshold: t,
                              chosen: performance(val, split: chosenOn, threshold: t),
                              reported: performance(evaluated, split: evaluatedName, threshold: t), warning: warning)
    }

    /// ROC and precision-recall points per distinct score, ten calibration bins, and the sweep over
    /// thresholds 0, 0.01, …, 1.
    public static func curves(_ s: [EvaluationSample]) -> Curves {
        let e = MetricEngine(samples: s)
        let P = Double(e.groups.reduce(0) { $0 + $1.filter { e.labels[$0] }.count })
        let N = Double(e.groups.reduce(0) { $0 + $1.filter { !e.labels[$0] }.count })
        var roc: [ROCPoint] = [ROCPoint(fpr: 0, tpr: 0, threshold: nil)]
        var pr: [PRPoint] = [PRPoint(recall: 0, precision: 1, threshold: nil)]
        var tp = 0.0, fp = 0.0
        for g in e.groups {
            // Groups hold only scored samples, all with the same score.
            guard let t = g.first.flatMap({ e.scores[$0] }) else { continue }
            for i in g { if e.labels[i] { tp += 1 } else { fp += 1 } }
            if P > 0 && N > 0 { roc.append(ROCPoint(fpr: fp / N, tpr: tp / P, threshold: t)) }
            if P > 0 { pr.append(PRPoint(recall: tp / P, precision: tp / (tp + fp), threshold: t)) }
        }
        if P == 0 || N == 0 { roc = [] }
        if P == 0 { pr = [] }
        var bins: [CalibrationBin] = []
        var n = [Int](repeating: 0, count: 10), sp = [Double](repeating: 0, count: 10), sy = sp
        for i in e.labels.indices {
            guard let p = e.scores[i] else { continue }
            let b = MetricEngine.bin(p)
            n[b] += 1; sp[b] += p; sy[b] += e.labels[i] ? 1 : 0
        }
        for b in 0..<10 {
            bins.append(CalibrationBin(lower: Double(b) / 10, upper: Double(b + 1) / 10, count: n[b],
                                       meanPredicted: n[b] > 0 ? sp[b] / Double(n[b]) : nil, observed: n[b] > 0 ? sy[b] / Double(n[b]) : nil))
        }
        let scored = s.filter { $0.pBlocked != nil }
        var sweep: [SweepRow] = []
        if !scored.isEmpty {
            for k in 0...100 {
                let t = Double(k) / 100
                let c = ConfusionCounts(labels: scored.map(\.blocked), flagged: scored.map { $0.pBlocked! >= t })
                sweep.append(SweepRow(threshold: t, sensitivity: c.sensitivity, specificity: c.specificity, ppv: c.ppv,
                                      flaggedRate: Double(c.tp + c.fp) / Double(c.total)))
            }
        }
        return Curves(roc: roc, pr: pr, calibration: bins, thresholdSweep: sweep)
    }

    /// Compares this run's samples with another run's on the same paths.
    public static func compare(name: String, this a: [EvaluationSample], other b: [EvaluationSample], bootstrap: BootstrapSettings) throws -> RunComparison {
        let byPath = Dictionary(b.map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        let (_, sa) = evaluatedSet(a)
        var pa: [EvaluationSample] = [], pb: [EvaluationSample] = []
        for x in sa {
            guard let y = byPath[x.path] else { throw EvaluationError.invalid("\(name): no prediction for \"\(x.path)\"") }
            guard y.blocked == x.blocked else { throw EvaluationError.invalid("\(name): label of \"\(x.path)\" differs between the runs") }
            pa.append(x)
            pb.append(y)
        }
        let tb = table(pb, bootstrap: bootstrap)
        let labels = pa.map(\.blocked)
        let mc = PairedTests.mcnemar(labels: labels, flaggedA: pa.map(\.flagged), flaggedB: pb.map(\.flagged))
        var dl: DeLongResult?
        let scoresA = pa.compactMap(\.pBlocked), scoresB = pb.compactMap(\.pBlocked)
        if scoresA.count == pa.count && scoresB.count == pb.count {
            dl = PairedTests.delong(labels: labels, scoresA: scoresA, scoresB: scoresB)
        }
        return RunComparison(name: name, n: pa.count, sensitivity: tb.metrics["sensitivity"] ?? .undefined,
                             specificity: tb.metrics["specificity"] ?? .undefined, auroc: tb.metrics["auroc"] ?? .undefined,
                             mcnemar: mc, delong: dl)
    }
}
