import Foundation
import XCTest

/// Tensor is the only door to the C kernels: no Swift file outside `Sources/Tensor` (sources or tests)
/// imports CKernels or names one of its `ck_` functions. A second backend then replaces Tensor alone.
final class KernelSeamTests: XCTestCase {
    /// The package root, three levels above this file (Tests/TensorTests/KernelSeamTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// An import of the kernel module in any form (`import`, `@testable import`, `import func …`).
    static var importPattern: NSRegularExpression? {
        try? NSRegularExpression(pattern: #"^\s*(@\w+\s+)*import\s+(\w+\s+)?CKernels\b"#, options: [.anchorsMatchLines])
    }
    /// A kernel function named as an identifier (a call or a reference): `ck_` at the start of a word.
    static var kernelPattern: NSRegularExpression? { try? NSRegularExpression(pattern: #"(?<![A-Za-z0-9_])ck_[A-Za-z0-9_]+"#) }

    /// Swift files under `folder` (relative to the package root), as paths relative to the root.
    static func swiftFiles(under folder: String) -> [String] {
        let base = root.appendingPathComponent(folder)
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { return [] }
        var found: [String] = []
        for case let url as URL in walker where url.pathExtension == "swift" {
            found.append(String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1)))
        }
        return found.sorted()
    }

    /// The offending lines of `text` ("line N: …"), line comments left out.
    static func violations(in text: String) -> [String] {
        guard let importPattern = Self.importPattern, let kernelPattern = Self.kernelPattern else { return ["the seam patterns do not compile"] }
        var out: [String] = []
        for (n, line) in text.components(separatedBy: "\n").enumerated() {
            let code = line.range(of: "//").map { String(line[..<$0.lowerBound]) } ?? line
            let range = NSRange(code.startIndex..., in: code)
            if importPattern.firstMatch(in: code, range: range) != nil || kernelPattern.firstMatch(in: code, range: range) != nil {
                out.append("line \(n + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        return out
    }

    func testTheScannerSeesTheKernelsInsideTensor() throws {
        // Guards against a vacuous pass (wrong root, broken patterns): Tensor itself does use the kernels.
        let tensorFiles = Self.swiftFiles(under: "Sources/Tensor")
        XCTAssertFalse(tensorFiles.isEmpty, "no Swift files found under \(Self.root.path)/Sources/Tensor")
        let hits = try tensorFiles.flatMap { Self.violations(in: try String(contentsOf: Self.root.appendingPathComponent($0), encoding: .utf8)) }
        XCTAssertFalse(hits.isEmpty, "the seam patterns find no kernel use inside Sources/Tensor")
        XCTAssertEqual(Self.violations(in: "let n = gguf.block_count // ck_add(y, x, n)\nlet s = \"near_black_fraction\""), [])
        XCTAssertEqual(Self.violations(in: "@testable import CKernels\n  ck_add(y, x, n)").count, 2)
    }

    func testNoFileOutsideTensorReachesTheKernels() throws {
        let me = URL(fileURLWithPath: #filePath).standardizedFileURL.path
        let files = (Self.swiftFiles(under: "Sources") + Self.swiftFiles(under: "Tests"))
            .filter { !$0.hasPrefix("Sources/Tensor/") && Self.root.appendingPathComponent($0).standardizedFileURL.path != me }
        XCTAssertGreaterThan(files.count, 50, "expected the package's Swift files under \(Self.root.path)")
        var report: [String] = []
        for file in files {
            let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
            report += Self.violations(in: text).map { "\(file) \($0)" }
        }
        XCTAssertEqual(report, [], "only Sources/Tensor may import CKernels or call its ck_ functions:\n" + report.joined(separator: "\n"))
    }
}
