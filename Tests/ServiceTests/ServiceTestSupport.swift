import DICOM
import Foundation
import TestSupport
import XCTest

enum ServiceFixtures {
    static let samples = TestPaths.packageRoot.appendingPathComponent("samples/angiograms/dicom")

    static func tempDir() throws -> URL {
        let u = ExternalTool.temporaryPath("ServiceTests")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// A copy of a sample run, optionally modified by dcmodify arguments (new UIDs, another birth date, …).
    static func sample(_ name: String, to url: URL, dcmodify args: [String] = []) throws {
        try FileManager.default.copyItem(at: samples.appendingPathComponent(name), to: url)
        if !args.isEmpty {
            let r = try ExternalTool.run("dcmodify", ["-nb"] + args + [url.path], package: "dcmtk")
            guard r.status == 0 else { throw ExternalTool.Missing(description: "dcmodify: \(r.output)") }
        }
    }

    static func header(_ url: URL, _ tag: DICOMTag) throws -> String? { try DICOMFile(url: url).dataset.string(tag) }
}
