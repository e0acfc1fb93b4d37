/// Everything the HTML evaluation report shows, and nothing else: the page is a pure function of this value.
/// It holds summary numbers and aggregate tables only, never per-case identifiers.
public struct ReportDocument: Sendable, Codable, Equatable {
    /// Page heading, e.g. "dsa-triage evaluation".
    public var title: String
    /// One line under the heading, e.g. "test split, 412 series".
    public var subtitle: String?
    /// Provenance shown as a definition list: model, adapter, profile, data fingerprints, software version, date.
    public var provenance: [ReportField]
    /// Free-text notes shown under the provenance.
    public var notes: [String]
    /// Shown first, in a red box (e.g. the imbalance failure: high accuracy with near-zero sensitivity).
    public var warnings: [String]
    /// Headline metrics table.
    public var metrics: [ReportMetric]
    /// The majority-class baseline, shown beside the headline metrics.
    public var baseline: ReportBaseline?
    /// The decision confusion matrix ("blocked" is the positive class; manual reviews count as flags).
    public var confusion: ConfusionCounts?
    /// Of the flags in `confusion`, the manual reviews by truth: shown as a column of their own.
    public var reviews: ReportReviewCounts?
    /// The probability threshold the decisions used.
    public var threshold: Double?
    public var roc: ReportROC?
    public var pr: ReportPR?
    public var calibration: ReportCalibration?
    public var thresholdSweep: ReportThresholdSweep?
    /// Per site, per scanner, over time, on auto-decided cases only, ...
    public var subgroupTables: [ReportTable]
    /// Runs side by side with their paired tests.
    public var comparisonTables: [ReportTable]

    public init(title: String, subtitle: String? = nil, provenance: [ReportField] = [], notes: [String] = [],
                warnings: [String] = [], metrics: [ReportMetric] = [], baseline: ReportBaseline? = nil,
                confusion: ConfusionCounts? = nil, reviews: ReportReviewCounts? = nil, threshold: Double? = nil, roc: ReportROC? = nil,
                pr: ReportPR? = nil, calibration: ReportCalibration? = nil,
                thresholdSweep: ReportThresholdSweep? = nil, subgroupTables: [ReportTable] = [],
                comparisonTables: [ReportTable] = []) {
        self.title = title
        self.subtitle = subtitle
        self.provenance = provenance
        self.notes = notes
        self.warnings = warnings
        self.metrics = metrics
        self.baseline = baseline
        self.confusion = confusion
        self.reviews = reviews
        self.threshold = threshold
        self.roc = roc
        self.pr = pr
        self.calibration = calibration
        self.thresholdSweep = thresholdSweep
        self.subgroupTables = subgroupTables
        self.comparisonTables = comparisonTables
    }
}

/// One labelled line of provenance ("Model" → "medgemma-1.5-4b-it (sha256 1a2b…)").
public struct ReportField: Sendable, Codable, Equatable {
    public var label: String
    public var value: String
    public init(_ label: String, _ value: String) {
        self.label = label
        self.value = value
    }
}

/// How a number is written on the page.
public enum ReportNumberFormat: String, Sendable, Codable, Equatable {
    /// A proportion in [0, 1] written as a percentage with one decimal ("94.7%").
    case percent
    /// Three decimals ("0.912"): AUROC, MCC, Brier score.
    case decimal
    /// A whole number.
    case count
}

/// One row of the headline metrics table. `nil` or non-finite values are written "not defined".
public struct ReportMetric: Sendable, Codable, Equatable {
    public var name: String
    public var value: Double?
    public var ciLow: Double?
    public var ciHigh: Double?
    public var format: ReportNumberFormat
    /// Short remark shown in the last column (e.g. "Wilson", "stratified bootstrap, 2000 resamples").
    public var note: String?

    public init(name: String, value: Double?, ciLow: Double? = nil, ciHigh: Double? = nil,
                format: ReportNumberFormat = .percent, note: String? = nil) {
        self.name = name
        self.value = value
        self.ciLow = ciLow
        self.ciHigh = ciHigh
        self.format = format
        self.note = note
    }
}

/// The majority-class baseline: what always predicting the more frequent class scores.
public struct ReportBaseline: Sendable, Codable, Equatable {
    /// "patent" or "blocked".
    public var majorityClass: String
    public var accuracy: Double?
    public var sensitivity: Double?
    public var specificity: Double?

    public init(majorityClass: String, accuracy: Double?, sensitivity: Double?, specificity: Double?) {
        self.majorityClass = majorityClass
        self.accuracy = accuracy
        self.sensitivity = sensitivity
        self.specificity = specificity
    }
}

