import DICOM
import Foundation

/// One node of an SR content tree (PS3.3 §C.17.3), encoded into a dataset item.
struct ContentItem: Sendable {
    enum Value: Sendable {
        /// A container; `template` is the TID it follows (mapping resource DCMR), if any.
        case container(template: String?)
        case text(String)
        case code(SRCode)
        /// A number with its unit; nil value: no value, with a Numeric Value Qualifier saying why.
        case num(Double?, unit: SRCode, qualifier: SRCode?)
        case uidref(String)
        /// An image reference: SOP class and instance, and 1-based frame numbers (empty: the whole instance).
        case image(sopClass: String, sopInstance: String, frames: [Int])
    }

    /// Relationship with the parent (nil only for the root).
    var relationship: String?
    var concept: SRCode?
    var value: Value
    var children: [ContentItem] = []

    init(_ relationship: String?, _ concept: SRCode?, _ value: Value, children: [ContentItem] = []) {
        self.relationship = relationship
        self.concept = concept
        self.value = value
        self.children = children
    }

    var valueType: String {
        switch value {
        case .container: return "CONTAINER"
        case .text: return "TEXT"
        case .code: return "CODE"
        case .num: return "NUM"
        case .uidref: return "UIDREF"
        case .image: return "IMAGE"
        }
    }

    /// Writes this item's attributes into `ds` (the root writes into the top-level dataset).
    func encode(into ds: inout DICOMDatasetBuilder, text: SRTextEncoding) {
        if let r = relationship { ds.set(SRTag.relationshipType, .CS, r) }
        ds.set(SRTag.valueType, .CS, valueType)
        if let c = concept { ds.set(SRTag.conceptNameCodeSequence, sequence: [Self.codeItem(c, text: text)]) }
        switch value {
        case let .container(template):
            ds.set(SRTag.continuityOfContent, .CS, "SEPARATE")
            if let t = template {
                var item = DICOMDatasetBuilder()
                item.set(SRTag.mappingResource, .CS, "DCMR")
                item.set(SRTag.templateIdentifier, .CS, t)
                ds.set(SRTag.contentTemplateSequence, sequence: [item])
            }
        case let .text(s):
            ds.set(SRTag.textValue, .UT, bytes: text.bytes(s))
        case let .code(c):
            ds.set(SRTag.conceptCodeSequence, sequence: [Self.codeItem(c, text: text)])
        case let .num(v, unit, qualifier):
            if let v {
                var m = DICOMDatasetBuilder()
                m.set(SRTag.measurementUnitsCodeSequence, sequence: [Self.codeItem(unit, text: text)])
                // DS holds 16 characters; the exact binary value goes alongside (PS3.3 C.18.1).
                m.set(SRTag.numericValue, .DS, Self.decimalString(v))
                m.set(SRTag.floatingPointValue, .FD, double: v)
                ds.set(SRTag.measuredValueSequence, sequence: [m])
            } else {
                ds.set(SRTag.measuredValueSequence, sequence: [])
            }
            if let q = qualifier { ds.set(SRTag.numericValueQualifierCodeSequence, sequence: [Self.codeItem(q, text: text)]) }
        case let .uidref(uid):
            ds.set(SRTag.uid, .UI, uid)
        case let .image(cls, inst, frames):
            var ref = DICOMDatasetBuilder()
            ref.set(SRTag.referencedSOPClassUID, .UI, cls)
            ref.set(SRTag.referencedSOPInstanceUID, .UI, inst)
            if !frames.isEmpty { ref.set(SRTag.referencedFrameNumber, .IS, ints: frames) }
            ds.set(SRTag.referencedSOPSequence, sequence: [ref])
        }
        if !children.isEmpty {
            ds.set(SRTag.contentSequence, sequence: children.map { child in
                var item = DICOMDatasetBuilder()
                child.encode(into: &item, text: text)
                return item
            })
        }
    }

    static func codeItem(_ c: SRCode, text: SRTextEncoding) -> DICOMDatasetBuilder {
        var item = DICOMDatasetBuilder()
        item.set(SRTag.codeValue, .SH, c.value)
        item.set(SRTag.codingSchemeDesignator, .SH, c.scheme)
        item.set(SRTag.codeMeaning, .LO, bytes: text.bytes(c.meaning))
        return item
    }

