import Foundation
import HummingbirdTesting
import Prometheus
import Server
import WorkerQueue
import XCTest

/// The job API, health, readiness, metrics and bearer authentication, against a real SQLite queue.
final class APITests: ServerTestCase {
    private func key(_ n: Int) -> JobKey {
        JobKey.make(seriesUIDHash: SeriesKey.hashing(uid: "1.2.3.\(n)").rawValue, instanceSetHash: "set",
                    modelFingerprint: "model", adapterFingerprint: nil, profileHash: "profile")
    }

    func testHealthAndReadiness() async throws {
        let store = try makeStore()
        let ready = try makeServer(store: store)
        try await ready.application.test(.router) { client in
            let health = try await get(client, "/healthz")
            XCTAssertEqual(health.status.code, 200)
            XCTAssertEqual(try jsonObject(bodyData(health))["status"] as? String, "ok")
            let readyz = try await get(client, "/readyz")
            XCTAssertEqual(readyz.status.code, 200)
            XCTAssertEqual(try jsonObject(bodyData(readyz))["ready"] as? Bool, true)
        }
        let notReady = try makeServer(store: store, readiness: [ReadinessCheck(name: "model", ok: true, detail: "loaded"),
                                                                 ReadinessCheck(name: "orthanc", ok: false, detail: "connection refused")])
        try await notReady.application.test(.router) { client in
            let readyz = try await get(client, "/readyz")
            XCTAssertEqual(readyz.status.code, 503)
            let object = try jsonObject(bodyData(readyz))
            XCTAssertEqual(object["ready"] as? Bool, false)
            let checks = try XCTUnwrap(object["checks"] as? [[String: Any]])
            XCTAssertEqual(checks.map { $0["name"] as? String }, ["model", "orthanc"])
            XCTAssertEqual(checks.map { $0["ok"] as? Bool }, [true, false])
            XCTAssertEqual(checks[1]["detail"] as? String, "connection refused")
        }
    }

    func testBearerTokens() async throws {
        let server = try makeServer(store: try makeStore(), sink: try SpoolSink(root: folder), tokens: [testToken])
        try await server.application.test(.live) { client in
            try await expectGET(client, "/healthz", status: 200)
            let missing = try await get(client, "/api/v1/jobs")
            XCTAssertEqual(missing.status.code, 401)
            XCTAssertEqual(missing.headers[.wwwAuthenticate]?.hasPrefix("Bearer"), true)
            let wrong = try await get(client, "/api/v1/jobs", token: "test-token-0123456789abcdeX")
            XCTAssertEqual(wrong.status.code, 401)
            XCTAssertEqual(wrong.headers[.wwwAuthenticate], missing.headers[.wwwAuthenticate])
            XCTAssertEqual(bodyText(wrong), bodyText(missing), "the answer must not say what was wrong")
            try await expectGET(client, "/api/v1/jobs", token: testToken, status: 200)
            try await expectGET(client, "/metrics", status: 401)
            try await expectGET(client, "/readyz", status: 401)
            try await expectGET(client, "/no/such/route", status: 401)
            try await expectPOST(client, "/api/v1/jobs/1/retry", status: 401)
            let stow = try await post(client, "/dicom-web/studies", contentType: Fixture.stowContentType,
                                      body: Fixture.multipart([Fixture.dicomPart(Fixture.part10(sopInstance: "1.2.3.9"))]))
            XCTAssertEqual(stow.status.code, 401)
            let stowed = try await post(client, "/dicom-web/studies", token: testToken, contentType: Fixture.stowContentType,
                                        body: Fixture.multipart([Fixture.dicomPart(Fixture.part10(sopInstance: "1.2.3.9"))]))
            XCTAssertEqual(stowed.status.code, 200)
        }
    }

