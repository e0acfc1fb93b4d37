import Angiography
import DICOM
import Foundation
import StructuredReport
import TestSupport
import XCTest

/// Reports built from synthetic XA runs, checked with dicom3tools' dciodvfy and dcmtk's dsrdump / dcmdump.
final class PatencyReportTests: XCTestCase {
    static let config = SynthConfiguration(rows: 64, columns: 80, frames: 4)
    static let when = Date(timeIntervalSince1970: 1_796_000_000)   // a fixed moment: byte-identical encodings
    static let algorithm = AlgorithmIdentification(
        name: "dsa-triage vessel patency", version: "0.7.0",
        modelFingerprint: "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        adapterFingerprint: "sha256:2222222222222222222222222222222222222222222222222222222222222222",
        profileName: "default", profileHash: "sha256:3333333333333333333333333333333333333333333333333333333333333333")

    /// A synthetic XA instance as a parsed dataset (its builder, for tests that alter it).
    static func sourceBuilder(seed: UInt64 = 11, blocked: Bool = true) throws -> DICOMDatasetBuilder {
        let run = try SynthAngiogram.generate(seed: seed, blocked: blocked, configuration: config)
        return try SynthXADataset.dataset(run: run, kind: .native, caseID: "case_0007", caseNumber: 7, syntax: .explicitVRLittleEndian)
    }

    static func parse(_ b: DICOMDatasetBuilder) throws -> DICOMDataset {
        try DICOMFile(data: Data(try DICOMWriter.encode(b, syntax: .explicitVRLittleEndian))).dataset
    }

    static func input(_ source: DICOMDataset, decision: PatencyDecision, p: Double?, key: String = "job-key-1",
                      reasons: [String]? = nil) throws -> PatencyReportInput {
        PatencyReportInput(
            source: source,
            evidence: [try SourceInstance(dataset: source, frameNumbers: [2, 3, 4])],
            decision: decision, pBlocked: p,
            reasons: reasons ?? ["P(blocked) \(p.map { String($0) } ?? "none") ≥ threshold 0.5"],
            algorithm: algorithm, jobKey: key, contentDateTime: when)
    }

    var directory: URL!

    override func setUpWithError() throws {
        directory = ExternalTool.temporaryPath("sr-tests")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let d = directory { try? FileManager.default.removeItem(at: d) }
    }

    /// dciodvfy's complaints about `url`: every error, and every warning not in the known-benign list.
    func dciodvfyProblems(_ url: URL) throws -> (problems: [String], report: String) {
        let (_, report) = try ExternalTool.run("dciodvfy", [url.path], package: "dicom3tools")
        let lines = report.split(separator: "\n").map(String.init)
        // The whole report goes to the test log, so a run shows what dciodvfy said, benign warnings included.
        print("dciodvfy \(url.lastPathComponent):\n\(report)")
        let problems = lines.filter { line in
            if line.hasPrefix("Error") { return true }
            guard line.hasPrefix("Warning") else { return false }
            return !Self.benignWarnings.contains { line.contains($0) }
        }
        return (problems, report)
    }

    /// Warnings dciodvfy gives that are expected for these reports, each with why it is benign.
    /// dciodvfy checks Coding Scheme Designator and Coding Scheme UID against the schemes PS3.16 lists; a
    /// private scheme (PS3.16 §8.2: designators starting with "99") is absent from that list by definition. It
    /// is declared in the Coding Scheme Identification Sequence, which is what the standard asks of it.
    static let benignWarnings: [String] = [
        "Unrecognized defined term <\(SRCodes.privateScheme)> for value 1 of attribute <Coding Scheme Designator>",
        "Unrecognized defined term <\(SRCodes.privateSchemeUID)> for value 1 of attribute <Coding Scheme UID>",
    ]

    func dump(_ tool: String, _ url: URL, _ args: [String] = []) throws -> String {
        let (status, out) = try ExternalTool.run(tool, args + [url.path], package: "dcmtk")
        XCTAssertEqual(status, 0, "\(tool): \(out)")
        // dcmtk prefixes its own complaints with "W: " and "E: ".
        // dcmtk 3.6.7's VR checker has no UTF-8 support and says so for every ISO_IR 192 file; that is a note
        // about the checker, not about the file.
        let complaints = out.split(separator: "\n").filter { ($0.hasPrefix("W: ") || $0.hasPrefix("E: "))
            && !$0.contains("The VR checker does not support this Specific Character Set: ISO_IR 192") }
        XCTAssertTrue(complaints.isEmpty, "\(tool) \(url.lastPathComponent):\n\(complaints.joined(separator: "\n"))")
        return out
    }

