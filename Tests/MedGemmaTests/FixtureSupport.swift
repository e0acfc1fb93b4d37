import Foundation
import TestSupport

/// The committed fixtures and the cached real model, as the MedGemma tests name them.
enum Fixtures {
    static let packageRoot = TestPaths.packageRoot
    static func url(_ rel: String) -> URL { TestPaths.fixture(rel) }
    static func json(_ rel: String) throws -> [String: Any] { try TestPaths.json(rel) }
    static func gemma270mGGUF() throws -> URL { try TestPaths.gemma270mGGUF() }
    static func gemma270mExport() throws -> URL { try TestPaths.gemma270mExport() }
    static func referenceTokenizer() throws -> URL { try TestPaths.referenceTokenizer() }
}
