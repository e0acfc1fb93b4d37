import Foundation
import HummingbirdTesting
import TestSupport
import XCTest

// Requests through HummingbirdTesting's clients with optional bearer token and Content-Type. Free
// functions, so that the @Sendable test closures need not capture the (non-Sendable) test case.

func get(_ client: some TestClientProtocol, _ uri: String, token: String? = nil) async throws -> TestResponse {
    if let token {
        return try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"])
    }
    return try await client.execute(uri: uri, method: .get)
}

func post(_ client: some TestClientProtocol, _ uri: String, token: String? = nil, contentType: String? = nil,
          body: [UInt8]? = nil) async throws -> TestResponse {
    switch (token, contentType) {
    case let (token?, type?):
        return try await client.execute(uri: uri, method: .post, headers: [.authorization: "Bearer \(token)", .contentType: type],
                                        body: body.map { .init(bytes: $0) })
    case let (token?, nil):
        return try await client.execute(uri: uri, method: .post, headers: [.authorization: "Bearer \(token)"],
                                        body: body.map { .init(bytes: $0) })
    case let (nil, type?):
        return try await client.execute(uri: uri, method: .post, headers: [.contentType: type], body: body.map { .init(bytes: $0) })
    case (nil, nil):
        return try await client.execute(uri: uri, method: .post, body: body.map { .init(bytes: $0) })
    }
}

/// Asserts the status of a GET (the URI is the failure message).
func expectGET(_ client: some TestClientProtocol, _ uri: String, token: String? = nil, status: Int,
               file: StaticString = #filePath, line: UInt = #line) async throws {
    let code = try await get(client, uri, token: token).status.code
    XCTAssertEqual(code, status, "GET \(uri)", file: file, line: line)
}

/// Asserts the status of a body-less POST.
func expectPOST(_ client: some TestClientProtocol, _ uri: String, token: String? = nil, status: Int,
                file: StaticString = #filePath, line: UInt = #line) async throws {
    let code = try await post(client, uri, token: token).status.code
    XCTAssertEqual(code, status, "POST \(uri)", file: file, line: line)
}

func bodyData(_ response: TestResponse) -> Data {
    Data(response.body.readableBytesView)
}

func bodyText(_ response: TestResponse) -> String {
    String(decoding: response.body.readableBytesView, as: UTF8.self)
}

/// Runs an external tool without blocking a concurrency thread (the server under test needs them);
/// stdout and stderr go to a file, returned with the exit status.
func runTool(_ name: String, _ arguments: [String], logIn folder: URL) async throws -> (status: Int32, output: String) {
    guard let executable = ExternalTool.locate(name) else {
        throw ToolMissing(description: "\(name) not found: install the Debian package `\(name)` (scripts/bootstrap installs it)")
    }
    let log = folder.appendingPathComponent("\(name)-\(UUID().uuidString).log")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    defer { try? handle.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = handle
    process.standardError = handle
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        process.terminationHandler = { _ in continuation.resume() }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

struct ToolMissing: Error, CustomStringConvertible {
let description: String
}

/// The JSON object of a response body.
func jsonObject(_ body: Data) throws -> [String: Any] {
    try XCTUnwrap(JSONSerialization.jsonObject(with: body) as? [String: Any], String(decoding: body, as: UTF8.self))
}

/// Files left in a folder (staging must be empty after every request).
func files(in url: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
}
