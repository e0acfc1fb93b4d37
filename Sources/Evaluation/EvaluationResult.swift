/// A point of the ROC curve; `threshold` is absent on the first point (above every score).
public struct ROCPoint: Sendable, Equatable, Codable {
    public var fpr: Double
    public var tpr: Double
    public var threshold: Double?
}

/// A point of the precision-recall curve; `threshold` is absent on the (recall 0, precision 1) end point.
public struct PRPoint: Sendable, Equatable, Codable {
    public var recall: Double
    public var precision: Double
    public var threshold: Double?
}

/// One of ten equal-width calibration bins.
public struct CalibrationBin: Sendable, Equatable, Codable {
    public var lower: Double
    public var upper: Double
    public var count: Int
    /// Mean P(blocked) in the bin (nil when empty).
    public var meanPredicted: Double?
    /// Share of blocked cases in the bin (nil when empty).
    public var observed: Double?

    enum CodingKeys: String, CodingKey { case lower, upper, count, meanPredicted = "mean_predicted", observed }
}

/// The decision rule "flag when P(blocked) ≥ threshold" at one threshold.
public struct SweepRow: Sendable, Equatable, Codable {
    public var threshold: Double
    public var sensitivity: Double?
    public var specificity: Double?
    public var ppv: Double?
    /// Share of cases flagged (P(blocked) ≥ threshold) at this threshold: every case a reader must look at
    /// under the plain threshold rule. Not the manual-review rate, which the review band sets.
    public var flaggedRate: Double

    enum CodingKeys: String, CodingKey { case threshold, sensitivity, specificity, ppv, flaggedRate = "flagged_rate" }
}

public struct Curves: Sendable, Equatable, Codable {
    public var roc: [ROCPoint]
    public var pr: [PRPoint]
    public var calibration: [CalibrationBin]
    public var thresholdSweep: [SweepRow]

    enum CodingKeys: String, CodingKey { case roc, pr, calibration, thresholdSweep = "threshold_sweep" }
}

/// Always predicting the majority class: the failure an imbalanced data set hides behind accuracy.
public struct MajorityBaseline: Sendable, Equatable, Codable {
    public var majorityClass: String
    public var accuracy: Double?
    public var sensitivity: Double?
    public var specificity: Double?

    enum CodingKeys: String, CodingKey { case majorityClass = "majority_class", accuracy, sensitivity, specificity }
}

public struct ImbalanceCheck: Sendable, Equatable, Codable {
    public var baseline: MajorityBaseline
    /// True when the model looks like the majority-class baseline: blocked is the minority, sensitivity is
    /// below 0.5 (or undefined) and accuracy is within 0.05 of the baseline's.
    public var majorityClassFailure: Bool
    public var message: String

    enum CodingKeys: String, CodingKey { case baseline, majorityClassFailure = "majority_class_failure", message }
}

/// Metrics of one set of cases.
public struct MetricTable: Sendable, Equatable, Codable {
    public var n: Int
    public var positives: Int
    public var prevalence: MetricValue
    public var confusion: ConfusionCounts
    public var metrics: [String: MetricValue]
}

public struct ReviewSummary: Sendable, Equatable, Codable {
    /// Cases sent to manual review (counted as flags in the headline confusion matrix).
    public var count: Int
    public var rate: MetricValue
    /// Of those, the cases that are truly blocked and truly patent (the review column of the report's matrix).
    public var actuallyBlocked: Int
    public var actuallyPatent: Int
    /// The metrics on the cases the model decided itself.
    public var autoDecided: MetricTable

    public init(count: Int, rate: MetricValue, actuallyBlocked: Int, actuallyPatent: Int, autoDecided: MetricTable) {
        self.count = count
        self.rate = rate
        self.actuallyBlocked = actuallyBlocked
        self.actuallyPatent = actuallyPatent
        self.autoDecided = autoDecided
    }

    enum CodingKeys: String, CodingKey {
        case count, rate, autoDecided = "auto_decided", actuallyBlocked = "actually_blocked", actuallyPatent = "actually_patent"
    }
}

/// One row of a subgroup table.
public struct SubgroupRow: Sendable, Equatable, Codable {
    public var group: String
    public var reviewRate: Double?
    public var table: MetricTable

    enum CodingKeys: String, CodingKey { case group, reviewRate = "review_rate", table }
}

public struct Subgroups: Sendable, Equatable, Codable {
    public var site: [SubgroupRow]
    public var scanner: [SubgroupRow]
    /// By calendar month (YYYY-MM) of the `date` column.
    public var month: [SubgroupRow]
}

/// Performance of "flag when P(blocked) ≥ threshold" on one split.
public struct SplitPerformance: Sendable, Equatable, Codable {
    public var split: String
    public var n: Int
    public var confusion: ConfusionCounts
    public var sensitivity: MetricValue
    public var specificity: MetricValue
    public var ppv: MetricValue
    public var npv: MetricValue
    /// Share of the split's scored cases flagged at the threshold (what a reader must look at).
    public var flaggedRate: MetricValue

