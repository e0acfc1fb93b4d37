import Foundation
import HummingbirdTesting
import Server
import XCTest

/// STOW-RS over a live listener: responses checked against PS3.18 (status, DICOM JSON tags) and the spool
/// checked on disk — every acknowledged instance is there, byte for byte, and nothing else is.
final class StowTests: ServerTestCase {

    func testTwoGoodPartsAreStoredAndAcknowledged() async throws {
        let sink = try SpoolSink(root: folder)
        let server = try makeServer(store: try makeStore(), sink: sink)
        let a = Fixture.part10(sopInstance: "1.2.826.0.1.3680043.8.498.11", payload: 70_000, seed: 3)
        let b = Fixture.part10(sopInstance: "1.2.826.0.1.3680043.8.498.12", payload: 10, seed: 4)
        let body = Fixture.multipart([Fixture.dicomPart(a), ([], b)])
        try await server.application.test(.live) { client in
            let response = try await post(client, "/dicom-web/studies/1.2.3.4", contentType: Fixture.stowContentType, body: body)
            XCTAssertEqual(response.status.code, 200, bodyText(response))
            XCTAssertEqual(response.headers[.contentType], "application/dicom+json")
            let object = try jsonObject(bodyData(response))
            let referenced = try XCTUnwrap(sequence(object, "00081199"))
            XCTAssertEqual(referenced.count, 2)
            XCTAssertEqual(value(referenced[0], "00081155") as? String, "1.2.826.0.1.3680043.8.498.11")
            XCTAssertEqual(value(referenced[1], "00081155") as? String, "1.2.826.0.1.3680043.8.498.12")
            XCTAssertEqual(value(referenced[0], "00081150") as? String, Fixture.ctClass)
            XCTAssertEqual((referenced[0]["00081150"] as? [String: Any])?["vr"] as? String, "UI")
            XCTAssertNil(referenced[0]["00081196"], "no warning")
            XCTAssertNil(object["00081198"], "no FailedSOPSequence when all stored")
            let retrieve = try XCTUnwrap(value(object, "00081190") as? String)
            XCTAssertTrue(retrieve.hasPrefix("http://") && retrieve.hasSuffix("/dicom-web/studies/1.2.3.4"), retrieve)
            XCTAssertEqual((object["00081190"] as? [String: Any])?["vr"] as? String, "UR")
        }
        XCTAssertEqual(sink.storedInstances, ["1.2.826.0.1.3680043.8.498.11", "1.2.826.0.1.3680043.8.498.12"])
        XCTAssertEqual(try Data(contentsOf: sink.spool.appendingPathComponent("1.2.826.0.1.3680043.8.498.11.dcm")), Data(a))
        XCTAssertEqual(try Data(contentsOf: sink.spool.appendingPathComponent("1.2.826.0.1.3680043.8.498.12.dcm")), Data(b))
        XCTAssertEqual(files(in: sink.stagingDirectory), [])
    }

    func testOneGoodOneBadIsPartialSuccess() async throws {
        let sink = try SpoolSink(root: folder)
        let server = try makeServer(store: try makeStore(), sink: sink)
        let good = Fixture.part10(sopInstance: "1.2.3.100.1")
        let truncated = Array(Fixture.part10(sopInstance: "1.2.3.100.2").prefix(100))
        let body = Fixture.multipart([Fixture.dicomPart(good), Fixture.dicomPart(truncated)])
        try await server.application.test(.live) { client in
            let response = try await post(client, "/dicom-web/studies", contentType: Fixture.stowContentType, body: body)
            XCTAssertEqual(response.status.code, 202, bodyText(response))
            let object = try jsonObject(bodyData(response))
            XCTAssertEqual(sequence(object, "00081199")?.count, 1)
            let failed = try XCTUnwrap(sequence(object, "00081198"))
            XCTAssertEqual(failed.count, 1)
            XCTAssertEqual(value(failed[0], "00081197") as? Int, 0xC000)
            XCTAssertEqual((failed[0]["00081197"] as? [String: Any])?["vr"] as? String, "US")
            // Posted to /studies: the study is unknown, so the Type 2 RetrieveURL is present and empty.
            XCTAssertNotNil(object["00081190"])
            XCTAssertNil(value(object, "00081190"))
        }
        XCTAssertEqual(sink.storedInstances, ["1.2.3.100.1"])
        XCTAssertEqual(files(in: sink.spool), ["1.2.3.100.1.dcm"])
        XCTAssertEqual(files(in: sink.stagingDirectory), [])
    }

