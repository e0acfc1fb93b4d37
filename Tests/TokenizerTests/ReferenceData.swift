import Foundation
import XCTest
@testable import Tokenizer

/// The real Gemma 3 tokenizer and the fixtures made from it by tools/make_tokenizer_fixtures.py.
struct ReferenceData: Sendable {
    /// Package root: three levels above this file (Tests/TokenizerTests/ReferenceData.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let compressedTokenizer = packageRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/reference/gemma3-tokenizer.json.xz")
    /// sha256 of the decompressed file, from shared/reference/README.md.
    static let tokenizerSHA256 = "533f2498b17da556f81283cc8b3b59acc55610c4b5b38d733c33b3f2cd6d4002"
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/tokenizer")

    let tokenizerURL: URL
    let tokenizerData: Data
    let tokenizer: GemmaTokenizer
    let corpus: Corpus
    let loadSeconds: Double

    /// Loaded once per test process; a failure is reported by every test that needs it.
    static let shared: Result<ReferenceData, ReferenceDataError> = Result { try load() }.mapError { error in
        error as? ReferenceDataError ?? ReferenceDataError(message: "\(error)")
    }

    static func get() throws -> ReferenceData { try shared.get() }

    private static func load() throws -> ReferenceData {
        let url = try decompressedTokenizer()
        let data = try Data(contentsOf: url)
        let start = Date()
        let tokenizer = try GemmaTokenizer(tokenizerJSONData: data, source: url.path)
        let seconds = Date().timeIntervalSince(start)
        let corpusURL = fixtures.appendingPathComponent("corpus.json")
        guard let corpusData = FileManager.default.contents(atPath: corpusURL.path) else {
            throw ReferenceDataError(message: "fixture \(corpusURL.path) is missing (run tools/make_tokenizer_fixtures.py)")
        }
        let corpus = try JSONDecoder().decode(Corpus.self, from: corpusData)
        return ReferenceData(tokenizerURL: url, tokenizerData: data, tokenizer: tokenizer, corpus: corpus, loadSeconds: seconds)
    }

    /// `<root>/.cache/gemma3-tokenizer.json`, decompressed with xz on first use and checked against the
    /// README's sha256.
    static func decompressedTokenizer() throws -> URL {
        let fm = FileManager.default
        guard fm.fileExists(atPath: compressedTokenizer.path) else {
            throw ReferenceDataError(message: "reference tokenizer \(compressedTokenizer.path) is missing: the Gemma 3 "
                                        + "tokenizer tests need shared/reference/gemma3-tokenizer.json.xz next to the package")
        }
        let cache = packageRoot.appendingPathComponent(".cache")
        let target = cache.appendingPathComponent("gemma3-tokenizer.json")
        if fm.fileExists(atPath: target.path), (try? sha256(of: target)) == tokenizerSHA256 { return target }
        try fm.createDirectory(at: cache, withIntermediateDirectories: true)
        guard let xz = ["/usr/bin/xz", "/bin/xz", "/usr/local/bin/xz", "/opt/homebrew/bin/xz"].first(where: { fm.isExecutableFile(atPath: $0) }) else {
            throw ReferenceDataError(message: "xz is needed to decompress \(compressedTokenizer.path) (apt-get install xz-utils)")
        }
        let temporary = cache.appendingPathComponent("gemma3-tokenizer.json.\(ProcessInfo.processInfo.processIdentifier).tmp")
        guard fm.createFile(atPath: temporary.path, contents: nil) else {
            throw ReferenceDataError(message: "cannot create \(temporary.path)")
        }
        let output = try FileHandle(forWritingTo: temporary)
        let status = try run(xz, ["-dc", compressedTokenizer.path], output: output)
        try output.close()
        guard status == 0 else {
            try? fm.removeItem(at: temporary)
            throw ReferenceDataError(message: "xz -dc \(compressedTokenizer.path) failed with status \(status)")
        }
        if let digest = try sha256(of: temporary), digest != tokenizerSHA256 {
            try? fm.removeItem(at: temporary)
            throw ReferenceDataError(message: "decompressed \(compressedTokenizer.path) has sha256 \(digest), expected \(tokenizerSHA256)")
        }
        _ = try? fm.removeItem(at: target)
        try fm.moveItem(at: temporary, to: target)
        return target
    }

    /// The file's sha256 via sha256sum/shasum, or nil when neither tool exists.
    private static func sha256(of url: URL) throws -> String? {
        let fm = FileManager.default
        let tools: [(String, [String])] = [("/usr/bin/sha256sum", []), ("/bin/sha256sum", []), ("/usr/bin/shasum", ["-a", "256"])]
        guard let (tool, options) = tools.first(where: { fm.isExecutableFile(atPath: $0.0) }) else { return nil }
        let pipe = Pipe()
        let status = try run(tool, options + [url.path], output: pipe.fileHandleForWriting)
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard status == 0 else { return nil }
        return text.split(separator: " ").first.map(String.init)
    }

    private static func run(_ tool: String, _ arguments: [String], output: FileHandle) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

struct ReferenceDataError: Error, CustomStringConvertible, LocalizedError {
    let message: String
    var description: String { message }
    var errorDescription: String? { message }
}

/// Tests/Fixtures/tokenizer/corpus.json.
struct Corpus: Decodable, Sendable {
    struct EncodeCase: Decodable, Sendable {
        let name: String
        let text: String
        let ids: [Int]
        let decoded: String
        let decoded_skipping_special: String
    }
    struct DecodeCase: Decodable, Sendable {
        let name: String
        let ids: [Int]
        let decoded: String
        let decoded_skipping_special: String
    }
    struct ChatCase: Decodable, Sendable {
        let name: String
        let system: String?
        let text: String
        let image_count: Int
        let prompt_without_bos: String
        let ids: [Int]
    }
    struct Variant: Decodable, Sendable {
        struct Result: Decodable, Sendable {
            let name: String
            let ids: [Int]
            let decoded: String
        }
        let name: String
        let substitutions: [[String]]
        let encode: [Result]
    }
    let vocabulary_size: Int
    let token_ids: [String: Int]
    let encode: [EncodeCase]
    let decode: [DecodeCase]
    let chat: [ChatCase]
    let variants: [Variant]
}

/// Byte-exact string comparison: Swift's `==` treats canonically equivalent strings as equal, which
/// would hide NFC/NFD differences.
func XCTAssertSameBytes(_ actual: String, _ expected: String, _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    if Array(actual.utf8) != Array(expected.utf8) {
        XCTFail("\(message()): got \(actual.debugDescription), expected \(expected.debugDescription)", file: file, line: line)
    }
}