/// One point of the ROC curve.
public struct ReportROCPoint: Sendable, Codable, Equatable {
    public var fpr: Double
    public var tpr: Double
    public init(fpr: Double, tpr: Double) {
        self.fpr = fpr
        self.tpr = tpr
    }
}

/// One point of the precision-recall curve.
public struct ReportPRPoint: Sendable, Codable, Equatable {
    public var recall: Double
    public var precision: Double
    public init(recall: Double, precision: Double) {
        self.recall = recall
        self.precision = precision
    }
}

/// The ROC curve in drawing order, its area, and the operating point of the decisions shown.
public struct ReportROC: Sendable, Codable, Equatable {
    public var points: [ReportROCPoint]
    public var auroc: Double?
    public var operatingPoint: ReportROCPoint?
    public init(points: [ReportROCPoint], auroc: Double?, operatingPoint: ReportROCPoint? = nil) {
        self.points = points
        self.auroc = auroc
        self.operatingPoint = operatingPoint
    }
}

/// The precision-recall curve, its area, and the prevalence (the precision of a no-skill classifier).
public struct ReportPR: Sendable, Codable, Equatable {
    public var points: [ReportPRPoint]
    public var auprc: Double?
    public var prevalence: Double?
    public var operatingPoint: ReportPRPoint?
    public init(points: [ReportPRPoint], auprc: Double?, prevalence: Double?, operatingPoint: ReportPRPoint? = nil) {
        self.points = points
        self.auprc = auprc
        self.prevalence = prevalence
        self.operatingPoint = operatingPoint
    }
}

/// One reliability bin: mean predicted P(blocked), observed fraction blocked, number of cases.
public struct ReportCalibrationBin: Sendable, Codable, Equatable {
    public var meanPredicted: Double
    public var observed: Double
    public var count: Int
    public init(meanPredicted: Double, observed: Double, count: Int) {
        self.meanPredicted = meanPredicted
        self.observed = observed
        self.count = count
    }
}

/// The reliability diagram and its expected calibration error.
public struct ReportCalibration: Sendable, Codable, Equatable {
    public var bins: [ReportCalibrationBin]
    public var ece: Double?
    public init(bins: [ReportCalibrationBin], ece: Double?) {
        self.bins = bins
        self.ece = ece
    }
}

/// One threshold of the sweep; `flaggedRate` is the share of cases with P(blocked) ≥ the threshold.
public struct ReportSweepPoint: Sendable, Codable, Equatable {
    public var threshold: Double
    public var sensitivity: Double
    public var specificity: Double
    public var flaggedRate: Double?
    public init(threshold: Double, sensitivity: Double, specificity: Double, flaggedRate: Double? = nil) {
        self.threshold = threshold
        self.sensitivity = sensitivity
        self.specificity = specificity
        self.flaggedRate = flaggedRate
    }
}

/// Sensitivity and specificity against the threshold, with the chosen operating point.
public struct ReportThresholdSweep: Sendable, Codable, Equatable {
    public var points: [ReportSweepPoint]
    /// The threshold in use, marked on the chart.
    public var chosenThreshold: Double?
    /// The sensitivity the threshold was chosen to reach, drawn as a horizontal guide.
    public var targetSensitivity: Double?
    /// The run's real manual-review rate (set by the review band, not by the threshold), drawn as a guide.
    public var manualReviewRate: Double?
    public init(points: [ReportSweepPoint], chosenThreshold: Double?, targetSensitivity: Double? = nil, manualReviewRate: Double? = nil) {
        self.points = points
        self.chosenThreshold = chosenThreshold
        self.targetSensitivity = targetSensitivity
        self.manualReviewRate = manualReviewRate
    }
}

/// A plain table of already formatted cells (subgroups, comparisons).
public struct ReportTable: Sendable, Codable, Equatable {
    public var title: String
    public var caption: String?
    public var headers: [String]
    public var rows: [[String]]
    public init(title: String, caption: String? = nil, headers: [String], rows: [[String]]) {
        self.title = title
        self.caption = caption
        self.headers = headers
        self.rows = rows
    }
}

/// Manual-review decisions split by truth (they are counted as flags in the confusion matrix).
public struct ReportReviewCounts: Sendable, Codable, Equatable {
    public var actuallyBlocked: Int
    public var actuallyPatent: Int
    public init(actuallyBlocked: Int, actuallyPatent: Int) {
        self.actuallyBlocked = actuallyBlocked
        self.actuallyPatent = actuallyPatent
    }
}
