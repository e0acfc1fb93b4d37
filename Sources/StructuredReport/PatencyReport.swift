import DICOM
import FileAccess
import Foundation

/// A Comprehensive SR (1.2.840.10008.5.1.4.1.1.88.33) holding one triaged series' vessel patency result in a
/// TID 1500-style Measurement Report. Its tree is drawn in docs/STRUCTURED_REPORT.md.
///
/// The SOP Instance and Series Instance UIDs derive from the job key (`DerivedUID`), so encoding the same input
/// again gives the same identity — and, with the same content date/time, the same bytes.
public struct PatencyReport: Sendable {
    /// Comprehensive SR Storage.
    public static let comprehensiveSRStorage = "1.2.840.10008.5.1.4.1.1.88.33"
    /// The statement carried by every report.
    public static let decisionSupportNotice = "Computer-generated decision support from an AI triage model; not a diagnosis. "
        + "The images must be read by a qualified physician."

    public let input: PatencyReportInput
    /// The reviewer's verification; nil for the unverified report the worker sends.
    public let verification: ReviewerVerification?
    /// The report this one verifies (its SOP Instance UID), for a verified report.
    public let predecessorSOPInstanceUID: String?

    public let sopInstanceUID: String
    public let seriesInstanceUID: String
    public let studyInstanceUID: String
    /// Instance Number: 1 for the unverified report, 2 for a verified one.
    public let instanceNumber: Int
    /// The dataset as written (without file meta information).
    public let dataset: DICOMDatasetBuilder

    /// The unverified report of `input` (Verification Flag UNVERIFIED).
    public init(_ input: PatencyReportInput) throws(StructuredReportError) {
        try self.init(input: input, verification: nil, predecessor: nil)
    }

    private init(input: PatencyReportInput, verification: ReviewerVerification?, predecessor: String?) throws(StructuredReportError) {
        try Self.validate(input)
        self.input = input
        self.verification = verification
        self.predecessorSOPInstanceUID = predecessor
        seriesInstanceUID = DerivedUID.uid(for: input.jobKey, purpose: .series)
        if let v = verification {
            guard !v.observerName.isEmpty else { throw .invalidInput(field: "verification.observerName", reason: "empty") }
            guard !v.organization.isEmpty else { throw .invalidInput(field: "verification.organization", reason: "empty") }
            // A new verification (another reviewer or time) is a new document; the same one resent replaces itself.
            let key = input.jobKey + "\n" + DICOMDateTime(v.dateTime, v.timeZone).dateTime + "\n" + v.observerName
            sopInstanceUID = DerivedUID.uid(for: key, purpose: .verifiedSOPInstance)
            instanceNumber = 2
        } else {
            sopInstanceUID = DerivedUID.uid(for: input.jobKey, purpose: .sopInstance)
            instanceNumber = 1
        }
        let text = SRTextEncoding(source: input.source)
        var ds = DICOMDatasetBuilder()
        studyInstanceUID = try SourceModules.copy(from: input.source, into: &ds, text: text)
        Self.fill(&ds, input: input, verification: verification, predecessor: predecessor, sopInstanceUID: sopInstanceUID,
                  seriesInstanceUID: seriesInstanceUID, studyInstanceUID: studyInstanceUID, instanceNumber: instanceNumber, text: text)
        dataset = ds
    }

    /// The reviewer-verified report: same content, Verification Flag VERIFIED, the Verifying Observer, and this
    /// (unverified) report as its predecessor. It keeps the series; its SOP Instance UID derives from the job key,
    /// the verification date-time and the reviewer.
    public func verified(_ verification: ReviewerVerification) throws(StructuredReportError) -> PatencyReport {
        try PatencyReport(input: input, verification: verification, predecessor: sopInstanceUID)
    }

    /// The Part 10 file: explicit VR little endian.
    public func encode() throws(StructuredReportError) -> Data {
        do {
            return Data(try DICOMWriter.encode(dataset, syntax: .explicitVRLittleEndian))
        } catch let e as DICOMWriterError {
            throw .encodingFailed(reason: Self.describe(e))
        } catch {
            throw .encodingFailed(reason: "\(error)")
        }
    }

    /// Writes the Part 10 file atomically (temporary name, then rename).
    public func write(to url: URL) throws(StructuredReportError) {
        let data = try encode()
        do {
            try AtomicWrite.write(data, to: url)
        } catch let e as FileWriteError {
            throw .writeFailed(path: url.path, reason: e.reason)
        } catch {
            throw .writeFailed(path: url.path, reason: "\(error)")
        }
    }