    func testAllBadIsConflictAndOtherTypesFailAlone() async throws {
        let sink = try SpoolSink(root: folder)
        let server = try makeServer(store: try makeStore(), sink: sink)
        try await server.application.test(.live) { client in
            let allBad = Fixture.multipart([Fixture.dicomPart(Array("not dicom".utf8)), ([], Fixture.noise(count: 500, seed: 5))])
            let response = try await post(client, "/dicom-web/studies", contentType: Fixture.stowContentType, body: allBad)
            XCTAssertEqual(response.status.code, 409, bodyText(response))
            let object = try jsonObject(bodyData(response))
            XCTAssertNil(object["00081199"])
            XCTAssertNil(object["00081190"])
            XCTAssertEqual(sequence(object, "00081198")?.count, 2)

            // A text part and an empty part fail alone (0xC000) and never reach the sink; the DICOM part is stored.
            let good = Fixture.part10(sopInstance: "1.2.3.200.1")
            let mixed = Fixture.multipart([(["Content-Type: text/plain"], Array("hello".utf8)), Fixture.dicomPart([]),
                                           Fixture.dicomPart(good)])
            let second = try await post(client, "/dicom-web/studies", contentType: Fixture.stowContentType, body: mixed)
            XCTAssertEqual(second.status.code, 202, bodyText(second))
            let answer = try jsonObject(bodyData(second))
            let failed = try XCTUnwrap(sequence(answer, "00081198"))
            XCTAssertEqual(failed.compactMap { value($0, "00081197") as? Int }, [0xC000, 0xC000])
            XCTAssertEqual(sequence(answer, "00081199")?.count, 1)
        }
        XCTAssertEqual(sink.storedInstances, ["1.2.3.200.1"])
        XCTAssertEqual(files(in: sink.stagingDirectory), [])
    }