    /// A Decimal String of at most 16 characters; values in [0, 1] keep 14 significant digits.
    static func decimalString(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        for digits in stride(from: 14, through: 1, by: -1) {
            let s = String(format: "%.\(digits)g", v)
            if s.count <= 16 { return s }
        }
        return "0"
    }
}

/// Tags of the SR modules (PS3.3 C.17) not already named by the DICOM target.
enum SRTag {
    static func t(_ g: UInt16, _ e: UInt16) -> DICOMTag { DICOMTag(g, e) }
    static let relationshipType = t(0x0040, 0xA010)
    static let valueType = t(0x0040, 0xA040)
    static let conceptNameCodeSequence = t(0x0040, 0xA043)
    static let conceptCodeSequence = t(0x0040, 0xA168)
    static let continuityOfContent = t(0x0040, 0xA050)
    static let contentTemplateSequence = t(0x0040, 0xA504)
    static let mappingResource = t(0x0008, 0x0105)
    static let templateIdentifier = t(0x0040, 0xDB00)
    static let contentSequence = t(0x0040, 0xA730)
    static let textValue = t(0x0040, 0xA160)
    static let uid = t(0x0040, 0xA124)
    static let measuredValueSequence = t(0x0040, 0xA300)
    static let measurementUnitsCodeSequence = t(0x0040, 0x08EA)
    static let numericValue = t(0x0040, 0xA30A)
    static let floatingPointValue = t(0x0040, 0xA161)
    static let numericValueQualifierCodeSequence = t(0x0040, 0xA301)
    static let referencedSOPSequence = t(0x0008, 0x1199)
    static let referencedSOPClassUID = t(0x0008, 0x1150)
    static let referencedSOPInstanceUID = t(0x0008, 0x1155)
    static let referencedFrameNumber = t(0x0008, 0x1160)
    static let referencedSeriesSequence = t(0x0008, 0x1115)
    static let codeValue = t(0x0008, 0x0100)
    static let codingSchemeDesignator = t(0x0008, 0x0102)
    static let codeMeaning = t(0x0008, 0x0104)
    static let codingSchemeIdentificationSequence = t(0x0008, 0x0110)
    static let codingSchemeUID = t(0x0008, 0x010C)
    static let codingSchemeName = t(0x0008, 0x0115)
    static let codingSchemeResponsibleOrganization = t(0x0008, 0x0116)
    static let completionFlag = t(0x0040, 0xA491)
    static let verificationFlag = t(0x0040, 0xA493)
    static let contentDate = t(0x0008, 0x0023)
    static let contentTime = t(0x0008, 0x0033)
    static let instanceNumber = t(0x0020, 0x0013)
    static let seriesNumber = t(0x0020, 0x0011)
    static let seriesDescription = t(0x0008, 0x103E)
    static let seriesDate = t(0x0008, 0x0021)
    static let seriesTime = t(0x0008, 0x0031)
    static let instanceCreationDate = t(0x0008, 0x0012)
    static let instanceCreationTime = t(0x0008, 0x0013)
    static let timezoneOffsetFromUTC = t(0x0008, 0x0201)
    static let manufacturer = t(0x0008, 0x0070)
    static let manufacturerModelName = t(0x0008, 0x1090)
    static let softwareVersions = t(0x0018, 0x1020)
    static let referencedPerformedProcedureStepSequence = t(0x0008, 0x1111)
    static let performedProcedureCodeSequence = t(0x0040, 0xA372)
    static let currentRequestedProcedureEvidenceSequence = t(0x0040, 0xA375)
    static let predecessorDocumentsSequence = t(0x0040, 0xA360)
    static let verifyingObserverSequence = t(0x0040, 0xA073)
    static let verifyingObserverName = t(0x0040, 0xA075)
    static let verifyingObserverIdentificationCodeSequence = t(0x0040, 0xA088)
    static let verifyingOrganization = t(0x0040, 0xA027)
    static let verificationDateTime = t(0x0040, 0xA030)
}
