import Angiography
import DICOM
import Foundation
import XCTest

/// The written XA files: our reader, dicom3tools' dciodvfy, dcmtk's decoders and the shared conventions.
final class SynthDICOMTests: XCTestCase {
    let cfg = SynthConfiguration(rows: 64, columns: 80, frames: 4)

    /// Frames of a written file as stored values; encapsulated files are decompressed by dcmtk first.
    func storedFrames(_ url: URL, syntax: DICOMWriteSyntax) throws -> [[Int32]] {
        var file = try DICOMFile(url: url)
        if syntax.isEncapsulated {
            let out = url.deletingPathExtension().appendingPathExtension("decoded.dcm")
            let tool = syntax == .rleLossless ? "dcmdrle" : "dcmdjpeg"
            let (status, text) = try SynthToolRunner.run(tool, [url.path, out.path], package: "dcmtk")
            XCTAssertEqual(status, 0, "\(tool) \(url.lastPathComponent): \(text)")
            XCTAssertFalse(text.contains("W: ") || text.contains("E: "), "\(tool) complained: \(text)")
            file = try DICOMFile(url: out)
            try? FileManager.default.removeItem(at: out)
        }
        return try PixelDataReader(file: file).frames().map { $0.int32Values() }
    }

    func testEveryFileParsesMatchesTheGeneratorAndPassesDciodvfy() throws {
        let dir = SynthToolRunner.temporaryDirectory("synth-dicom")
        defer { try? FileManager.default.removeItem(at: dir) }
        let records = try SynthBatch.write(SynthBatchOptions(outputDirectory: dir, count: 4, prevalence: 0.5, seed: 77, configuration: cfg))
        XCTAssertEqual(Set(records.map(\.transferSyntax)), [.explicitVRLittleEndian, .jpegLosslessSV1, .rleLossless, .implicitVRLittleEndian])
        for r in records {
            let run = try SynthAngiogram.generate(seed: r.seed, blocked: r.blocked, configuration: cfg)
            for (kind, rel) in [(SynthRunKind.native, r.nativeFile), (.subtracted, r.subtractedFile)] {
                let path = try XCTUnwrap(rel)
                let url = dir.appendingPathComponent(path)
                let file = try DICOMFile(url: url)
                XCTAssertEqual(file.transferSyntaxUID, r.transferSyntax.uid, path)
                XCTAssertTrue(file.warnings.isEmpty, "\(path): \(file.warnings)")
                XCTAssertEqual(file.meta.string(DICOMTag(0x0002, 0x0012)), DICOMWriter.implementationClassUID)
                let frames = try storedFrames(url, syntax: r.transferSyntax)
                let expected = (kind == .native ? run.native : run.subtracted).map { $0.map(Int32.init) }
                XCTAssertEqual(frames.count, cfg.frames, path)
                XCTAssertTrue(frames == expected, "\(path): pixel values differ from the generator's")
                // Our own RLE / JPEG Lossless decoders read the compressed files to the same values.
                let direct = try PixelDataReader(file: file).frames().map { $0.int32Values() }
                XCTAssertTrue(direct == expected, "\(path): our decoder differs from the generator's pixels")
                let (_, report) = try SynthToolRunner.run("dciodvfy", [url.path], package: "dicom3tools")
                let errors = report.split(separator: "\n").filter { $0.hasPrefix("Error") }
                XCTAssertTrue(errors.isEmpty, "\(path): dciodvfy errors:\n\(errors.joined(separator: "\n"))")
                XCTAssertTrue(report.contains("XAImage"), "\(path): dciodvfy did not recognise an XA image:\n\(report)")
            }
        }
    }

