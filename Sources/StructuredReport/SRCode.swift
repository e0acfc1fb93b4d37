/// A coded concept (PS3.3 Table 8.8-1 Code Sequence Macro): value, scheme designator and meaning.
public struct SRCode: Sendable, Hashable, CustomStringConvertible {
    public let value: String
    public let scheme: String
    public let meaning: String

    public init(_ value: String, _ scheme: String, _ meaning: String) {
        self.value = value
        self.scheme = scheme
        self.meaning = meaning
    }

    public var description: String { "(\(value), \(scheme), \"\(meaning)\")" }
}

/// Every code the patency report uses. Standard codes (DCM, SCT, UCUM, UMLS, RFC5646) are as PS3.16 lists
/// them; concepts PS3.16 has no code for are in this project's private scheme `99DSATRIAGE`, declared in the
/// report's Coding Scheme Identification Sequence and documented in docs/STRUCTURED_REPORT.md.
public enum SRCodes {
    // MARK: Private coding scheme

    /// Designator of this project's private coding scheme (PS3.16 §8.2: private schemes start with "99").
    public static let privateScheme = "99DSATRIAGE"
    /// Its UID (Coding Scheme UID is required for schemes PS3.16 does not list); derived like every other
    /// UID here, from the fixed key "99DSATRIAGE".
    public static let privateSchemeUID = DerivedUID.uid(for: privateScheme, purpose: .codingScheme)
    public static let privateSchemeName = "dsa-triage vessel patency triage codes"
    public static let privateSchemeResponsibleOrganization = "dsa-triage project"

    /// Concept name of the qualitative evaluation; its values are `patent`, `blocked` and `manualReview`.
    public static let vesselPatency = SRCode("DSAT001", privateScheme, "Vessel patency")
    public static let patent = SRCode("DSAT002", privateScheme, "Patent vessel")
    public static let blocked = SRCode("DSAT003", privateScheme, "Blocked vessel")
    public static let manualReview = SRCode("DSAT004", privateScheme, "Indeterminate, for manual review")
    /// Concept name of the numeric item: the model's probability that the vessel is blocked.
    public static let probabilityBlocked = SRCode("DSAT005", privateScheme, "Probability of blocked vessel")
    /// Concept name of each reason the decision policy gave.
    public static let decisionReason = SRCode("DSAT006", privateScheme, "Triage decision reason")
    /// Concept name of the statement that the report is decision support, not a diagnosis.
    public static let decisionSupportNotice = SRCode("DSAT007", privateScheme, "Decision support notice")
    /// Concept name of the verifying reviewer's own reading (verified reports).
    public static let reviewerAssessment = SRCode("DSAT008", privateScheme, "Reviewer assessment of vessel patency")
    /// The reviewer found the study non-diagnostic for patency.
    public static let nonDiagnostic = SRCode("DSAT009", privateScheme, "Non-diagnostic for vessel patency")
    /// Concept name of the reviewer's free-text comment.
    public static let reviewerComment = SRCode("DSAT010", privateScheme, "Reviewer comment")

    // MARK: DICOM (DCM)

    public static let imagingMeasurementReport = SRCode("126000", "DCM", "Imaging Measurement Report")
    public static let languageOfContent = SRCode("121049", "DCM", "Language of Content Item and Descendants")
    public static let observerType = SRCode("121005", "DCM", "Observer Type")
    public static let device = SRCode("121007", "DCM", "Device")
    public static let deviceObserverUID = SRCode("121012", "DCM", "Device Observer UID")
    public static let deviceObserverName = SRCode("121013", "DCM", "Device Observer Name")
    public static let deviceObserverManufacturer = SRCode("121014", "DCM", "Device Observer Manufacturer")
    public static let deviceObserverModelName = SRCode("121015", "DCM", "Device Observer Model Name")
    public static let procedureReported = SRCode("121058", "DCM", "Procedure reported")
    public static let imageLibrary = SRCode("111028", "DCM", "Image Library")
    public static let imageLibraryGroup = SRCode("126200", "DCM", "Image Library Group")
    public static let imagingMeasurements = SRCode("126010", "DCM", "Imaging Measurements")
    public static let measurementGroup = SRCode("125007", "DCM", "Measurement Group")
    public static let trackingIdentifier = SRCode("112039", "DCM", "Tracking Identifier")
    public static let trackingUniqueIdentifier = SRCode("112040", "DCM", "Tracking Unique Identifier")
    public static let algorithmName = SRCode("111001", "DCM", "Algorithm Name")
    public static let algorithmVersion = SRCode("111003", "DCM", "Algorithm Version")
    public static let algorithmParameters = SRCode("111002", "DCM", "Algorithm Parameters")
    /// Numeric Value Qualifier (CID 42) when no probability was computed.
    public static let measurementNotAttempted = SRCode("114007", "DCM", "Measurement not attempted")

    // MARK: Other standard schemes

    /// CID 100 "Quantitative Diagnostic Imaging Procedure".
    public static let angiography = SRCode("77343006", "SCT", "Angiography")
    /// CID 5000 "Language".
    public static let english = SRCode("en", "RFC5646", "English")
    /// CID 7181: the unit of a probability.
    public static let ratioUnit = SRCode("{ratio}", "UCUM", "ratio")
}