    enum CodingKeys: String, CodingKey { case split, n, confusion, sensitivity, specificity, ppv, npv, flaggedRate = "flagged_rate" }
}

/// The threshold that reaches a target sensitivity.
public struct OperatingPoint: Sendable, Equatable, Codable {
    public var targetSensitivity: Double
    /// The split the threshold was chosen on ("validation", or "all" when there is none: optimistic).
    public var chosenOn: String
    /// nil when no threshold reaches the target.
    public var threshold: Double?
    public var chosen: SplitPerformance?
    /// The same threshold on the evaluated (test) split.
    public var reported: SplitPerformance?
    public var warning: String?

    enum CodingKeys: String, CodingKey {
        case targetSensitivity = "target_sensitivity", chosenOn = "chosen_on", threshold, chosen, reported, warning
    }
}

/// One other run compared with this one on the same cases.
public struct RunComparison: Sendable, Equatable, Codable {
    public var name: String
    public var n: Int
    public var sensitivity: MetricValue
    public var specificity: MetricValue
    public var auroc: MetricValue
    /// McNemar on correct/incorrect decisions, this run (a) against the other (b).
    public var mcnemar: McNemarResult
    /// DeLong on AUROC (nil when a run lacks P(blocked) for some case or a class is absent).
    public var delong: DeLongResult?
}

/// Where the numbers came from.
public struct Provenance: Sendable, Equatable, Codable {
    public var software: String
    public var softwareVersion: String
    public var mode: String
    public var model: String?
    public var modelFingerprint: String?
    public var adapters: [String]
    public var adapterFingerprints: [String]
    public var profile: String
    public var profileFingerprint: String
    public var data: String?
    public var dataFingerprint: String?
    public var predictions: String?
    public var predictionsFingerprint: String?
    /// The model is a demo model (a `DEMO_MODEL` file: trained on synthetic images); its figures have no
    /// clinical meaning. `demoNotice` is the file's text.
    public var demoModel: Bool
    public var demoNotice: String?
    /// The model is a tiny test model: its decisions are meaningless.
    public var testModel: Bool

    public init(software: String = "dsa-triage", softwareVersion: String, mode: String, model: String? = nil,
                modelFingerprint: String? = nil, adapters: [String] = [], adapterFingerprints: [String] = [], profile: String,
                profileFingerprint: String, data: String? = nil, dataFingerprint: String? = nil, predictions: String? = nil,
                predictionsFingerprint: String? = nil, demoNotice: String? = nil, testModel: Bool = false) {
        self.software = software
        self.softwareVersion = softwareVersion
        self.mode = mode
        self.model = model
        self.modelFingerprint = modelFingerprint
        self.adapters = adapters
        self.adapterFingerprints = adapterFingerprints
        self.profile = profile
        self.profileFingerprint = profileFingerprint
        self.data = data
        self.dataFingerprint = dataFingerprint
        self.predictions = predictions
        self.predictionsFingerprint = predictionsFingerprint
        self.demoModel = demoNotice != nil
        self.demoNotice = demoNotice
        self.testModel = testModel
    }

    enum CodingKeys: String, CodingKey {
        case software, mode, model, adapters, profile, data, predictions
        case demoModel = "demo_model_no_clinical_meaning", demoNotice = "demo_notice", testModel = "test_model_decisions_meaningless"
        case softwareVersion = "software_version", modelFingerprint = "model_fingerprint", adapterFingerprints = "adapter_fingerprints"
        case profileFingerprint = "profile_fingerprint", dataFingerprint = "data_fingerprint", predictionsFingerprint = "predictions_fingerprint"
    }
}

/// How many model-mode items were computed in this run and how many came from the cache.
public struct RunCounts: Sendable, Equatable, Codable {
    public var computed: Int
    public var cached: Int
    /// Items left for a later run (a --limit stopped the run).
    public var remaining: Int

    public init(computed: Int, cached: Int, remaining: Int) {
        self.computed = computed
        self.cached = cached
        self.remaining = remaining
    }
}

