import Angiography
import ModelFiles
import Foundation

/// What the model is asked, how its answer is read, and how the answer becomes a decision: the whole task
/// in one JSON file. The documented default is compiled in (`TaskProfile.defaultJSON`) and shipped as
/// `profiles/default-task-profile.json`.
public struct TaskProfile: Codable, Sendable, Equatable {
    /// One answer class of the task.
    public struct Label: Codable, Sendable, Equatable {
        /// Class name: "patent" or "blocked" (the output vocabulary).
        public var name: String
        /// The answer text whose log-likelihood is scored (followed by `<end_of_turn>`).
        public var answer: String
        /// Words and phrases that, found in a generated answer (and not negated), mean this class.
        public var accepted: [String]

        public init(name: String, answer: String, accepted: [String]) {
            self.name = name
            self.answer = answer
            self.accepted = accepted
        }
    }

    /// Input quality checks; a failed check sends the case to manual review.
    public struct Quality: Codable, Sendable, Equatable {
        /// Fewest frames a DICOM run must have (PNG/JPEG inputs are single prepared images and exempt).
        public var minFrames: Int
        /// Mean 8-bit gray level below which the model image is too dark.
        public var minMeanGray: Double
        /// Standard deviation of the 8-bit gray levels below which the model image is too flat.
        public var minStdGray: Double
        /// 1st-to-99th percentile range of the 8-bit gray levels below which there is no usable contrast.
        public var minDynamicRange: Double

        public init(minFrames: Int, minMeanGray: Double, minStdGray: Double, minDynamicRange: Double) {
            self.minFrames = minFrames
            self.minMeanGray = minMeanGray
            self.minStdGray = minStdGray
            self.minDynamicRange = minDynamicRange
        }

        enum CodingKeys: String, CodingKey {
            case minFrames = "min_frames", minMeanGray = "min_mean_gray", minStdGray = "min_std_gray"
            case minDynamicRange = "min_dynamic_range"
        }
    }

    /// Free-text generation settings (modes `generate` and `both`).
    public struct Generation: Codable, Sendable, Equatable {
        /// Mode used when the command line does not choose one: "score", "generate" or "both".
        public var mode: String
        public var maxNewTokens: Int

        public init(mode: String, maxNewTokens: Int) {
            self.mode = mode
            self.maxNewTokens = maxNewTokens
        }

        enum CodingKeys: String, CodingKey { case mode, maxNewTokens = "max_new_tokens" }
    }

    /// Profile format version (1).
    public var version: Int
    /// Short name shown in the records.
    public var name: String
    /// System text placed before the prompt in the user turn (null for none), as in training.
    public var system: String?
    /// The user prompt that follows the image, as in training.
    public var prompt: String
    /// The answer classes; exactly two, one of them the positive label.
    public var labels: [Label]
    /// The class whose probability is thresholded ("blocked").
    public var positiveLabel: String
    /// blocked when P(positive) ≥ threshold.
    public var threshold: Double
    /// [low, high]: P(positive) with low ≤ P ≤ high (both edges inclusive) goes to manual review.
    public var reviewBand: [Double]
    /// How a multi-frame run becomes model images: "minip", "peak" or "every" (every: worst frame wins).
    public var frameStrategy: String
    /// Whether radiofluoroscopy runs are triaged too (angiography always is).
    public var includeRadiofluoroscopy: Bool
    public var quality: Quality
    public var generation: Generation
    /// The model card's population limit: the PACS worker skips patients younger than this (years) as
    /// "pediatric: not validated". Absent: 18.
    public var minimumPatientAgeYears: Int?
    /// P(blocked) and input statistics of the evaluation run that chose the threshold (written by
    /// `evaluate --write-profile`), the reference for monitoring's drift figures. Absent in older profiles.
    public var referenceDistribution: ProfileReferenceDistribution?

    enum CodingKeys: String, CodingKey {
        case version, name, system, prompt, labels, threshold, quality, generation
        case positiveLabel = "positive_label", reviewBand = "review_band", frameStrategy = "frame_strategy"
        case includeRadiofluoroscopy = "include_radiofluoroscopy", minimumPatientAgeYears = "minimum_patient_age_years"
        case referenceDistribution = "reference_distribution"
    }

    /// The population limit in force (`minimum_patient_age_years`, else 18).
    public var minimumPatientAge: Int { minimumPatientAgeYears ?? 18 }

    /// SHA-256 (hex) of the profile's canonical JSON without `reference_distribution`: what a job key and an SR
    /// name as the profile's identity. The reference changes no decision, so adding one reprocesses nothing (and
    /// a profile without one hashes exactly as before the key existed).
    public func contentHash() throws -> String {
        SHA256Hasher.hex(of: try decisionProfile.jsonData())
    }