    func testAttributesFollowTheSharedConventions() throws {
        let run = try SynthAngiogram.generate(seed: 5, blocked: true, configuration: cfg)
        let native = try DICOMFile(data: Data(try DICOMWriter.encode(
            try SynthXADataset.dataset(run: run, kind: .native, caseID: "case_0001", caseNumber: 1, syntax: .explicitVRLittleEndian),
            syntax: .explicitVRLittleEndian))).dataset
        let sub = try DICOMFile(data: Data(try DICOMWriter.encode(
            try SynthXADataset.dataset(run: run, kind: .subtracted, caseID: "case_0001", caseNumber: 1, syntax: .explicitVRLittleEndian),
            syntax: .explicitVRLittleEndian))).dataset
        for d in [native, sub] {
            XCTAssertEqual(d.string(.sopClassUID), "1.2.840.10008.5.1.4.1.1.12.1")
            XCTAssertEqual(d.string(.modality), "XA")
            XCTAssertEqual(d.string(.photometricInterpretation), "MONOCHROME2")
            XCTAssertEqual(d.int(.bitsAllocated), 16)
            XCTAssertEqual(d.int(.bitsStored), 12)
            XCTAssertEqual(d.int(.highBit), 11)
            XCTAssertEqual(d.int(.pixelRepresentation), 0)
            XCTAssertEqual(d.int(.numberOfFrames), 4)
            XCTAssertEqual(d.int(.rows), 64)
            XCTAssertEqual(d.int(.columns), 80)
            XCTAssertEqual(d.data(DICOMTag(0x0028, 0x0009)), [0x18, 0x00, 0x63, 0x10], "Frame Increment Pointer → Frame Time")
            XCTAssertEqual(d.double(.frameTime), 1000, "4500 ms / 4 frames, capped at 1000 ms")
            XCTAssertEqual(d.string(DICOMTag(0x0028, 0x2110)), "00")
            XCTAssertEqual(d.int(DICOMTag(0x0028, 0x1041)), 1)
            XCTAssertEqual(d.string(.patientName), "SYNTHETIC^case_0001")
            XCTAssertEqual(d.string(.patientID), "SYN-case_0001")
            XCTAssertEqual(d.string(DICOMTag(0x0012, 0x0062)), "YES")
            for tag in [DICOMTag(0x0018, 0x0060), DICOMTag(0x0018, 0x1151), DICOMTag(0x0018, 0x1150), DICOMTag(0x0018, 0x1510),
                        DICOMTag(0x0018, 0x1511), DICOMTag(0x0018, 0x1110), DICOMTag(0x0018, 0x1111), DICOMTag(0x0018, 0x0040)] {
                XCTAssertNotNil(d.double(tag), "\(tag)")
            }
            XCTAssertEqual(d.string(.studyInstanceUID), native.string(.studyInstanceUID))
            XCTAssertTrue(d.string(.sopInstanceUID)?.hasPrefix("2.25.") ?? false)
        }
        XCTAssertEqual(native.strings(DICOMTag(0x0008, 0x0008)), ["ORIGINAL", "PRIMARY", "SINGLE PLANE"])
        XCTAssertEqual(native.string(DICOMTag(0x0028, 0x1040)), "LIN")
        XCTAssertEqual(native.string(DICOMTag(0x0028, 0x1090)), "SUB")
        let mask = try XCTUnwrap(native.sequence(.maskSubtractionSequence))
        XCTAssertEqual(mask.count, 1)
        XCTAssertEqual(mask[0].string(DICOMTag(0x0028, 0x6101)), "AVG_SUB")
        XCTAssertEqual(mask[0].ints(DICOMTag(0x0028, 0x6110)), [1])
        XCTAssertEqual(mask[0].ints(DICOMTag(0x0028, 0x6102)), [2, 4])
        XCTAssertEqual(sub.strings(DICOMTag(0x0008, 0x0008)), ["DERIVED", "SECONDARY", "SINGLE PLANE", "SUBTRACTION"])
        XCTAssertNil(sub[.maskSubtractionSequence])
        XCTAssertNotEqual(sub.string(.seriesInstanceUID), native.string(.seriesInstanceUID))
        XCTAssertEqual(sub.sequence(DICOMTag(0x0008, 0x2112))?.first?.string(DICOMTag(0x0008, 0x1155)), native.string(.sopInstanceUID))
        // LIN: vessels darken the native frames; the subtracted frames sit at 2048 with vessels below.
        let tree = SynthAngiogram.coverage(of: run.tree.rendered, rows: 64, columns: 80)
        let last = run.subtracted[2]
        let vessel = zip(last, tree).filter(\.1).map { Double($0.0) }
        let background = zip(last, tree).filter { !$0.1 }.map { Double($0.0) }
        XCTAssertEqual(background.reduce(0, +) / Double(background.count), 2048, accuracy: 60)
        XCTAssertLessThan(vessel.reduce(0, +) / Double(vessel.count), 2048 - 60)
        func sum(_ frame: [UInt16]) -> Double {
            var total = 0.0
            for i in 0..<frame.count where tree[i] { total += Double(frame[i]) }
            return total
        }
        XCTAssertLessThan(sum(run.native[2]), sum(run.native[0]))
    }

    func testTransferSyntaxOptionAndBigEndian() throws {
        let dir = SynthToolRunner.temporaryDirectory("synth-be")
        defer { try? FileManager.default.removeItem(at: dir) }
        let records = try SynthBatch.write(SynthBatchOptions(outputDirectory: dir, count: 2, prevalence: 0.5, seed: 4,
                                                             configuration: cfg, runs: [.native], transferSyntax: .explicitVRBigEndian))
        for r in records {
            XCTAssertNil(r.subtractedFile)
            let url = dir.appendingPathComponent(try XCTUnwrap(r.nativeFile))
            let run = try SynthAngiogram.generate(seed: r.seed, blocked: r.blocked, configuration: cfg)
            XCTAssertTrue(try storedFrames(url, syntax: .explicitVRBigEndian) == run.native.map { $0.map(Int32.init) })
        }
    }
}
