import DICOM

/// SOP Class UIDs the routing rules name directly.
public enum AngiographySOPClass {
    public static let xRayAngiographicImageStorage = "1.2.840.10008.5.1.4.1.1.12.1"
    public static let enhancedXAImageStorage = "1.2.840.10008.5.1.4.1.1.12.1.1"
    public static let xRayRadiofluoroscopicImageStorage = "1.2.840.10008.5.1.4.1.1.12.2"
    public static let enhancedXRFImageStorage = "1.2.840.10008.5.1.4.1.1.12.2.1"
}

/// Which X-ray classes are triaged. Angiography always is; radiofluoroscopy only when asked for, because
/// RF runs are mostly non-vascular (swallows, urography) and the model was not made for them.
public struct RoutingPolicy: Sendable, Equatable {
    public var includeRadiofluoroscopic: Bool

    public init(includeRadiofluoroscopic: Bool = false) {
        self.includeRadiofluoroscopic = includeRadiofluoroscopic
    }
}

/// Whether a file goes to triage, and why.
public struct RouteDecision: Sendable, Equatable {
    public enum Route: String, Sendable { case triage, skip }

    public var route: Route
    /// Short machine-friendly reason: "in-scope modality", "out-of-scope modality", "missing SOP Class UID".
    public var reason: String
    /// A human sentence with the SOP class name and anything odd noticed (never patient data).
    public var detail: String
    public var sopClassUID: String?
    public var sopClassName: String?

    public static let inScope = "in-scope modality"
    public static let outOfScope = "out-of-scope modality"
    public static let missingSOPClass = "missing SOP Class UID"
}

/// Decides from the SOP class (the IOD defines what the pixels are), with Modality as a cross-check.
///
/// A file whose SOP class is XA but whose Modality says something else is routed by its SOP class: the XA
/// IOD fixes the pixel structure and the angiographic attributes the pipeline relies on, and Modality is
/// more often mis-set by a converter than the SOP class. The disagreement is written into `detail`.
public struct ScopeRouter: Sendable {
    public var policy: RoutingPolicy

    public init(policy: RoutingPolicy = RoutingPolicy()) { self.policy = policy }

    /// The SOP Class UID of a file: the dataset's, else the file meta's Media Storage SOP Class UID.
    public static func sopClassUID(of file: DICOMFile) -> String? {
        if let s = file.dataset.string(.sopClassUID), !s.isEmpty { return s }
        if let s = file.meta.string(.mediaStorageSOPClassUID), !s.isEmpty { return s }
        return nil
    }

    public func decide(_ file: DICOMFile) -> RouteDecision {
        decide(sopClassUID: Self.sopClassUID(of: file), modality: file.dataset.string(.modality))
    }

    public func decide(sopClassUID: String?, modality: String?) -> RouteDecision {
        // Only defined terms reach the detail text; anything else could be free text (a name).
        let modality = DefinedTerms.modality(modality)
        guard let uid = sopClassUID else {
            return RouteDecision(route: .skip, reason: RouteDecision.missingSOPClass,
                                 detail: "no SOP Class UID in the dataset or the file meta" + (modality.map { " (Modality \($0))" } ?? ""),
                                 sopClassUID: nil, sopClassName: nil)
        }
        let entry = SOPClassTable.entry(uid)
        let name = entry?.name ?? "unknown SOP class"
        let inScope: Bool
        var detail: String
        switch entry?.family {
        case .angiography?:
            inScope = true
            detail = "\(name) is triaged"
        case .radiofluoroscopy?:
            inScope = policy.includeRadiofluoroscopic
            detail = inScope ? "\(name) is triaged (radiofluoroscopy enabled)"
                : "\(name) is triaged only when radiofluoroscopy is enabled"
        case .other?, nil:
            inScope = false
            detail = "\(name) (\(DefinedTerms.uid(uid)))" + (modality.map { ", Modality \($0)," } ?? "") + " is not angiography"
        }
        if inScope, let m = modality, let expected = entry?.modality, m != expected {
            detail += "; Modality \(m) disagrees with the SOP class (expected \(expected)); routed by SOP class"
        }
        return RouteDecision(route: inScope ? .triage : .skip,
                             reason: inScope ? RouteDecision.inScope : RouteDecision.outOfScope,
                             detail: detail, sopClassUID: uid, sopClassName: entry?.name)
    }
}
