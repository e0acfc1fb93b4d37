import Foundation
import Hummingbird

/// The PS3.18 Store Instances Response Module (Annex I) as a DICOM JSON model object, and the status that
/// goes with it (PS3.18 Table 10.5.3-1): 200 when every instance was stored without warning, 202 when some
/// were stored and others failed or carry warnings, 409 when none was stored.
public struct StowResponse: Sendable, Equatable {
    public var outcomes: [StowPartOutcome]
    /// The study's URL (`…/dicom-web/studies/{study}`) when the request named the study; nil otherwise (the
    /// RetrieveURL is then sent empty, which its Type 2 allows).
    public var studyURL: String?

    public init(outcomes: [StowPartOutcome], studyURL: String?) {
        self.outcomes = outcomes
        self.studyURL = studyURL
    }

    /// Instances the sink stored (acknowledged in ReferencedSOPSequence).
    public var storedCount: Int {
        outcomes.reduce(0) { count, outcome in
            if case .stored = outcome { return count + 1 }
            return count
        }
    }

    /// Parts that failed (listed in FailedSOPSequence).
    public var failedCount: Int { outcomes.count - storedCount }

    private var warningCount: Int {
        outcomes.reduce(0) { count, outcome in
            if case .stored(_, _, .some) = outcome { return count + 1 }
            return count
        }
    }

    /// 200, 202 or 409 per PS3.18.
    public var status: HTTPResponse.Status {
        if storedCount == 0 { return .conflict }
        if failedCount > 0 || warningCount > 0 { return .accepted }
        return .ok
    }

    /// The DICOM JSON object: RetrieveURL (0008,1190) when anything was stored, ReferencedSOPSequence
    /// (0008,1199) and FailedSOPSequence (0008,1198) when not empty.
    public var dicomJSON: [String: Any] {
        var object: [String: Any] = [:]
        var referenced: [[String: Any]] = []
        var failed: [[String: Any]] = []
        for outcome in outcomes {
            switch outcome {
            case .stored(let sopClass, let sopInstance, let warning):
                var item: [String: Any] = [
                    "00081150": Self.element("UI", sopClass),
                    "00081155": Self.element("UI", sopInstance),
                    // Type 2: this worker serves no WADO-RS, so an instance has no retrieve URL of its own.
                    "00081190": ["vr": "UR"],
                ]
                if let warning { item["00081196"] = ["vr": "US", "Value": [Int(warning)]] }
                referenced.append(item)
            case .failed(let sopClass, let sopInstance, let reason, _):
                var item: [String: Any] = ["00081197": ["vr": "US", "Value": [Int(reason)]]]
                if let sopClass { item["00081150"] = Self.element("UI", sopClass) }
                if let sopInstance { item["00081155"] = Self.element("UI", sopInstance) }
                failed.append(item)
            }
        }
        if !referenced.isEmpty {
            object["00081190"] = studyURL.map { Self.element("UR", $0) } ?? ["vr": "UR"]
            object["00081199"] = ["vr": "SQ", "Value": referenced]
        }
        if !failed.isEmpty { object["00081198"] = ["vr": "SQ", "Value": failed] }
        return object
    }

    /// The HTTP response (`application/dicom+json`).
    public func response() -> Response {
        JSONResponse.make(status, dicomJSON, contentType: "application/dicom+json")
    }

    private static func element(_ vr: String, _ value: String) -> [String: Any] {
        ["vr": vr, "Value": [value]]
    }
}