    func testMetricsReportQueueAndIngest() async throws {
        let store = try makeStore()
        for n in 1...3 { _ = try store.enqueue(key: key(n), series: SeriesKey.hashing(uid: "1.2.3.\(n)"), payload: "{}") }
        _ = try store.lease(owner: "worker", leaseSeconds: 60)
        let registry = PrometheusCollectorRegistry()
        let sink = try SpoolSink(root: folder)
        let server = try makeServer(store: store, sink: sink, registry: registry)
        let body = Fixture.multipart([Fixture.dicomPart(Fixture.part10(sopInstance: "1.2.3.77")), Fixture.dicomPart([1, 2])])
        try await server.application.test(.live) { client in
            let stow = try await post(client, "/dicom-web/studies", contentType: Fixture.stowContentType, body: body)
            XCTAssertEqual(stow.status.code, 202)
            let response = try await get(client, "/metrics")
            XCTAssertEqual(response.status.code, 200)
            XCTAssertTrue(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = bodyText(response)
            XCTAssertEqual(metric(text, #"dsa_triage_queue_jobs{state="pending"}"#), 2, text)
            XCTAssertEqual(metric(text, #"dsa_triage_queue_jobs{state="leased"}"#), 1, text)
            XCTAssertEqual(metric(text, #"dsa_triage_queue_jobs{state="dead"}"#), 0, text)
            XCTAssertEqual(metric(text, #"dsa_triage_ingest_bytes_total{source="stow"}"#), Double(body.count), text)
            XCTAssertEqual(metric(text, #"dsa_triage_stow_instances_total{outcome="stored"}"#), 1, text)
            XCTAssertEqual(metric(text, #"dsa_triage_stow_instances_total{outcome="failed"}"#), 1, text)
        }
        // The gauge follows the queue: the next scrape sees the change.
        _ = try store.enqueue(key: key(4), series: SeriesKey.hashing(uid: "1.2.3.4"), payload: "{}")
        try await server.application.test(.router) { client in
            let text = bodyText(try await get(client, "/metrics"))
            XCTAssertEqual(metric(text, #"dsa_triage_queue_jobs{state="pending"}"#), 3, text)
        }
    }

    func testJobsListAndDetail() async throws {
        let store = try makeStore()
        let first = try store.enqueue(key: key(1), series: SeriesKey.hashing(uid: "1.2.3.1"), payload: "{}").id
        _ = try store.enqueue(key: key(2), series: SeriesKey.hashing(uid: "1.2.3.2"), payload: "{}")
        let leased = try XCTUnwrap(try store.lease(owner: "worker", leaseSeconds: 60))
        XCTAssertEqual(leased.id, first)
        _ = try store.complete(id: first, owner: "worker", result: #"{"label":"blocked","p_blocked":0.91}"#)
        let server = try makeServer(store: store)
        try await server.application.test(.router) { client in
            let all = try await get(client, "/api/v1/jobs")
            XCTAssertEqual(all.status.code, 200)
            let jobs = try XCTUnwrap(try JSONSerialization.jsonObject(with: bodyData(all)) as? [[String: Any]])
            XCTAssertEqual(jobs.count, 2)
            let keys = ["id", "key", "series", "version", "state", "attempts", "max_attempts", "next_attempt_at", "lease_owner",
                        "lease_expires_at", "last_error", "skip_reason", "created_at", "updated_at", "finished_at", "is_current"]
            XCTAssertEqual(Set(jobs[0].keys), Set(keys))
            XCTAssertNil(jobs[0]["result"], "lists carry no results")

            let done = try await get(client, "/api/v1/jobs?state=done&limit=5")
            let doneJobs = try XCTUnwrap(try JSONSerialization.jsonObject(with: bodyData(done)) as? [[String: Any]])
            XCTAssertEqual(doneJobs.count, 1)
            XCTAssertEqual(doneJobs.first?["id"] as? Int, Int(first))
            let finished = try XCTUnwrap(doneJobs.first?["finished_at"] as? String)
            let iso = ISO8601DateFormatter()
            iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            XCTAssertNotNil(iso.date(from: finished), finished)
            XCTAssertTrue(finished.hasSuffix("Z"), finished)

            let bad = try await get(client, "/api/v1/jobs?state=bogus")
            XCTAssertEqual(bad.status.code, 400)
            XCTAssertTrue(bodyText(bad).contains("failed_retrying"), bodyText(bad))
            try await expectGET(client, "/api/v1/jobs?limit=0", status: 400)
            try await expectGET(client, "/api/v1/jobs?limit=1001", status: 400)
            try await expectGET(client, "/api/v1/jobs?limit=1000", status: 200)

            let detail = try await get(client, "/api/v1/jobs/\(first)")
            XCTAssertEqual(detail.status.code, 200)
            let object = try jsonObject(bodyData(detail))
            let result = try XCTUnwrap(object["result"] as? [String: Any], "the result is embedded as JSON, not a string")
            XCTAssertEqual(result["label"] as? String, "blocked")
            XCTAssertEqual(object["state"] as? String, "done")
            XCTAssertEqual(object["is_current"] as? Bool, true)
            try await expectGET(client, "/api/v1/jobs/9999", status: 404)
            try await expectGET(client, "/api/v1/jobs/abc", status: 400)
        }
    }

    func testSeriesByUIDAndByKey() async throws {
        let store = try makeStore()
        let uid = "1.2.826.0.1.3680043.8.498.555"
        let id = try store.enqueue(key: key(1), series: SeriesKey.hashing(uid: uid), payload: "{}").id
        let server = try makeServer(store: store)
        try await server.application.test(.router) { client in
            let byUID = try await get(client, "/api/v1/series/\(uid)")
            XCTAssertEqual(byUID.status.code, 200, bodyText(byUID))
            XCTAssertEqual(try jsonObject(bodyData(byUID))["id"] as? Int, Int(id))
            XCTAssertFalse(bodyText(byUID).contains(uid), "the answer holds the hashed key, not the UID")
            let byKey = try await get(client, "/api/v1/series/\(SeriesKey.hashing(uid: uid).rawValue)")
            XCTAssertEqual(byKey.status.code, 200)
            XCTAssertEqual(try jsonObject(bodyData(byKey))["id"] as? Int, Int(id))
            try await expectGET(client, "/api/v1/series/1.2.3.999", status: 404)
            try await expectGET(client, "/api/v1/series/not-a-series", status: 400)
        }
    }

    func testRetryOfDeadJob() async throws {
        let store = try makeStore()  // one attempt: the first failure is final
        let id = try store.enqueue(key: key(1), series: SeriesKey.hashing(uid: "1.2.3.1"), payload: "{}").id
        _ = try XCTUnwrap(try store.lease(owner: "worker", leaseSeconds: 60))
        XCTAssertEqual(try store.fail(id: id, owner: "worker", error: "model crashed").state, .dead)
        let server = try makeServer(store: store)
        try await server.application.test(.router) { client in
            let retried = try await post(client, "/api/v1/jobs/\(id)/retry")
            XCTAssertEqual(retried.status.code, 200, bodyText(retried))
            let object = try jsonObject(bodyData(retried))
            XCTAssertEqual(object["state"] as? String, "pending")
            XCTAssertEqual(object["attempts"] as? Int, 0)
            let again = try await post(client, "/api/v1/jobs/\(id)/retry")
            XCTAssertEqual(again.status.code, 409)
            XCTAssertTrue(bodyText(again).contains("pending"), bodyText(again))
            try await expectPOST(client, "/api/v1/jobs/9999/retry", status: 404)
        }
        XCTAssertEqual(try store.job(id: id)?.state, .pending)
    }
}

/// The value of one sample line (`name{labels} value`) of a Prometheus text exposition.
private func metric(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
    }
    return nil
}