    func testPatentBlockedAndReviewReportsPassDciodvfyAndRenderInDsrdump() throws {
        let source = try Self.parse(try Self.sourceBuilder())
        let cases: [(PatencyDecision, Double?, String)] = [
            (.patent, 0.0625, "DSAT002"), (.blocked, 0.875, "DSAT003"), (.manualReview, nil, "DSAT004"),
        ]
        for (decision, p, code) in cases {
            let report = try PatencyReport(try Self.input(source, decision: decision, p: p, key: "job-\(decision.rawValue)"))
            let url = directory.appendingPathComponent("\(decision.rawValue).dcm")
            try report.write(to: url)
            let (problems, full) = try dciodvfyProblems(url)
            XCTAssertTrue(problems.isEmpty, "\(decision): dciodvfy:\n\(full)")
            XCTAssertTrue(full.contains("ComprehensiveSR"), "\(decision): dciodvfy did not take it as Comprehensive SR:\n\(full)")

            let tree = try dump("dsrdump", url, ["+Pc", "+Pl", "+Pu"])
            XCTAssertTrue(tree.contains("Comprehensive SR"), tree)
            XCTAssertTrue(tree.contains("UNVERIFIED"), tree)
            XCTAssertTrue(tree.contains("(126000,DCM,\"Imaging Measurement Report\")"), tree)
            XCTAssertTrue(tree.contains("(DSAT001,99DSATRIAGE,\"Vessel patency\")=(\(code),99DSATRIAGE,"), tree)
            XCTAssertTrue(tree.contains("(77343006,SCT,\"Angiography\")"), tree)
            XCTAssertTrue(tree.contains("(121005,DCM,\"Observer Type\")=(121007,DCM,\"Device\")"), tree)
            XCTAssertTrue(tree.contains("(111001,DCM,\"Algorithm Name\")=\"dsa-triage vessel patency\""), tree)
            XCTAssertTrue(tree.contains("(111003,DCM,\"Algorithm Version\")=\"0.7.0\""), tree)
            XCTAssertTrue(tree.contains("\"model_fingerprint=sha256:1111"), tree)
            XCTAssertTrue(tree.contains("\"adapter_fingerprint=sha256:2222"), tree)
            XCTAssertTrue(tree.contains("\"profile_name=default\""), tree)
            XCTAssertTrue(tree.contains("\"profile_hash=sha256:3333"), tree)
            XCTAssertTrue(tree.contains("(DSAT006,99DSATRIAGE,\"Triage decision reason\")=\"P(blocked) "), tree)
            XCTAssertTrue(tree.contains("not a diagnosis"), tree)
            if let p {
                XCTAssertTrue(tree.contains("(DSAT005,99DSATRIAGE,\"Probability of blocked vessel\")=\"\(p)\" ({ratio},UCUM,\"ratio\")"), tree)
            } else {
                XCTAssertTrue(tree.contains("(DSAT005,99DSATRIAGE,\"Probability of blocked vessel\")"), tree)
                XCTAssertTrue(tree.contains("(114007,DCM,\"Measurement not attempted\")"), tree)
            }
            // Evidence: the source instance with the frames used.
            let instance = try XCTUnwrap(source.string(.sopInstanceUID))
            XCTAssertTrue(tree.contains("<inferred from IMAGE:=(XA image,\"\(instance)\",2,3,4)>"), tree)
            XCTAssertTrue(tree.contains("<contains IMAGE:=(XA image,\"\(instance)\")>"), "image library entry:\n\(tree)")

            let header = try dump("dcmdump", url)
            for (tag, name) in [(DICOMTag.studyInstanceUID, "StudyInstanceUID"), (.patientID, "PatientID"), (.patientName, "PatientName")] {
                let value = try XCTUnwrap(source.string(tag))
                XCTAssertTrue(header.contains("[\(value)]") && header.contains(name), "\(name) not copied:\n\(header)")
            }
            XCTAssertTrue(header.contains("[\(report.seriesInstanceUID)]"), header)
            XCTAssertTrue(header.contains("[\(report.sopInstanceUID)]"), header)
            XCTAssertTrue(header.contains("(0008,0110)"), "Coding Scheme Identification Sequence:\n\(header)")
            XCTAssertTrue(header.contains("[\(SRCodes.privateSchemeUID)]"), header)
        }
    }

