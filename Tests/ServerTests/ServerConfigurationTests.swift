import Foundation
import Server
import WorkerQueue
import XCTest

/// Listen-address safety, the token file's rules, the bearer comparison and Content-Type reading.
final class ServerConfigurationTests: ServerTestCase {
    func testLoopbackRecognition() {
        for host in ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"] {
            XCTAssertTrue(LoopbackAddress.isLoopback(host), host)
        }
        for host in ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "192.168.1.2", "example.org", "localhost.example.org", "127.0.0", ""] {
            XCTAssertFalse(LoopbackAddress.isLoopback(host), host)
        }
    }

    func testNonLoopbackWithoutTokensIsRefused() throws {
        XCTAssertThrowsError(try ServerConfiguration(host: "0.0.0.0").validate()) { error in
            XCTAssertEqual(error as? ServerConfigurationError, .unauthenticatedListen(host: "0.0.0.0"))
            XCTAssertEqual("\(error)", "refusing to listen on 0.0.0.0 without authentication: give --token-file")
        }
        XCTAssertThrowsError(try ServerConfiguration(host: "192.168.1.20").validate())
        XCTAssertNoThrow(try ServerConfiguration(host: "0.0.0.0", bearerTokens: [testToken]).validate())
        XCTAssertNoThrow(try ServerConfiguration(host: "127.0.0.1").validate())
        XCTAssertNoThrow(try ServerConfiguration(host: "::1").validate())
        // The server refuses to be built, not only validate().
        let store = try makeStore()
        XCTAssertThrowsError(try makeServer(store: store) { $0.host = "0.0.0.0" }) { error in
            XCTAssertEqual(error as? ServerConfigurationError, .unauthenticatedListen(host: "0.0.0.0"))
        }
    }

    func testOtherSettingsAreChecked() {
        XCTAssertThrowsError(try ServerConfiguration(port: 70000).validate()) { XCTAssertEqual($0 as? ServerConfigurationError, .invalidPort(70000)) }
        XCTAssertThrowsError(try ServerConfiguration(tlsCertificatePath: "/c.pem").validate()) {
            XCTAssertEqual($0 as? ServerConfigurationError, .incompleteTLS(given: "certificate", missing: "private key"))
        }
        XCTAssertThrowsError(try ServerConfiguration(maxStowBodyBytes: 0).validate())
        XCTAssertThrowsError(try ServerConfiguration(publicBaseURL: "worker:8080").validate())
        XCTAssertNoThrow(try ServerConfiguration(publicBaseURL: "https://worker.example:8443/").validate())
    }

    private func writeTokens(_ text: String, mode: Int = 0o600) throws -> URL {
        let url = folder.appendingPathComponent("tokens-\(UUID().uuidString)")
        try Data(text.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
        return url
    }

    func testLoadTokens() throws {
        let url = try writeTokens("# operators\n\n  \(testToken)  \r\nsecond-token-abcdefghijkl\n# end\n")
        XCTAssertEqual(try ServerConfiguration.loadTokens(file: url), [testToken, "second-token-abcdefghijkl"])
    }

    func testLoadTokensErrors() throws {
        let missing = folder.appendingPathComponent("absent")
        XCTAssertThrowsError(try ServerConfiguration.loadTokens(file: missing)) { error in
            guard case .tokenFileUnreadable(let path, _)? = error as? ServerConfigurationError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, missing.path)
        }
        let empty = try writeTokens("# nothing but a comment\n\n")
        XCTAssertThrowsError(try ServerConfiguration.loadTokens(file: empty)) {
            XCTAssertEqual($0 as? ServerConfigurationError, .tokenFileEmpty(path: empty.path))
        }
        let open = try writeTokens(testToken + "\n", mode: 0o644)
        XCTAssertThrowsError(try ServerConfiguration.loadTokens(file: open)) { error in
            XCTAssertEqual(error as? ServerConfigurationError, .tokenFilePermissions(path: open.path, mode: 0o644))
            XCTAssertTrue("\(error)".contains("chmod 600"))
        }
        let spaced = try writeTokens("\(testToken)\nhas a space in it somewhere\n")
        XCTAssertThrowsError(try ServerConfiguration.loadTokens(file: spaced)) { error in
            guard case .tokenFileBadLine(_, 2, _)? = error as? ServerConfigurationError else { return XCTFail("\(error)") }
            XCTAssertFalse("\(error)".contains("has a space"), "a bad line must not be quoted: it may be a secret")
        }
        let short = try writeTokens("short\n")
        XCTAssertThrowsError(try ServerConfiguration.loadTokens(file: short)) { error in
            guard case .tokenFileBadLine(_, 1, _)? = error as? ServerConfigurationError else { return XCTFail("\(error)") }
        }
    }

    func testBearerComparison() {
        let auth = BearerTokenAuthenticator(tokens: [testToken, "another-token-0123456789"])
        XCTAssertTrue(auth.accepts(authorization: "Bearer \(testToken)"))
        XCTAssertTrue(auth.accepts(authorization: "bearer   another-token-0123456789 "))
        XCTAssertFalse(auth.accepts(authorization: nil))
        XCTAssertFalse(auth.accepts(authorization: "Bearer"))
        XCTAssertFalse(auth.accepts(authorization: "Basic \(testToken)"))
        XCTAssertFalse(auth.accepts(authorization: "Bearer \(testToken)x"))
        XCTAssertFalse(auth.accepts(authorization: "Bearer \(testToken.dropLast())"))
        XCTAssertFalse(auth.accepts(authorization: "Bearer " + String(repeating: "a", count: testToken.count)))
        XCTAssertFalse(BearerTokenAuthenticator(tokens: []).accepts(token: ""))
    }

    func testStowContentType() throws {
        let b = Fixture.boundary
        for header in [#"multipart/related; type="application/dicom"; boundary=\#(b)"#,
                       #"Multipart/Related;boundary="\#(b)";TYPE=Application/DICOM"#,
                       "multipart/related; type=application/dicom; boundary=\(b); start=\"<x>\""] {
            XCTAssertEqual(try StowContentType.boundary(fromContentType: header), b, header)
        }
        func status(_ header: String?) -> Int? {
            do {
                _ = try StowContentType.boundary(fromContentType: header)
                return nil
            } catch {
                return error.status.code
            }
        }
        XCTAssertEqual(status(nil), 415)
        XCTAssertEqual(status("application/json"), 415)
        XCTAssertEqual(status("multipart/related; boundary=x"), 415)
        XCTAssertEqual(status(#"multipart/related; type="application/dicom+json"; boundary=x"#), 415)
        XCTAssertEqual(status(#"multipart/related; type="application/dicom""#), 400)
        XCTAssertEqual(status(#"multipart/related; type="application/dicom"; boundary="unclosed"#), 400)
        XCTAssertEqual(status("multipart/related; type=application/dicom; boundary=" + String(repeating: "x", count: 71)), 400)
    }

    func testSeriesIdentifiers() {
        XCTAssertTrue(SeriesIdentifier.isUID("1.2.840.10008.5.1.4.1.1.12.1"))
        XCTAssertFalse(SeriesIdentifier.isUID("1..2"))
        XCTAssertFalse(SeriesIdentifier.isUID("12345"))
        XCTAssertFalse(SeriesIdentifier.isUID("1.2.a"))
        XCTAssertFalse(SeriesIdentifier.isUID("1." + String(repeating: "2", count: 70)))
        let uid = "1.2.826.0.1.3680043.8.498.1"
        XCTAssertEqual(SeriesIdentifier.key(for: uid), SeriesKey.hashing(uid: uid))
        let key = SeriesKey.hashing(uid: uid).rawValue
        XCTAssertEqual(SeriesIdentifier.key(for: key.uppercased())?.rawValue, key)
        XCTAssertNil(SeriesIdentifier.key(for: "not-a-uid"))
    }
}
