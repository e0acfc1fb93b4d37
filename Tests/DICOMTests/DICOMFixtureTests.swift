import DICOM
import Foundation
import XCTest

/// Compares the reader with what pydicom reads from the fixtures of tools/make_dicom_fixtures.py.
final class DICOMFixtureTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/dicom").standardized

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func tag(_ key: String) -> DICOMTag {
        let v = UInt32(key, radix: 16)!
        return DICOMTag(UInt16(v >> 16), UInt16(v & 0xFFFF))
    }

    func compare(_ ds: DICOMDataset, _ expected: [String: Any], path: String, file: String) {
        for (key, value) in expected {
            let tag = Self.tag(key)
            let where_ = "\(file) \(path)\(tag)"
            guard let exp = value as? [String: Any] else { continue }
            guard let element = ds[tag] else {
                XCTFail("\(where_): missing")
                continue
            }
            if let vr = exp["vr"] as? String, !vr.contains(" or ") {
                XCTAssertEqual(element.vr.rawValue, vr, "\(where_): VR")
            }
            if let items = exp["items"] as? [[String: Any]] {
                let got = ds.sequence(tag) ?? []
                XCTAssertEqual(got.count, items.count, "\(where_): item count")
                for (i, (g, e)) in zip(got, items).enumerated() {
                    compare(g, e, path: path + "\(tag)[\(i)] > ", file: file)
                }
            }
            if let s = exp["string"] as? String { XCTAssertEqual(ds.string(tag), s, where_) }
            if let s = exp["strings"] as? [String] { XCTAssertEqual(ds.strings(tag), s, where_) }
            if let v = exp["ints"] as? [Int] { XCTAssertEqual(ds.ints(tag), v, where_) }
            if let v = exp["doubles"] as? [Double] {
                let got = ds.doubles(tag) ?? []
                XCTAssertEqual(got.count, v.count, where_)
                for (a, b) in zip(got, v) { XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(b)), where_) }
            }
            if let n = exp["length"] as? Int { XCTAssertEqual(ds.data(tag)?.count, n, where_) }
            if exp["empty"] != nil { XCTAssertEqual(ds.data(tag)?.count ?? 0, 0, where_) }
        }
    }

    func checkFixture(_ name: String) throws {
        let exp = try Self.json(name + ".json")
        let file = try DICOMFile(url: Self.fixtures.appendingPathComponent(name + ".dcm"))
        if let ts = exp["transferSyntax"] as? String {
            XCTAssertEqual(file.transferSyntaxUID, ts, name)
            XCTAssertTrue(file.hasPreamble)
        } else {
            XCTAssertFalse(file.hasPreamble, name)
        }
        XCTAssertEqual(file.dataset.count, exp["topLevelCount"] as? Int, "\(name): top-level element count")
        compare(file.dataset, exp["elements"] as? [String: Any] ?? [:], path: "", file: name)
        if let frags = exp["fragments"] as? [Int] {
            guard case let .encapsulated(enc)? = file.dataset.pixelData else {
                return XCTFail("\(name): pixel data is not encapsulated")
            }
            XCTAssertEqual(enc.fragments.map(\.count), frags)
            XCTAssertEqual(enc.basicOffsetTable.map(Int.init), exp["basicOffsetTable"] as? [Int])
        }
    }

    func testImplicitLittleEndian() throws { try checkFixture("implicit_le") }
    func testExplicitLittleEndian() throws { try checkFixture("explicit_le") }
    func testExplicitBigEndian() throws { try checkFixture("explicit_be") }
    func testDeflated() throws { try checkFixture("deflated") }
    func testEncapsulated() throws { try checkFixture("encapsulated_jpeg") }
    func testNestedUndefinedExplicit() throws { try checkFixture("nested_undefined_explicit") }
    func testNestedUndefinedImplicit() throws { try checkFixture("nested_undefined_implicit") }
    func testRawImplicit() throws { try checkFixture("raw_implicit") }
    func testRawExplicit() throws { try checkFixture("raw_explicit") }
    func testUTF8Name() throws { try checkFixture("utf8_name") }
    func testLatin1Name() throws { try checkFixture("latin1_name") }

    func testTypedAccessorsOnXA() throws {
        for name in ["implicit_le", "explicit_le", "explicit_be", "deflated"] {
            let file = try DICOMFile(url: Self.fixtures.appendingPathComponent(name + ".dcm"))
            let ds = file.dataset
            XCTAssertEqual(ds.string(.modality), "XA", name)
            XCTAssertEqual(ds.int(.rows), 4, name)
            XCTAssertEqual(ds.int(.columns), 3, name)
            XCTAssertEqual(ds.int(.numberOfFrames), 2, name)
            XCTAssertEqual(ds.double(.frameTime), 66.7, name)
            XCTAssertEqual(ds.doubles(.windowCenter), [2048, 1024.5], name)
            XCTAssertEqual(ds.double(.rescaleIntercept), -1024, name)
            XCTAssertEqual(ds.string(.photometricInterpretation), "MONOCHROME2", name)
            XCTAssertEqual(file.meta.string(.mediaStorageSOPClassUID), "1.2.840.10008.5.1.4.1.1.12.1", name)
            let mask = try XCTUnwrap(ds.sequence(.maskSubtractionSequence)?.first, name)
            XCTAssertEqual(mask.string(DICOMTag(0x0028, 0x6101)), "AVG_SUB", name)
            XCTAssertEqual(mask.ints(DICOMTag(0x0028, 0x6102)), [1, 2], name)
            XCTAssertEqual(mask.doubles(DICOMTag(0x0028, 0x6114)), [0.5, -0.25], name)
            XCTAssertEqual(ds.string(DICOMTag(0x0009, 0x0010)), "SYNTH PRIVATE", name)
            guard case let .native(value, _, big)? = ds.pixelData else { return XCTFail("\(name): native pixel data") }
            let bytes = try value.all()
            XCTAssertEqual(bytes.count, 48, name)
            // pydicom writes the value bytes unchanged, so the third pixel reads 200 little endian in every file.
            XCTAssertEqual(Int(bytes[5]) << 8 | Int(bytes[4]), 200, name)
            XCTAssertEqual(big, name == "explicit_be", name)
        }
    }

    func testCharacterSets() throws {
        let utf8 = try DICOMFile(url: Self.fixtures.appendingPathComponent("utf8_name.dcm"))
        XCTAssertEqual(utf8.dataset.string(.patientName), "Müller^Zoë^^Dr.")
        let latin1 = try DICOMFile(url: Self.fixtures.appendingPathComponent("latin1_name.dcm"))
        XCTAssertEqual(latin1.dataset.string(.patientName), "Gómez^Añá")
        XCTAssertTrue(latin1.warnings.isEmpty, "\(latin1.warnings)")
    }

    func testUnsupportedCharacterSetWarnsAndReadsLatin1() throws {
        func element(_ g: UInt16, _ e: UInt16, _ value: [UInt8]) -> [UInt8] {
            [UInt8(g & 0xFF), UInt8(g >> 8), UInt8(e & 0xFF), UInt8(e >> 8)]
                + [UInt8(value.count & 0xFF), UInt8(value.count >> 8), 0, 0] + value
        }
        let bytes = element(0x0008, 0x0005, Array("ISO_IR 144".utf8)) + element(0x0010, 0x0010, [0x41, 0xE9, 0x5E, 0x42])
        let file = try DICOMFile(data: Data(bytes), source: "cyrillic.dcm")
        XCTAssertEqual(file.dataset.string(.patientName), "A\u{E9}^B")
        XCTAssertEqual(file.dataset.strings(.specificCharacterSet), ["ISO_IR 144"])
        XCTAssertEqual(file.warnings.count, 1)
        XCTAssertTrue(file.warnings.first?.contains("ISO_IR 144") ?? false, "\(file.warnings)")
        XCTAssertEqual(DICOMTag(0x7FE0, 0x10).description, "(7FE0,0010)")
    }

    /// Every sample file pydicom ships, read with the values pydicom reads from it.
    func testPydicomSamples() throws {
        let exp = try Self.json("pydicom_samples.json")
        let files = try XCTUnwrap(exp["files"] as? [String: [String: Any]])
        let root = try Self.pydicomTestFiles()
        var parsed = 0
        for (rel, want) in files.sorted(by: { $0.key < $1.key }) {
            let url = root.appendingPathComponent(rel)
            guard FileManager.default.fileExists(atPath: url.path) else {
                XCTFail("\(rel): listed in pydicom_samples.json but missing under \(root.path); regenerate fixtures")
                continue
            }
            if want["pydicomFails"] != nil {
                _ = try? DICOMFile(url: url)  // must not crash; either outcome is fine
                continue
            }
            if rel.contains("truncated") {
                // pydicom reads these leniently; this reader names the element that runs past the end.
                XCTAssertThrowsError(try DICOMFile(url: url), rel) { error in
                    guard case .lengthPastEnd? = error as? DICOMError else { return XCTFail("\(rel): \(error)") }
                }
                continue
            }
            let file: DICOMFile
            do { file = try DICOMFile(url: url) } catch {
                XCTFail("\(rel): \(error)")
                continue
            }
            parsed += 1
            if let ts = want["transferSyntax"] as? String { XCTAssertEqual(file.transferSyntaxUID, ts, rel) }
            if let s = want["sopClassUID"] as? String { XCTAssertEqual(file.dataset.string(.sopClassUID), s, rel) }
            if let r = want["rows"] as? Int { XCTAssertEqual(file.dataset.int(.rows), r, rel) }
            if let c = want["columns"] as? Int { XCTAssertEqual(file.dataset.int(.columns), c, rel) }
            XCTAssertEqual(file.dataset.count, want["topLevelCount"] as? Int, "\(rel): top-level element count")
        }
        XCTAssertGreaterThan(parsed, 40)
    }

    static func pydicomTestFiles() throws -> URL {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import pydicom.data, os; print(os.path.dirname(pydicom.data.__file__))"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = Pipe()
        var dir = ""
        if (try? p.run()) != nil {
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            if p.terminationStatus == 0 {
                dir = String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        let url = URL(fileURLWithPath: dir).appendingPathComponent("test_files")
        guard !dir.isEmpty, FileManager.default.fileExists(atPath: url.path) else {
            struct MissingPydicom: Error, CustomStringConvertible {
                var description: String { "pydicom's sample files are needed: install with `pip install pydicom`" }
            }
            throw MissingPydicom()
        }
        return url
    }
}
