import Foundation
import Server
import XCTest

/// The listener run as the command runs it (`run()`), reached by independent clients: curl over HTTPS with
/// an openssl certificate, and curl streaming a 64 MB part while the process's peak memory is watched.
final class LiveServerTests: ServerTestCase {
    /// Runs `server` until `body` returns, then cancels it.
    private func withRunning<T>(_ server: WorkerHTTPServer, _ body: (Int) async throws -> T) async throws -> T {
        let task = Task { try await server.run() }
        defer { task.cancel() }
        guard let port = await server.waitUntilListening(timeout: .seconds(30)) else {
            task.cancel()
            XCTFail("the server did not start listening")
            throw CancellationError()
        }
        XCTAssertNotEqual(port, 0, "port 0 must report the bound port")
        let value = try await body(port)
        task.cancel()
        _ = await task.result
        return value
    }

    private func makeCertificate(name: String) async throws -> (certificate: String, key: String) {
        let certificate = folder.appendingPathComponent("\(name)-cert.pem").path
        let key = folder.appendingPathComponent("\(name)-key.pem").path
        let result = try await runTool("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                                                   "-days", "1", "-subj", "/CN=localhost",
                                                   "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], logIn: folder)
        XCTAssertEqual(result.status, 0, result.output)
        return (certificate, key)
    }

    func testTLSWithSelfSignedCertificate() async throws {
        let (certificate, key) = try await makeCertificate(name: "server")
        let server = try makeServer(store: try makeStore(), tokens: [testToken]) {
            $0.tlsCertificatePath = certificate
            $0.tlsPrivateKeyPath = key
        }
        try await withRunning(server) { port in
            let out = folder.appendingPathComponent("healthz.json").path
            let https = try await runTool("curl", ["-sS", "--cacert", certificate, "-o", out, "-w", "%{http_code}",
                                                   "https://localhost:\(port)/healthz"], logIn: folder)
            XCTAssertEqual(https.output, "200", https.output)
            XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), #"{"status":"ok"}"#)
            let authorized = try await runTool("curl", ["-sS", "--cacert", certificate, "-o", "/dev/null", "-w", "%{http_code}",
                                                        "-H", "Authorization: Bearer \(testToken)",
                                                        "https://127.0.0.1:\(port)/api/v1/jobs"], logIn: folder)
            XCTAssertEqual(authorized.output, "200", authorized.output)
            // The certificate is checked: without the CA, curl refuses; plain HTTP gets no HTTP answer.
            let untrusted = try await runTool("curl", ["-sS", "-o", "/dev/null", "https://localhost:\(port)/healthz"], logIn: folder)
            XCTAssertNotEqual(untrusted.status, 0)
            let plain = try await runTool("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                                   "http://localhost:\(port)/healthz"], logIn: folder)
            XCTAssertFalse(plain.status == 0 && plain.output == "200", plain.output)
        }
    }

    func testTLSFileErrorsNameTheFile() async throws {
        let (certificate, key) = try await makeCertificate(name: "a")
        let (_, otherKey) = try await makeCertificate(name: "b")
        let store = try makeStore()
        let missing = folder.appendingPathComponent("absent.pem").path
        XCTAssertThrowsError(try makeServer(store: store) { $0.tlsCertificatePath = missing; $0.tlsPrivateKeyPath = key }) { error in
            XCTAssertEqual(error as? ServerConfigurationError, .tlsFile(path: missing, what: "certificate", reason: "no such file"))
        }
        XCTAssertThrowsError(try makeServer(store: store) { $0.tlsCertificatePath = key; $0.tlsPrivateKeyPath = key }) { error in
            guard case .tlsFile(key, "certificate", _)? = error as? ServerConfigurationError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try makeServer(store: store) { $0.tlsCertificatePath = certificate; $0.tlsPrivateKeyPath = otherKey }) { error in
            guard case .tlsFile(otherKey, "private key", _)? = error as? ServerConfigurationError else { return XCTFail("\(error)") }
        }
    }

    /// A 64 MB part sent by curl from a file: stored byte for byte, and the process's peak resident memory
    /// grows by far less than the part (the body is streamed to the staged file, never collected).
    func testLargePartIsStreamedToDisk() async throws {
        let sink = try SpoolSink(root: folder)
        let server = try makeServer(store: try makeStore(), sink: sink)
        let instance = "1.2.826.0.1.3680043.8.498.64"
        let partSize = 64 << 20
        let header = Fixture.part10(sopInstance: instance, payload: 0)
        let chunk = Fixture.noise(count: 1 << 20, seed: 11)
        let bodyFile = folder.appendingPathComponent("body.bin")
        let expectedFile = folder.appendingPathComponent("expected.dcm")
        do {
            _ = FileManager.default.createFile(atPath: bodyFile.path, contents: nil)
            _ = FileManager.default.createFile(atPath: expectedFile.path, contents: nil)
            let body = try FileHandle(forWritingTo: bodyFile)
            let expected = try FileHandle(forWritingTo: expectedFile)
            body.write(Data("--\(Fixture.boundary)\r\nContent-Type: application/dicom\r\n\r\n".utf8))
            // The pixel data element's length field covers the noise that follows.
            var head = header
            let count = UInt32(partSize - header.count)
            head.replaceSubrange((head.count - 4)..<head.count, with: Fixture.le32(count))
            body.write(Data(head))
            expected.write(Data(head))
            var written = head.count
            while written < partSize {
                let piece = Data(chunk.prefix(partSize - written))
                body.write(piece)
                expected.write(piece)
                written += piece.count
            }
            body.write(Data("\r\n--\(Fixture.boundary)--\r\n".utf8))
            try body.close()
            try expected.close()
        }
        let growth = try await withRunning(server) { port -> Int in
            let baseline = try resetPeakResidentKB()
            let out = folder.appendingPathComponent("stow.json").path
            let result = try await runTool("curl", ["-sS", "-o", out, "-w", "%{http_code}", "-X", "POST", "-T", bodyFile.path,
                                                    "-H", "Content-Type: \(Fixture.stowContentType)", "-H", "Expect:",
                                                    "http://127.0.0.1:\(port)/dicom-web/studies"], logIn: folder)
            XCTAssertEqual(result.output, "200", result.output + ((try? String(contentsOfFile: out, encoding: .utf8)) ?? ""))
            return try peakResidentKB() - baseline
        }
        XCTAssertEqual(sink.storedInstances, [instance])
        let stored = sink.spool.appendingPathComponent("\(instance).dcm")
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: stored.path)[.size] as? NSNumber)?.intValue, partSize)
        XCTAssertTrue(FileManager.default.contentsEqual(atPath: stored.path, andPath: expectedFile.path), "the stored part differs")
        XCTAssertLessThan(growth, 24 * 1024, "peak memory grew by \(growth) KB while receiving a 64 MB part")
        XCTAssertEqual(files(in: sink.stagingDirectory), [])
    }

    /// A client that asks `Expect: 100-continue` gets the interim answer at once: curl told to wait up to 30 s
    /// for it sends its 2 MB body straight away and the instance is stored.
    func testExpectContinueIsAnswered() async throws {
        let sink = try SpoolSink(root: folder)
        let server = try makeServer(store: try makeStore(), sink: sink)
        let instance = "1.2.826.0.1.3680043.8.498.65"
        var head = Fixture.part10(sopInstance: instance, payload: 0)
        let noise = Fixture.noise(count: 2 << 20, seed: 5)
        head.replaceSubrange((head.count - 4)..<head.count, with: Fixture.le32(UInt32(noise.count)))
        var body = Data("--\(Fixture.boundary)\r\nContent-Type: application/dicom\r\n\r\n".utf8)
        body.append(Data(head))
        body.append(Data(noise))
        body.append(Data("\r\n--\(Fixture.boundary)--\r\n".utf8))
        let bodyFile = folder.appendingPathComponent("continue.bin")
        try body.write(to: bodyFile)
        let (status, verbose, seconds) = try await withRunning(server) { port -> (String, String, Double) in
            let out = folder.appendingPathComponent("continue.json").path
            let trace = folder.appendingPathComponent("continue.trace").path
            let start = Date()
            let result = try await runTool("curl", ["-sS", "-v", "-o", out, "-w", "%{http_code}", "--expect100-timeout", "30",
                                                    "--stderr", trace, "--data-binary", "@" + bodyFile.path,
                                                    "-H", "Content-Type: \(Fixture.stowContentType)", "-H", "Expect: 100-continue",
                                                    "http://127.0.0.1:\(port)/dicom-web/studies"], logIn: folder)
            return (result.output, (try? String(contentsOfFile: trace, encoding: .utf8)) ?? "", Date().timeIntervalSince(start))
        }
        XCTAssertEqual(status, "200", verbose)
        XCTAssertTrue(verbose.contains("HTTP/1.1 100 Continue"), verbose)
        XCTAssertLessThan(seconds, 10, "curl waited for the 100 Continue")
        XCTAssertEqual(sink.storedInstances, [instance])
    }

    /// A chunked upload (no Content-Length) is cut off at the limit while streaming: 413, nothing kept.
    func testChunkedBodyOverLimitIsRefusedWhileStreaming() async throws {
        let sink = try SpoolSink(root: folder)
        let server = try makeServer(store: try makeStore(), sink: sink) { $0.maxStowBodyBytes = 200_000 }
        let bodyFile = folder.appendingPathComponent("big.bin")
        let body = Fixture.multipart([Fixture.dicomPart(Fixture.part10(sopInstance: "1.2.3.500.1", payload: 100_000)),
                                      Fixture.dicomPart(Fixture.part10(sopInstance: "1.2.3.500.2", payload: 300_000))])
        try Data(body).write(to: bodyFile)
        try await withRunning(server) { port in
            let result = try await runTool("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-T", bodyFile.path,
                                                    "-H", "Transfer-Encoding: chunked", "-H", "Expect:",
                                                    "-H", "Content-Type: \(Fixture.stowContentType)",
                                                    "http://127.0.0.1:\(port)/dicom-web/studies"], logIn: folder)
            XCTAssertEqual(result.output, "413", result.output)
        }
        XCTAssertEqual(sink.storedInstances, [])
        XCTAssertEqual(files(in: sink.stagingDirectory), [])
    }
}

/// Resets the kernel's peak resident set size of this process (VmHWM) to the current one and returns it, in KB.
private func resetPeakResidentKB() throws -> Int {
    try Data("5".utf8).write(to: URL(fileURLWithPath: "/proc/self/clear_refs"))
    return try statusField("VmRSS")
}

/// The peak resident set size since the last reset, in KB.
private func peakResidentKB() throws -> Int {
    try statusField("VmHWM")
}

private func statusField(_ name: String) throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
        let digits = line.dropFirst(name.count + 1).filter(\.isNumber)
        if let value = Int(digits) { return value }
    }
    throw ToolMissing(description: "/proc/self/status has no \(name)")
}
