import DICOM
import Foundation

/// The triage outcome as the report codes it.
public enum PatencyDecision: String, Sendable, CaseIterable, Codable {
    case patent
    case blocked
    /// Not decided by the model: indeterminate, for a person to read.
    case manualReview = "manual_review"

    /// The coded value of the "Vessel patency" evaluation.
    public var code: SRCode {
        switch self {
        case .patent: return SRCodes.patent
        case .blocked: return SRCodes.blocked
        case .manualReview: return SRCodes.manualReview
        }
    }
}

/// The algorithm that made the observation (TID 4019 and the device observer of TID 1004).
public struct AlgorithmIdentification: Sendable, Equatable, Codable {
    /// Algorithm Name, e.g. "dsa-triage vessel patency".
    public var name: String
    /// Algorithm Version: the software version.
    public var version: String
    /// The model's fingerprint (as in the triage record, e.g. "sha256:…").
    public var modelFingerprint: String
    /// The adapter's fingerprint; nil when a merged model or no adapter was used.
    public var adapterFingerprint: String?
    /// The task profile's name and the hash of its content.
    public var profileName: String
    public var profileHash: String
    /// Device Observer Manufacturer and General Equipment Manufacturer.
    public var manufacturer: String

    public init(name: String, version: String, modelFingerprint: String, adapterFingerprint: String?,
                profileName: String, profileHash: String, manufacturer: String = "dsa-triage project") {
        self.name = name
        self.version = version
        self.modelFingerprint = modelFingerprint
        self.adapterFingerprint = adapterFingerprint
        self.profileName = profileName
        self.profileHash = profileHash
        self.manufacturer = manufacturer
    }

    /// The Algorithm Parameters (111002) items, one "name=value" text each.
    public var parameters: [String] {
        var p = ["model_fingerprint=" + modelFingerprint]
        p.append("adapter_fingerprint=" + (adapterFingerprint ?? "none"))
        p.append("profile_name=" + profileName)
        p.append("profile_hash=" + profileHash)
        return p
    }
}

/// One source instance the decision used: the evidence the report references.
public struct SourceInstance: Sendable, Equatable, Codable {
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var seriesInstanceUID: String
    /// The frames used, as DICOM frame numbers (1-based, Referenced Frame Number); empty: the whole instance.
    public var frameNumbers: [Int]

    public init(sopClassUID: String, sopInstanceUID: String, seriesInstanceUID: String, frameNumbers: [Int]) {
        self.sopClassUID = sopClassUID
        self.sopInstanceUID = sopInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.frameNumbers = frameNumbers
    }

    /// The identity of `dataset` (an instance of the triaged series) with the frames used.
    public init(dataset: DICOMDataset, frameNumbers: [Int]) throws(StructuredReportError) {
        self.init(sopClassUID: try SourceModules.uid(dataset, .sopClassUID, "SOPClassUID"),
                  sopInstanceUID: try SourceModules.uid(dataset, .sopInstanceUID, "SOPInstanceUID"),
                  seriesInstanceUID: try SourceModules.uid(dataset, .seriesInstanceUID, "SeriesInstanceUID"),
                  frameNumbers: frameNumbers)
    }
}

/// Everything a patency report holds. The source dataset is only read in memory: its patient and study module
/// values are copied into the report dataset and appear nowhere else (not in errors, not in logs).
public struct PatencyReportInput: Sendable {
    /// An instance of the triaged series (any one: the patient and study modules are the same across it).
    public var source: DICOMDataset
    /// The instances and frames the decision used.
    public var evidence: [SourceInstance]
    public var decision: PatencyDecision
    /// P(blocked) in [0, 1]; nil when no probability was computed (the numeric item then says so).
    public var pBlocked: Double?
    /// The decision policy's reasons, in order.
    public var reasons: [String]
    public var algorithm: AlgorithmIdentification
    /// The job's idempotency key; the report's SOP Instance and Series Instance UIDs are derived from it.
    public var jobKey: String
    /// When the result was produced (Content Date/Time and Instance Creation Date/Time).
    public var contentDateTime: Date
    /// The time zone the dates are written in (with Timezone Offset From UTC).
    public var timeZone: TimeZone
    /// Series Number of the SR series (results of this worker are kept apart from the acquisitions).
    public var seriesNumber: Int

    public init(source: DICOMDataset, evidence: [SourceInstance], decision: PatencyDecision, pBlocked: Double?,
                reasons: [String], algorithm: AlgorithmIdentification, jobKey: String, contentDateTime: Date,
                timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current, seriesNumber: Int = 9901) {
        self.source = source
        self.evidence = evidence
        self.decision = decision
        self.pBlocked = pBlocked
        self.reasons = reasons
        self.algorithm = algorithm
        self.jobKey = jobKey
        self.contentDateTime = contentDateTime
        self.timeZone = timeZone
        self.seriesNumber = seriesNumber
    }
}

/// A reviewer's verification of a report (the review worklist): who, for which organization, and when.
public struct ReviewerVerification: Sendable, Equatable {
    /// What the reviewer read: the vessel patent or blocked, or the study non-diagnostic.
    public enum Assessment: String, Sendable, Equatable {
        case patent, blocked
        case nonDiagnostic = "non_diagnostic"
    }

    /// Verifying Observer Name in DICOM person-name form ("Family^Given").
    public var observerName: String
    public var organization: String
    public var dateTime: Date
    public var timeZone: TimeZone
    /// The reviewer's own reading, written into the verified report beside the model's (nil: none stated).
    public var assessment: Assessment?
    /// The reviewer's comment, if any.
    public var comment: String?

    public init(observerName: String, organization: String, dateTime: Date,
                timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current, assessment: Assessment? = nil, comment: String? = nil) {
        self.observerName = observerName
        self.organization = organization
        self.dateTime = dateTime
        self.timeZone = timeZone
        self.assessment = assessment
        self.comment = comment
    }
}
