import Foundation
import ModelFiles

/// One result line: one DICOM series, one PNG/JPEG image, one unusable file, or (`--group study`) one study. Carries no patient identifiers: UIDs are
/// hashed, and names, IDs, birth dates and accession numbers are never read into it.
public struct TriageRecord: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// The model saw it and a decision was made.
        case processed
        /// Out of scope (not angiography, not an image); counts as handled.
        case skipped
        /// Could not be read or run; the batch went on.
        case error
    }

    public enum Kind: String, Sendable, Codable {
        case dicomSeries = "dicom_series"
        case image
        case file
        /// One study's verdict over its series (`--group study`): the worst of them.
        case study
    }

    /// Timings in seconds.
    public struct Timings: Sendable, Codable, Equatable {
        /// Reading, routing, subtraction and frame composition.
        public var input: Double = 0
        /// Image preprocessing and the vision tower.
        public var vision: Double = 0
        /// The prompt pass through the decoder.
        public var prefill: Double = 0
        /// Label scoring after the prefill.
        public var scoring: Double = 0
        /// Greedy generation after the prefill.
        public var generation: Double = 0
        public var total: Double = 0

        public init() {}

        enum CodingKeys: String, CodingKey {
            case input = "input_s", vision = "vision_s", prefill = "prefill_s", scoring = "scoring_s"
            case generation = "generation_s", total = "total_s"
        }

        mutating func add(_ o: Timings) {
            input += o.input; vision += o.vision; prefill += o.prefill; scoring += o.scoring; generation += o.generation
        }
    }

    /// One model image's outcome (a run, or one frame under the "every" strategy).
    public struct ImageResult: Sendable, Codable, Equatable {
        /// Hashed SOP Instance UID of the run (nil for PNG/JPEG).
        public var instance: String?
        /// 1-based frames the image was made from (empty for PNG/JPEG).
        public var frames: [Int]
        public var pBlocked: Double?
        public var labelProbabilities: [String: Double]?
        public var labelLogprobs: [String: Double]?
        public var generatedText: String?
        public var parsedAnswer: ParsedAnswer?
        public var quality: QualityReport
        public var decision: TriageLabel
        public var reasons: [String]
        /// File name of the model input image written by `--save-images` (nil when not saved).
        public var savedImage: String? = nil
        /// The image checked against the model's input-domain record (nil: the model has none).
        public var domain: DomainCheckResult? = nil

        enum CodingKeys: String, CodingKey {
            case instance, frames, quality, decision, reasons, domain, savedImage = "saved_image"
            case pBlocked = "p_blocked", labelProbabilities = "label_probabilities", labelLogprobs = "label_logprobs"
            case generatedText = "generated_text", parsedAnswer = "parsed_answer"
        }
    }

    /// One series of a study record: its hashed UID and outcome.
    public struct SeriesOutcome: Sendable, Codable, Equatable {
        public var seriesUIDHash: String?
        public var status: Status
        public var decision: TriageLabel?
        public var pBlocked: Double?

        enum CodingKeys: String, CodingKey {
            case status, decision, seriesUIDHash = "series_uid_hash", pBlocked = "p_blocked"
        }
    }

    /// The command-line argument (file or folder) the unit came from, as typed (a name that is not UTF-8
    /// in `EscapedPath`'s form).
    public var input: String
    public var kind: Kind
    public var status: Status
    /// The files of the unit (a series' instances in order).
    public var files: [String]
    public var studyUIDHash: String?
    public var seriesUIDHash: String?
    public var instanceUIDHashes: [String]
    public var modality: String?
    /// "triage", "skip", or nil when the input could not be routed.
    public var route: String?
    public var routeReason: String?
    /// Frames behind each model image, per image.
    public var framesUsed: [[Int]]
    /// The worst image's P(blocked) (the highest), nil when not scored.
    public var pBlocked: Double?
    public var labelProbabilities: [String: Double]?
    /// nil for skipped and error records.
    public var decision: TriageLabel?
    public var reasons: [String]
    public var images: [ImageResult]
    public var mode: TriageMode
    public var profile: String
    public var modelFingerprint: String
    public var adapterFingerprint: String?
    /// True when the model is the tiny test model: its decisions mean nothing.
    public var testModel: Bool
    /// True when the model is a demo model trained on synthetic images: its decisions have no clinical meaning.
    public var demoModel: Bool
    public var error: String?
    public var timings: Timings
    /// Study records only: the study's series, in record order.
    public var series: [SeriesOutcome]? = nil
    /// Whether every model image was checked against an input-domain record (false when the model has none).
    public var domainChecked: Bool = false
    /// Whether every model image lay inside the training domain; nil when not checked.
    public var inTrainingDomain: Bool? = nil
    /// PACS worker only: true when the patient's age could not be read, so the population limit (no
    /// children) was not checked; nil when checked or not applicable. The age itself is never recorded.
    public var patientAgeUnknown: Bool? = nil

    enum CodingKeys: String, CodingKey {
        case input, kind, status, files, modality, route, decision, reasons, images, mode, profile, error, timings
        case studyUIDHash = "study_uid_hash", seriesUIDHash = "series_uid_hash", instanceUIDHashes = "instance_uid_hashes"
        case routeReason = "route_reason", framesUsed = "frames_used", pBlocked = "p_blocked"
        case labelProbabilities = "label_probabilities", modelFingerprint = "model_fingerprint"
        case adapterFingerprint = "adapter_fingerprint", testModel = "test_model_decisions_meaningless"
        case demoModel = "demo_model_no_clinical_meaning"
        case series
        case domainChecked = "domain_checked", inTrainingDomain = "in_training_domain"
        case patientAgeUnknown = "patient_age_unknown"
    }

    /// The record as one JSON line (sorted keys).
    public func jsonLine() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }
}