    func testVerifiedReportReferencesItsPredecessorAndPassesDciodvfy() throws {
        let source = try Self.parse(try Self.sourceBuilder())
        let unverified = try PatencyReport(try Self.input(source, decision: .blocked, p: 0.9))
        let review = ReviewerVerification(observerName: "Reviewer^Rita", organization: "Example Hospital Radiology",
                                          dateTime: Self.when.addingTimeInterval(3600))
        let verified = try unverified.verified(review)
        XCTAssertNotEqual(verified.sopInstanceUID, unverified.sopInstanceUID)
        XCTAssertEqual(verified.seriesInstanceUID, unverified.seriesInstanceUID)
        XCTAssertEqual(verified.predecessorSOPInstanceUID, unverified.sopInstanceUID)
        XCTAssertEqual(try unverified.verified(review).sopInstanceUID, verified.sopInstanceUID, "the same verification resent")
        let url = directory.appendingPathComponent("verified.dcm")
        try verified.write(to: url)
        let (problems, full) = try dciodvfyProblems(url)
        XCTAssertTrue(problems.isEmpty, "dciodvfy:\n\(full)")
        let header = try dump("dcmdump", url)
        XCTAssertTrue(header.contains("(0040,a493) CS [VERIFIED]"), header)
        XCTAssertTrue(header.contains("(0040,a075) PN [Reviewer^Rita]"), header)
        XCTAssertTrue(header.contains("(0040,a027) LO [Example Hospital Radiology]"), header)
        XCTAssertTrue(header.contains("(0040,a030) DT [20261130015320+0000]"), header)
        XCTAssertTrue(header.contains("(0040,a360)"), "Predecessor Documents Sequence:\n\(header)")
        XCTAssertTrue(header.contains("[\(unverified.sopInstanceUID)]"), header)
        let tree = try dump("dsrdump", url, ["+Pc", "+Pl", "+Pu"])
        XCTAssertTrue(tree.contains("VERIFIED") && !tree.contains("UNVERIFIED"), tree)
        XCTAssertTrue(tree.contains("Verifying Observers : 2026-11-30 01:53:20 +00:00, ") && tree.contains("Reviewer^Rita, Example Hospital Radiology"), tree)
        XCTAssertTrue(tree.contains("Predecessor Docs    : 1"), tree)
    }

    func testSameKeyGivesTheSameUIDsAndBytesDifferentKeysDiffer() throws {
        let source = try Self.parse(try Self.sourceBuilder())
        let a = try PatencyReport(try Self.input(source, decision: .patent, p: 0.1, key: "series-A|instances|model|profile"))
        let b = try PatencyReport(try Self.input(source, decision: .patent, p: 0.1, key: "series-A|instances|model|profile"))
        XCTAssertEqual(a.sopInstanceUID, b.sopInstanceUID)
        XCTAssertEqual(a.seriesInstanceUID, b.seriesInstanceUID)
        XCTAssertEqual(try a.encode(), try b.encode())
        var later = try Self.input(source, decision: .patent, p: 0.1, key: "series-A|instances|model|profile")
        later.contentDateTime = Self.when.addingTimeInterval(86400)
        let c = try PatencyReport(later)
        XCTAssertEqual(c.sopInstanceUID, a.sopInstanceUID, "a resend later replaces the same instance")
        XCTAssertNotEqual(try c.encode(), try a.encode())
        let d = try PatencyReport(try Self.input(source, decision: .patent, p: 0.1, key: "series-A|instances2|model|profile"))
        XCTAssertNotEqual(d.sopInstanceUID, a.sopInstanceUID)
        XCTAssertNotEqual(d.seriesInstanceUID, a.seriesInstanceUID)
        XCTAssertEqual(a.studyInstanceUID, source.string(.studyInstanceUID))
        for uid in [a.sopInstanceUID, a.seriesInstanceUID, d.sopInstanceUID] {
            XCTAssertTrue(DICOMUID.isWellFormed(uid) && uid.hasPrefix("2.25."), uid)
        }
    }