    // MARK: - Building

    static func validate(_ input: PatencyReportInput) throws(StructuredReportError) {
        guard !input.jobKey.isEmpty else { throw .invalidInput(field: "jobKey", reason: "empty") }
        if let p = input.pBlocked, !(p.isFinite && p >= 0 && p <= 1) {
            throw .invalidInput(field: "pBlocked", reason: "\(p) is not a probability in [0, 1]")
        }
        guard !input.evidence.isEmpty else { throw .invalidInput(field: "evidence", reason: "no source instance") }
        for (i, e) in input.evidence.enumerated() {
            for (name, uid) in [("sopClassUID", e.sopClassUID), ("sopInstanceUID", e.sopInstanceUID), ("seriesInstanceUID", e.seriesInstanceUID)]
            where !DICOMUID.isWellFormed(uid) {
                throw .invalidInput(field: "evidence[\(i)].\(name)", reason: DICOMUID.quoted(uid) + " is not a UID")
            }
            if let bad = e.frameNumbers.first(where: { $0 < 1 || $0 > 2_147_483_647 }) {
                throw .invalidInput(field: "evidence[\(i)].frameNumbers", reason: "\(bad) is not a frame number (they start at 1)")
            }
        }
        let a = input.algorithm
        for (name, v) in [("algorithm.name", a.name), ("algorithm.version", a.version), ("algorithm.modelFingerprint", a.modelFingerprint),
                          ("algorithm.profileName", a.profileName), ("algorithm.profileHash", a.profileHash)] where v.isEmpty {
            throw .invalidInput(field: name, reason: "empty")
        }
        guard (1...2_147_483_647).contains(input.seriesNumber) else {
            throw .invalidInput(field: "seriesNumber", reason: "\(input.seriesNumber) is outside 1…2147483647")
        }
    }

    private static func fill(_ ds: inout DICOMDatasetBuilder, input: PatencyReportInput, verification: ReviewerVerification?,
                             predecessor: String?, sopInstanceUID: String, seriesInstanceUID: String, studyInstanceUID: String,
                             instanceNumber: Int, text: SRTextEncoding) {
        let when = DICOMDateTime(verification?.dateTime ?? input.contentDateTime, verification?.timeZone ?? input.timeZone)
        // SOP Common
        if !text.characterSet.isEmpty { ds.set(.specificCharacterSet, .CS, strings: text.characterSet) }
        ds.set(.sopClassUID, .UI, comprehensiveSRStorage)
        ds.set(.sopInstanceUID, .UI, sopInstanceUID)
        ds.set(SRTag.instanceCreationDate, .DA, when.date)
        ds.set(SRTag.instanceCreationTime, .TM, when.time)
        ds.set(SRTag.timezoneOffsetFromUTC, .SH, when.offset)
        var scheme = DICOMDatasetBuilder()
        scheme.set(SRTag.codingSchemeDesignator, .SH, SRCodes.privateScheme)
        scheme.set(SRTag.codingSchemeUID, .UI, SRCodes.privateSchemeUID)
        scheme.set(SRTag.codingSchemeName, .ST, SRCodes.privateSchemeName)
        scheme.set(SRTag.codingSchemeResponsibleOrganization, .ST, SRCodes.privateSchemeResponsibleOrganization)
        ds.set(SRTag.codingSchemeIdentificationSequence, sequence: [scheme])
        // SR Document Series
        ds.set(.modality, .CS, "SR")
        ds.set(.seriesInstanceUID, .UI, seriesInstanceUID)
        ds.set(SRTag.seriesNumber, .IS, int: input.seriesNumber)
        let created = DICOMDateTime(input.contentDateTime, input.timeZone)
        ds.set(SRTag.seriesDate, .DA, created.date)
        ds.set(SRTag.seriesTime, .TM, created.time)
        ds.set(SRTag.seriesDescription, .LO, "AI vessel patency triage (decision support)")
        ds.set(SRTag.referencedPerformedProcedureStepSequence, sequence: [])
        // General Equipment
        ds.set(SRTag.manufacturer, .LO, bytes: text.bytes(String(input.algorithm.manufacturer.prefix(64))))
        ds.set(SRTag.manufacturerModelName, .LO, bytes: text.bytes(String(input.algorithm.name.prefix(64))))
        ds.set(SRTag.softwareVersions, .LO, bytes: text.bytes(String(input.algorithm.version.prefix(64))))
        // SR Document General
        ds.set(SRTag.instanceNumber, .IS, int: instanceNumber)
        ds.set(SRTag.completionFlag, .CS, "COMPLETE")
        ds.set(SRTag.contentDate, .DA, when.date)
        ds.set(SRTag.contentTime, .TM, when.time)
        ds.set(SRTag.performedProcedureCodeSequence, sequence: [])
        ds.set(SRTag.currentRequestedProcedureEvidenceSequence,
               sequence: [hierarchicalReference(study: studyInstanceUID, instances: input.evidence.map { ($0.seriesInstanceUID, $0.sopClassUID, $0.sopInstanceUID) })])
        if let v = verification, let predecessor {
            ds.set(SRTag.verificationFlag, .CS, "VERIFIED")
            var observer = DICOMDatasetBuilder()
            observer.set(SRTag.verifyingObserverName, .PN, bytes: text.bytes(v.observerName))
            observer.set(SRTag.verifyingObserverIdentificationCodeSequence, sequence: [])
            observer.set(SRTag.verifyingOrganization, .LO, bytes: text.bytes(String(v.organization.prefix(64))))
            observer.set(SRTag.verificationDateTime, .DT, DICOMDateTime(v.dateTime, v.timeZone).dateTime)
            ds.set(SRTag.verifyingObserverSequence, sequence: [observer])
            ds.set(SRTag.predecessorDocumentsSequence,
                   sequence: [hierarchicalReference(study: studyInstanceUID, instances: [(seriesInstanceUID, comprehensiveSRStorage, predecessor)])])
        } else {
            ds.set(SRTag.verificationFlag, .CS, "UNVERIFIED")
        }
        // SR Document Content: the root container and its tree.
        contentTree(input, verification: verification).encode(into: &ds, text: text)
    }