    /// This profile without its reference distribution: everything that decides a case.
    public var decisionProfile: TaskProfile {
        var p = self
        p.referenceDistribution = nil
        return p
    }

    /// The label scored as the negative class.
    public var negativeLabel: String { labels.first { $0.name != positiveLabel }?.name ?? "" }

    /// The frame strategy as the angiography pipeline's type (valid profiles only).
    public var strategy: FrameStrategy { FrameStrategy(rawValue: frameStrategy) ?? .minimumIntensityProjection }

    /// This profile with a new operating threshold (e.g. one chosen for a target sensitivity). When the threshold
    /// lies above the review band, the band's upper edge moves up to it: otherwise a probability between the
    /// band and the threshold would be called patent with no review, the high-risk direction. (A threshold
    /// below the band needs nothing: probabilities between the two are called blocked.) `widened` says
    /// whether the band moved.
    public func withThreshold(_ t: Double) -> (profile: TaskProfile, widened: Bool) {
        var p = self
        p.threshold = t
        guard reviewBand.count == 2, t > reviewBand[1] else { return (p, false) }
        p.reviewBand[1] = t
        return (p, true)
    }

    /// Checks every field; the error names the profile's source and the field.
    public func validate(source: String) throws {
        func fail(_ field: String, _ reason: String) -> TriageError { .invalidProfile(file: source, field: field, reason: reason) }
        guard version == 1 else { throw fail("version", "unsupported version \(version) (this tool reads 1)") }
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw fail("prompt", "is empty") }
        guard labels.count == 2 else { throw fail("labels", "needs exactly two labels, found \(labels.count)") }
        let names = labels.map(\.name)
        guard Set(names) == Set(["patent", "blocked"]) else {
            throw fail("labels", "label names must be \"patent\" and \"blocked\", found \(names)")
        }
        for l in labels {
            guard !l.answer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw fail("labels.\(l.name).answer", "is empty") }
            guard !l.accepted.isEmpty, l.accepted.allSatisfy({ !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                throw fail("labels.\(l.name).accepted", "needs at least one non-empty word")
            }
        }
        guard labels[0].answer != labels[1].answer else { throw fail("labels", "both labels score the same answer text") }
        guard positiveLabel == "blocked" else { throw fail("positive_label", "must be \"blocked\" (the class whose misses are the high-risk error)") }
        guard threshold.isFinite, threshold > 0, threshold < 1 else { throw fail("threshold", "must lie strictly between 0 and 1, found \(threshold)") }
        guard reviewBand.count == 2, reviewBand.allSatisfy(\.isFinite) else { throw fail("review_band", "must be [low, high]") }
        guard 0 <= reviewBand[0], reviewBand[0] <= reviewBand[1], reviewBand[1] <= 1 else {
            throw fail("review_band", "needs 0 ≤ low ≤ high ≤ 1, found \(reviewBand)")
        }
        guard FrameStrategy(rawValue: frameStrategy) != nil else {
            throw fail("frame_strategy", "must be one of \(FrameStrategy.allCases.map(\.rawValue)), found \"\(frameStrategy)\"")
        }
        guard quality.minFrames >= 1 else { throw fail("quality.min_frames", "must be at least 1") }
        for (k, v) in [("min_mean_gray", quality.minMeanGray), ("min_std_gray", quality.minStdGray), ("min_dynamic_range", quality.minDynamicRange)] {
            guard v.isFinite, v >= 0, v <= 255 else { throw fail("quality.\(k)", "must lie in 0…255, found \(v)") }
        }
        guard TriageMode(rawValue: generation.mode) != nil else {
            throw fail("generation.mode", "must be score, generate or both, found \"\(generation.mode)\"")
        }
        guard generation.maxNewTokens >= 1, generation.maxNewTokens <= 512 else {
            throw fail("generation.max_new_tokens", "must lie in 1…512")
        }
        if let age = minimumPatientAgeYears, !(0...130).contains(age) {
            throw fail("minimum_patient_age_years", "must lie in 0…130, found \(age)")
        }
        if let problem = referenceDistribution?.problem() {
            throw fail("reference_distribution.\(problem.field)", problem.reason)
        }
    }

    /// The file's shape: every key the profile has, with its type. Unknown keys are errors (a misspelt
    /// `"treshold"` would otherwise leave the default threshold in force without a word).
    public static let shape: ConfigShape = .object([
        ConfigField("version", .integer),
        ConfigField("name", .string),
        ConfigField("system", .nullable(.string), required: false),
        ConfigField("prompt", .string),
        ConfigField("labels", .array(.object([
            ConfigField("name", .string), ConfigField("answer", .string), ConfigField("accepted", .array(.string)),
        ]))),
        ConfigField("positive_label", .string),
        ConfigField("threshold", .number),
        ConfigField("review_band", .array(.number)),
        ConfigField("frame_strategy", .string),
        ConfigField("include_radiofluoroscopy", .bool),
        ConfigField("minimum_patient_age_years", .integer, required: false),
        ConfigField("quality", .object([
            ConfigField("min_frames", .integer), ConfigField("min_mean_gray", .number),
            ConfigField("min_std_gray", .number), ConfigField("min_dynamic_range", .number),
        ])),
        ConfigField("generation", .object([ConfigField("mode", .string), ConfigField("max_new_tokens", .integer)])),
        ConfigField("reference_distribution", .nullable(ProfileReferenceDistribution.shape), required: false),
    ])

    /// Decodes and validates a profile: its shape first (unknown keys, missing keys and wrong types name
    /// the key path), then every value.
    public static func decode(_ data: Data, source: String) throws -> TaskProfile {
        do { try shape.check(data) } catch {
            throw TriageError.invalidProfile(file: source, field: error.path, reason: error.reason)
        }
        let profile: TaskProfile
        do {
            profile = try JSONDecoder().decode(TaskProfile.self, from: data)
        } catch let e as DecodingError {
            throw TriageError.invalidProfile(file: source, field: Self.path(of: e), reason: Self.describe(e))
        }
        try profile.validate(source: source)
        return profile
    }

    /// Reads and validates a profile file.
    public static func load(path: String) throws -> TaskProfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TriageError.invalidProfile(file: path, field: "-", reason: "cannot read the file")
        }
        return try decode(data, source: path)
    }

    /// The compiled-in default profile.
    public static let standard: TaskProfile = {
        // The literal is checked by the tests (it decodes, validates and equals the shipped file).
        (try? decode(Data(defaultJSON.utf8), source: "compiled-in default profile"))!
    }()

    /// JSON encoding with sorted keys, for writing a profile out.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }

    static func path(of e: DecodingError) -> String {
        let ctx: DecodingError.Context
        switch e {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): ctx = c
        case .keyNotFound(let k, let c): return (c.codingPath + [k]).map(\.stringValue).joined(separator: ".")
        @unknown default: return "-"
        }
        let p = ctx.codingPath.map(\.stringValue).joined(separator: ".")
        return p.isEmpty ? "-" : p
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case .keyNotFound: return "missing field"
        case .typeMismatch(let t, _): return "wrong type (expected \(t))"
        case .valueNotFound(let t, _): return "null where a \(t) is needed"
        case .dataCorrupted(let c): return "not valid JSON: \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