/// Everything `evaluation.json` holds.
public struct EvaluationResult: Sendable, Equatable, Codable {
    public var schemaVersion = 1
    public var provenance: Provenance
    /// "test" when the manifest has test rows, else "all".
    public var evaluatedSplit: String
    public var n: Int
    /// Cases with a P(blocked) (the score metrics use these).
    public var nScored: Int
    public var prevalence: MetricValue
    /// The threshold behind the decisions (the profile's); decisions from a `decision` column keep their own.
    public var threshold: Double
    /// "decision_column", "threshold" or "pipeline".
    public var decisionSource: String
    public var metrics: [String: MetricValue]
    public var confusion: ConfusionCounts
    public var review: ReviewSummary
    public var imbalance: ImbalanceCheck
    public var curves: Curves
    public var operatingPoint: OperatingPoint?
    public var subgroups: Subgroups
    public var comparisons: [RunComparison]
    public var bootstrap: BootstrapSettings
    public var run: RunCounts?
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case provenance, n, prevalence, threshold, metrics, confusion, review, imbalance, curves, subgroups, comparisons, bootstrap, run, warnings
        case schemaVersion = "schema_version", evaluatedSplit = "evaluated_split", nScored = "n_scored"
        case decisionSource = "decision_source", operatingPoint = "operating_point"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encode(provenance, forKey: .provenance)
        try c.encode(evaluatedSplit, forKey: .evaluatedSplit)
        try c.encode(n, forKey: .n)
        try c.encode(nScored, forKey: .nScored)
        try c.encode(prevalence, forKey: .prevalence)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(decisionSource, forKey: .decisionSource)
        try c.encode(metrics, forKey: .metrics)
        try c.encode(confusion, forKey: .confusion)
        try c.encode(review, forKey: .review)
        try c.encode(imbalance, forKey: .imbalance)
        try c.encode(curves, forKey: .curves)
        if let operatingPoint { try c.encode(operatingPoint, forKey: .operatingPoint) } else { try c.encodeNil(forKey: .operatingPoint) }
        try c.encode(subgroups, forKey: .subgroups)
        try c.encode(comparisons, forKey: .comparisons)
        try c.encode(bootstrap, forKey: .bootstrap)
        if let run { try c.encode(run, forKey: .run) } else { try c.encodeNil(forKey: .run) }
        try c.encode(warnings, forKey: .warnings)
    }
}

// Every key written, null where undefined (see NullEncoding.swift).
extension ROCPoint {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(fpr, forKey: .fpr)
        try box.encodeOrNull(tpr, forKey: .tpr)
        try box.encodeOrNull(threshold, forKey: .threshold)
    }
}

extension PRPoint {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(recall, forKey: .recall)
        try box.encodeOrNull(precision, forKey: .precision)
        try box.encodeOrNull(threshold, forKey: .threshold)
    }
}

extension CalibrationBin {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(lower, forKey: .lower)
        try box.encodeOrNull(upper, forKey: .upper)
        try box.encodeOrNull(count, forKey: .count)
        try box.encodeOrNull(meanPredicted, forKey: .meanPredicted)
        try box.encodeOrNull(observed, forKey: .observed)
    }
}

extension SweepRow {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(threshold, forKey: .threshold)
        try box.encodeOrNull(sensitivity, forKey: .sensitivity)
        try box.encodeOrNull(specificity, forKey: .specificity)
        try box.encodeOrNull(ppv, forKey: .ppv)
        try box.encodeOrNull(flaggedRate, forKey: .flaggedRate)
    }
}

extension MajorityBaseline {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(majorityClass, forKey: .majorityClass)
        try box.encodeOrNull(accuracy, forKey: .accuracy)
        try box.encodeOrNull(sensitivity, forKey: .sensitivity)
        try box.encodeOrNull(specificity, forKey: .specificity)
    }
}

extension OperatingPoint {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(targetSensitivity, forKey: .targetSensitivity)
        try box.encodeOrNull(chosenOn, forKey: .chosenOn)
        try box.encodeOrNull(threshold, forKey: .threshold)
        try box.encodeOrNull(chosen, forKey: .chosen)
        try box.encodeOrNull(reported, forKey: .reported)
        try box.encodeOrNull(warning, forKey: .warning)
    }
}

extension RunComparison {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(name, forKey: .name)
        try box.encodeOrNull(n, forKey: .n)
        try box.encodeOrNull(sensitivity, forKey: .sensitivity)
        try box.encodeOrNull(specificity, forKey: .specificity)
        try box.encodeOrNull(auroc, forKey: .auroc)
        try box.encodeOrNull(mcnemar, forKey: .mcnemar)
        try box.encodeOrNull(delong, forKey: .delong)
    }
}

extension Provenance {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(software, forKey: .software)
        try box.encodeOrNull(softwareVersion, forKey: .softwareVersion)
        try box.encodeOrNull(mode, forKey: .mode)
        try box.encodeOrNull(model, forKey: .model)
        try box.encodeOrNull(modelFingerprint, forKey: .modelFingerprint)
        try box.encodeOrNull(adapters, forKey: .adapters)
        try box.encodeOrNull(adapterFingerprints, forKey: .adapterFingerprints)
        try box.encodeOrNull(profile, forKey: .profile)
        try box.encodeOrNull(profileFingerprint, forKey: .profileFingerprint)
        try box.encodeOrNull(data, forKey: .data)
        try box.encodeOrNull(dataFingerprint, forKey: .dataFingerprint)
        try box.encodeOrNull(predictions, forKey: .predictions)
        try box.encodeOrNull(predictionsFingerprint, forKey: .predictionsFingerprint)
        try box.encodeOrNull(demoModel, forKey: .demoModel)
        try box.encodeOrNull(demoNotice, forKey: .demoNotice)
        try box.encodeOrNull(testModel, forKey: .testModel)
    }
}