    /// Hierarchical SOP Instance Reference Macro (PS3.3 Table C.17-3): one study, its series, their instances.
    static func hierarchicalReference(study: String, instances: [(series: String, cls: String, inst: String)]) -> DICOMDatasetBuilder {
        var seriesOrder: [String] = []
        var bySeries: [String: [(String, String)]] = [:]
        for i in instances {
            if bySeries[i.series] == nil { seriesOrder.append(i.series) }
            if bySeries[i.series, default: []].contains(where: { $0.1 == i.inst }) { continue }
            bySeries[i.series, default: []].append((i.cls, i.inst))
        }
        var item = DICOMDatasetBuilder()
        item.set(.studyInstanceUID, .UI, study)
        item.set(SRTag.referencedSeriesSequence, sequence: seriesOrder.map { series in
            var s = DICOMDatasetBuilder()
            s.set(.seriesInstanceUID, .UI, series)
            s.set(SRTag.referencedSOPSequence, sequence: (bySeries[series] ?? []).map { cls, inst in
                var r = DICOMDatasetBuilder()
                r.set(SRTag.referencedSOPClassUID, .UI, cls)
                r.set(SRTag.referencedSOPInstanceUID, .UI, inst)
                return r
            })
            return s
        })
        return item
    }

    /// The content tree (TID 1500 root, TID 1501 measurement group).
    static func contentTree(_ input: PatencyReportInput, verification: ReviewerVerification? = nil) -> ContentItem {
        let a = input.algorithm
        var library: [ContentItem] = []
        var seen = Set<String>()
        for e in input.evidence where seen.insert(e.sopInstanceUID).inserted {
            library.append(ContentItem("CONTAINS", nil, .image(sopClass: e.sopClassUID, sopInstance: e.sopInstanceUID, frames: [])))
        }
        let evidence = input.evidence.map {
            ContentItem("INFERRED FROM", nil, .image(sopClass: $0.sopClassUID, sopInstance: $0.sopInstanceUID, frames: $0.frameNumbers))
        }
        var group: [ContentItem] = [
            ContentItem("HAS OBS CONTEXT", SRCodes.trackingIdentifier, .text("vessel patency triage")),
            ContentItem("HAS OBS CONTEXT", SRCodes.trackingUniqueIdentifier,
                        .uidref(DerivedUID.uid(for: input.jobKey, purpose: .trackingIdentifier))),
            // TID 4019 Algorithm Identification
            ContentItem("HAS CONCEPT MOD", SRCodes.algorithmName, .text(a.name)),
            ContentItem("HAS CONCEPT MOD", SRCodes.algorithmVersion, .text(a.version)),
        ]
        group += a.parameters.map { ContentItem("HAS CONCEPT MOD", SRCodes.algorithmParameters, .text($0)) }
        group.append(ContentItem("CONTAINS", SRCodes.vesselPatency, .code(input.decision.code), children: evidence))
        group.append(ContentItem("CONTAINS", SRCodes.probabilityBlocked,
                                 .num(input.pBlocked, unit: SRCodes.ratioUnit,
                                      qualifier: input.pBlocked == nil ? SRCodes.measurementNotAttempted : nil),
                                 children: input.pBlocked == nil ? [] : evidence))
        group += input.reasons.map { ContentItem("CONTAINS", SRCodes.decisionReason, .text($0)) }
        if let v = verification, let assessment = v.assessment {
            let code: SRCode
            switch assessment {
            case .patent: code = SRCodes.patent
            case .blocked: code = SRCodes.blocked
            case .nonDiagnostic: code = SRCodes.nonDiagnostic
            }
            group.append(ContentItem("CONTAINS", SRCodes.reviewerAssessment, .code(code), children: evidence))
        }
        if let comment = verification?.comment?.trimmingCharacters(in: .whitespacesAndNewlines), !comment.isEmpty {
            group.append(ContentItem("CONTAINS", SRCodes.reviewerComment, .text(String(comment.prefix(1024)))))
        }

        return ContentItem(nil, SRCodes.imagingMeasurementReport, .container(template: "1500"), children: [
            // TID 1204 Language of Content Item and Descendants
            ContentItem("HAS CONCEPT MOD", SRCodes.languageOfContent, .code(SRCodes.english)),
            // TID 1002 Observer Context, device observer (TID 1004)
            ContentItem("HAS OBS CONTEXT", SRCodes.observerType, .code(SRCodes.device)),
            ContentItem("HAS OBS CONTEXT", SRCodes.deviceObserverUID,
                        .uidref(DerivedUID.uid(for: a.name + "\n" + a.version + "\n" + a.modelFingerprint + "\n" + (a.adapterFingerprint ?? ""),
                                               purpose: .deviceObserver))),
            ContentItem("HAS OBS CONTEXT", SRCodes.deviceObserverName, .text(a.name)),
            ContentItem("HAS OBS CONTEXT", SRCodes.deviceObserverManufacturer, .text(a.manufacturer)),
            ContentItem("HAS OBS CONTEXT", SRCodes.deviceObserverModelName, .text(a.version)),
            ContentItem("HAS CONCEPT MOD", SRCodes.procedureReported, .code(SRCodes.angiography)),
            // TID 1600 Image Library
            ContentItem("CONTAINS", SRCodes.imageLibrary, .container(template: nil), children: [
                ContentItem("CONTAINS", SRCodes.imageLibraryGroup, .container(template: nil), children: library),
            ]),
            ContentItem("CONTAINS", SRCodes.imagingMeasurements, .container(template: nil), children: [
                ContentItem("CONTAINS", SRCodes.measurementGroup, .container(template: "1501"), children: group),
            ]),
            ContentItem("CONTAINS", SRCodes.decisionSupportNotice, .text(decisionSupportNotice)),
        ])
    }

    private static func describe(_ e: DICOMWriterError) -> String {
        switch e {
        // A UID value is the only one the writer quotes; ours are checked before, so name the attribute only.
        case let .invalidValue(tag, vr, reason): return vr == .UI ? "\(tag) UI: not a UID" : "\(tag) \(vr.rawValue): \(reason)"
        case let .missingAttribute(tag, reason): return "missing \(tag): \(reason)"
        case let .pixelData(reason): return reason
        case let .writeFailed(_, reason): return reason
        }
    }
}

/// A moment as DICOM DA, TM, DT and a UTC offset in one time zone.
struct DICOMDateTime {
    let date: String
    let time: String
    let offset: String
    var dateTime: String { date + time + offset }

    init(_ moment: Date, _ zone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: moment)
        date = String(format: "%04d%02d%02d", c.year ?? 1970, c.month ?? 1, c.day ?? 1)
        time = String(format: "%02d%02d%02d", c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
        let seconds = zone.secondsFromGMT(for: moment)
        let minutes = abs(seconds) / 60
        offset = (seconds < 0 ? "-" : "+") + String(format: "%02d%02d", minutes / 60, minutes % 60)
    }
}