/// Which model outputs a triage uses.
public enum TriageMode: String, Sendable, Codable, CaseIterable {
    /// Label scoring only (no free text).
    case score
    /// Greedy generation, read by the strict answer parser.
    case generate
    /// Both; a disagreement goes to manual review.
    case both
}

extension TaskProfile {
    /// The documented default profile; identical (as JSON values) to profiles/default-task-profile.json.
    public static let defaultJSON = #"""
    {
      "version": 1,
      "name": "dsa-occlusion-v1",
      "system": "You are an expert interventional neuroradiologist reading digital subtraction angiography.",
      "prompt": "Is there a vessel occlusion in this digital subtraction angiogram? Answer with one word: patent or blocked.",
      "labels": [
        {
          "name": "patent",
          "answer": "patent",
          "accepted": ["patent", "open", "unobstructed", "normal", "no occlusion", "normal filling"]
        },
        {
          "name": "blocked",
          "answer": "blocked",
          "accepted": ["blocked", "occluded", "occlusion", "occlusive", "obstructed", "obstruction", "cut-off", "cutoff", "cut off", "thrombus", "thrombosis", "stenosis", "stenotic", "filling defect", "abrupt termination"]
        }
      ],
      "positive_label": "blocked",
      "threshold": 0.35,
      "review_band": [0.2, 0.6],
      "frame_strategy": "minip",
      "include_radiofluoroscopy": false,
      "minimum_patient_age_years": 18,
      "quality": {
        "min_frames": 2,
        "min_mean_gray": 20,
        "min_std_gray": 3,
        "min_dynamic_range": 24
      },
      "generation": {
        "mode": "score",
        "max_new_tokens": 24
      }
    }
    """#
}

extension TaskProfile {
    /// This profile with an operating point's threshold (kept inside (0, 1): 0.0001…0.9999), checked as a
    /// profile read from `source` would be; `widened` as in `withThreshold`.
    public func atOperatingPoint(_ threshold: Double, source: String) throws -> (profile: TaskProfile, widened: Bool) {
        let (p, widened) = withThreshold(min(max(threshold, 0.0001), 0.9999))
        try p.validate(source: source)
        return (p, widened)
    }
}
