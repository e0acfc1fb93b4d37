import Angiography
import Foundation
import XCTest

final class SeriesCatalogTests: XCTestCase {
    func testGroupsFolderByUID() throws {
        let root = AngioFixtures.url("catalog")
        let exp = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: AngioFixtures.url("catalog.json"))) as? [String: Any])
        let catalog = try SeriesCatalog(scanning: root)
        func rel(_ p: String) -> String { String(p.dropFirst(root.path.count + 1)) }
        let studies = try XCTUnwrap(exp["studies"] as? [[String: Any]])
        XCTAssertEqual(catalog.studies.count, studies.count)
        XCTAssertEqual(catalog.seriesCount, 3)
        for (got, want) in zip(catalog.studies, studies) {
            XCTAssertEqual(got.studyInstanceUID, want["study"] as? String)
            let series = try XCTUnwrap(want["series"] as? [[String: Any]])
            XCTAssertEqual(got.series.map(\.seriesInstanceUID), series.map { $0["series"] as? String ?? "" })
            XCTAssertEqual(got.series.map { $0.instances.map { rel($0.path) } }, series.map { $0["instances"] as? [String] ?? [] })
        }
        XCTAssertEqual(catalog.rejected.map { rel($0.path) }, exp["rejected"] as? [String])
        XCTAssertTrue(catalog.rejected.first?.reason.contains("not a DICOM file") ?? false, "\(catalog.rejected)")
        // Instance Numbers 1, 2 put z_first before a_second, whatever the file names say.
        XCTAssertEqual(catalog.studies.flatMap(\.series).first { $0.instances.count == 2 }?.instances.map(\.instanceNumber), [1, 2])
    }

    func testScanGoesOnPastBadFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("angio-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Data(contentsOf: AngioFixtures.url("xa_subtracted.dcm"))
        try good.write(to: dir.appendingPathComponent("sub/good.dcm"))
        try good.prefix(300).write(to: dir.appendingPathComponent("cut.dcm"))
        try Data().write(to: dir.appendingPathComponent("empty"))
        try Data(contentsOf: AngioFixtures.url("sr.dcm")).write(to: dir.appendingPathComponent("report.dcm"))
        let catalog = try SeriesCatalog(scanning: dir)
        XCTAssertEqual(catalog.seriesCount, 2)  // the XA run and the SR (routing decides later)
        XCTAssertEqual(Set(catalog.rejected.map { URL(fileURLWithPath: $0.path).lastPathComponent }), ["cut.dcm", "empty"])
        for r in catalog.rejected { XCTAssertTrue(r.reason.contains(r.path), r.reason) }
        XCTAssertThrowsError(try SeriesCatalog(scanning: dir.appendingPathComponent("missing")))
    }
}