    func testRequestsRefusedAsAWhole() async throws {
        let sink = try SpoolSink(root: folder)
        let server = try makeServer(store: try makeStore(), sink: sink) { $0.maxStowBodyBytes = 50_000 }
        let good = Fixture.part10(sopInstance: "1.2.3.300.1")
        try await server.application.test(.live) { client in
            let body = Fixture.multipart([Fixture.dicomPart(good)])
            let wrongType = try await post(client, "/dicom-web/studies", contentType: "application/json", body: body)
            XCTAssertEqual(wrongType.status.code, 415)
            XCTAssertTrue(bodyText(wrongType).contains("multipart/related"), bodyText(wrongType))

            let noType = try await post(client, "/dicom-web/studies", contentType: "multipart/related; boundary=\(Fixture.boundary)", body: body)
            XCTAssertEqual(noType.status.code, 415)

            let noBoundary = try await post(client, "/dicom-web/studies", contentType: #"multipart/related; type="application/dicom""#, body: body)
            XCTAssertEqual(noBoundary.status.code, 400)
            XCTAssertTrue(bodyText(noBoundary).contains("boundary"), bodyText(noBoundary))

            let unterminated = Fixture.multipart([Fixture.dicomPart(good)], close: false)
            let cut = try await post(client, "/dicom-web/studies", contentType: Fixture.stowContentType, body: unterminated)
            XCTAssertEqual(cut.status.code, 400)
            XCTAssertTrue(bodyText(cut).contains("closing boundary"), bodyText(cut))
            XCTAssertFalse(bodyText(cut).contains("00081199"))

            let noParts = try await post(client, "/dicom-web/studies", contentType: Fixture.stowContentType,
                                         body: Array("--\(Fixture.boundary)--\r\n".utf8))
            XCTAssertEqual(noParts.status.code, 400)

            let wrongBoundary = try await post(client, "/dicom-web/studies", contentType: #"multipart/related; type="application/dicom"; boundary=other"#, body: body)
            XCTAssertEqual(wrongBoundary.status.code, 400)

            let big = Fixture.multipart([Fixture.dicomPart(Fixture.part10(sopInstance: "1.2.3.300.2", payload: 60_000))])
            let tooLarge = try await post(client, "/dicom-web/studies", contentType: Fixture.stowContentType, body: big)
            XCTAssertEqual(tooLarge.status.code, 413)

            let badStudy = try await post(client, "/dicom-web/studies/not-a-uid", contentType: Fixture.stowContentType, body: body)
            XCTAssertEqual(badStudy.status.code, 400)
        }
        XCTAssertEqual(sink.storedInstances, [], "nothing of a refused request is stored")
        XCTAssertEqual(files(in: sink.spool), [])
        XCTAssertEqual(files(in: sink.stagingDirectory), [])
    }

    /// Stored with a warning is still 202 (PS3.18: "warnings or failures exist"), and the item carries
    /// WarningReason; the study URL follows the configured public base URL.
    func testWarningIsAcceptedWithWarningReason() async throws {
        let sink = WarningSink(base: try SpoolSink(root: folder))
        let server = try makeServer(store: try makeStore(), sink: sink) { $0.publicBaseURL = "https://worker.example:8443/" }
        let body = Fixture.multipart([Fixture.dicomPart(Fixture.part10(sopInstance: "1.2.3.400.1"))])
        try await server.application.test(.router) { client in
            let response = try await post(client, "/dicom-web/studies/1.2.3.400", contentType: Fixture.stowContentType, body: body)
            XCTAssertEqual(response.status.code, 202, bodyText(response))
            let object = try jsonObject(bodyData(response))
            let item = try XCTUnwrap(sequence(object, "00081199")?.first)
            XCTAssertEqual(value(item, "00081196") as? Int, 0xB000)
            XCTAssertNil(object["00081198"])
            XCTAssertEqual(value(object, "00081190") as? String, "https://worker.example:8443/dicom-web/studies/1.2.3.400")
        }
        XCTAssertEqual(sink.base.storedInstances, ["1.2.3.400.1"])
    }

    func testWithoutSinkThereIsNoStowRoute() async throws {
        let server = try makeServer(store: try makeStore(), sink: nil)
        try await server.application.test(.router) { client in
            let response = try await post(client, "/dicom-web/studies", contentType: Fixture.stowContentType,
                                          body: Fixture.multipart([Fixture.dicomPart([1])]))
            XCTAssertEqual(response.status.code, 404)
        }
    }
}

/// A DICOM JSON sequence's items.
private func sequence(_ object: [String: Any], _ tag: String) -> [[String: Any]]? {
    (object[tag] as? [String: Any])?["Value"] as? [[String: Any]]
}

/// A DICOM JSON element's first value.
private func value(_ item: [String: Any], _ tag: String) -> Any? {
    ((item[tag] as? [String: Any])?["Value"] as? [Any])?.first
}

/// The spool sink, reporting every stored instance as coerced (0xB000), as a sink that fixed an attribute would.
private struct WarningSink: StowInstanceSink {
    let base: SpoolSink
    var stagingDirectory: URL { base.stagingDirectory }

    func accept(stagedFile: URL, studyInstanceUID: String?) async -> StowPartOutcome {
        let outcome = await base.accept(stagedFile: stagedFile, studyInstanceUID: studyInstanceUID)
        guard case .stored(let sopClass, let instance, _) = outcome else { return outcome }
        return .stored(sopClassUID: sopClass, sopInstanceUID: instance, warning: 0xB000)
    }
}