    func testMissingOrInvalidInputIsATypedErrorWithoutPatientValues() throws {
        var noStudy = try Self.sourceBuilder()
        noStudy.remove(.studyInstanceUID)
        let source = try Self.parse(noStudy)
        do {
            _ = try PatencyReport(try Self.input(source, decision: .patent, p: 0.2))
            XCTFail("no error")
        } catch let e as StructuredReportError {
            XCTAssertEqual(e, .missingSourceAttribute(name: "StudyInstanceUID", tag: .studyInstanceUID))
            XCTAssertTrue(e.description.contains("StudyInstanceUID"), e.description)
        }
        var noInstance = try Self.sourceBuilder()
        noInstance.set(.sopInstanceUID, .UI, "")
        XCTAssertThrowsError(try SourceInstance(dataset: try Self.parse(noInstance), frameNumbers: [1])) { e in
            XCTAssertEqual(e as? StructuredReportError, .missingSourceAttribute(name: "SOPInstanceUID", tag: .sopInstanceUID))
        }
        let good = try Self.parse(try Self.sourceBuilder())
        let patientValues = [good.string(.patientName), good.string(.patientID)].compactMap { $0 }
        var bad = try Self.input(good, decision: .blocked, p: 1.5)
        XCTAssertThrowsError(try PatencyReport(bad)) { e in
            guard case .invalidInput(field: "pBlocked", _)? = e as? StructuredReportError else { return XCTFail("\(e)") }
        }
        bad.pBlocked = .nan
        XCTAssertThrowsError(try PatencyReport(bad))
        bad.pBlocked = 0.5
        bad.evidence = []
        XCTAssertThrowsError(try PatencyReport(bad)) { e in
            XCTAssertEqual(e as? StructuredReportError, .invalidInput(field: "evidence", reason: "no source instance"))
        }
        bad.evidence = [SourceInstance(sopClassUID: "1.2.3", sopInstanceUID: "1.2.4", seriesInstanceUID: "1.2.5", frameNumbers: [0])]
        XCTAssertThrowsError(try PatencyReport(bad)) { e in
            guard case .invalidInput(field: "evidence[0].frameNumbers", _)? = e as? StructuredReportError else { return XCTFail("\(e)") }
        }
        bad.evidence = [SourceInstance(sopClassUID: "1.2.3", sopInstanceUID: "SYN-case_0007", seriesInstanceUID: "1.2.5", frameNumbers: [1])]
        XCTAssertThrowsError(try PatencyReport(bad)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("evidence[0].sopInstanceUID"), text)
            for v in patientValues { XCTAssertFalse(text.contains(v), "error quotes a patient value: \(text)") }
        }
        bad = try Self.input(good, decision: .blocked, p: 0.7, key: "")
        XCTAssertThrowsError(try PatencyReport(bad)) { e in
            XCTAssertEqual(e as? StructuredReportError, .invalidInput(field: "jobKey", reason: "empty"))
        }
        let report = try PatencyReport(try Self.input(good, decision: .blocked, p: 0.7))
        let missing = directory.appendingPathComponent("no-such-folder/report.dcm")
        XCTAssertThrowsError(try report.write(to: missing)) { e in
            guard case .writeFailed(path: missing.path, _)? = e as? StructuredReportError else { return XCTFail("\(e)") }
        }
    }

    func testLatin1SourceIsWrittenAsUTF8WithTheReasonsIntact() throws {
        var b = try Self.sourceBuilder()
        b.set(.specificCharacterSet, .CS, "ISO_IR 100")
        b.set(.patientName, .PN, bytes: [0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72, 0x5E, 0x4A, 0x6F])   // "Müller^Jo" in Latin-1
        let source = try Self.parse(b)
        let report = try PatencyReport(try Self.input(source, decision: .blocked, p: 0.8, reasons: ["P(blocked) 0.8 ≥ threshold 0.5"]))
        let back = try DICOMFile(data: try report.encode()).dataset
        XCTAssertEqual(back.strings(.specificCharacterSet), ["ISO_IR 192"])
        XCTAssertEqual(back.string(.patientName), "Müller^Jo")
        let url = directory.appendingPathComponent("latin1.dcm")
        try report.write(to: url)
        let (problems, full) = try dciodvfyProblems(url)
        XCTAssertTrue(problems.isEmpty, "dciodvfy:\n\(full)")
        let tree = try dump("dsrdump", url, ["+Pc", "+Pl", "+Pu", "+U8"])
        XCTAssertTrue(tree.contains("≥ threshold"), tree)
    }

    func testUnknownCharacterSetIsKeptAndOwnTextIsASCII() throws {
        var b = try Self.sourceBuilder()
        b.set(.specificCharacterSet, .CS, strings: ["", "ISO 2022 IR 87"])
        let source = try Self.parse(b)
        let report = try PatencyReport(try Self.input(source, decision: .blocked, p: 0.8, reasons: ["P(blocked) 0.8 ≥ threshold 0.5"]))
        let back = try DICOMFile(data: try report.encode()).dataset
        XCTAssertEqual(back.strings(.specificCharacterSet), ["", "ISO 2022 IR 87"])
        XCTAssertEqual(back.string(.patientName), source.string(.patientName))
        XCTAssertTrue(Self.texts(back).contains("P(blocked) 0.8 >= threshold 0.5"), "\(Self.texts(back))")
    }

    /// Every Text Value in a content tree.
    static func texts(_ ds: DICOMDataset) -> [String] {
        var out: [String] = []
        if let t = ds.string(DICOMTag(0x0040, 0xA160)) { out.append(t) }
        for item in ds.sequence(DICOMTag(0x0040, 0xA730)) ?? [] { out += texts(item) }
        return out
    }
}
