import Foundation
import HummingbirdTesting
import Server
import WorkerQueue
import XCTest

/// A monitoring source with fixed figures (the seam the monitoring library fills), including hostile text.
struct FixedDashboard: DashboardSource {
    func figures(now: Date) async throws -> DashboardFigures {
        let day = Date(timeIntervalSince1970: 1_750_000_000)
        return DashboardFigures(
            generatedAt: day,
            tiles: [.init(label: "Sensitivity (90 days)", value: "0.93", detail: "<script>tile()</script>")],
            tables: [.init(title: "Per scanner", columns: ["scanner", "sensitivity"], rows: [["Siemens <b>Artis</b>", "0.95"]])],
            charts: [.init(title: "Sensitivity", series: [.init(name: "overall", points: [
                .init(at: day, value: 0.95, low: 0.9, high: 0.98), .init(at: day.addingTimeInterval(86_400), value: 0.9, low: 0.85, high: 0.94),
            ])], yRange: 0...1, referenceLine: 0.8, referenceLabel: "floor")])
    }

    func export(_ format: DashboardExportFormat, now: Date) async throws -> Data {
        Data((format == .json ? #"{"windows":[]}"# : "window,sensitivity\n90d,0.93\n").utf8)
    }
}

/// The worklist, case pages, adjudication, images, escaping, the dashboard and alerts, over a real SQLite database.
final class ReviewPageTests: ServerTestCase {
    func testWorklistOrderCountsAndFilters() async throws {
        let world = try await ReviewWorld.make(in: folder)
        let server = try makeReviewServer(world)
        try await server.application.test(.router) { client in
            let jar = CookieJar()
            try await jar.signIn(client, name: "rev.one", password: ReviewWorld.password)
            let page = try await jar.get(client, "/worklist")
            XCTAssertEqual(page.status.code, 200)
            let html = bodyText(page)
            XCTAssertEqual(rowIDs(html), ["case-13", "case-14", "case-12", "case-11"], "manual review, then blocked, then patent")
            XCTAssertTrue(html.contains(#"id="count-manual">2<"#))
            XCTAssertTrue(html.contains(#"id="count-audit">2<"#))
            XCTAssertTrue(html.contains(#"id="count-reviewed">0<"#))
            XCTAssertEqual(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'"), true)
            XCTAssertEqual(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'"), true)

            let blocked = bodyText(try await jar.get(client, "/worklist?decision=blocked"))
            XCTAssertEqual(rowIDs(blocked), ["case-12"])
            let north = bodyText(try await jar.get(client, "/worklist?state=all&site=north"))
            XCTAssertEqual(rowIDs(north), ["case-13", "case-11", "case-15"])
            let scanner = bodyText(try await jar.get(client, "/worklist?state=all&scanner=Philips"))
            XCTAssertEqual(rowIDs(scanner), ["case-12"])
            // Days are UTC: case 13 was decided on 2025-06-17, case 14 on 2025-06-18.
            let dated = bodyText(try await jar.get(client, "/worklist?from=2025-06-17&to=2025-06-17"))
            XCTAssertEqual(rowIDs(dated), ["case-13"])
            let bad = try await jar.get(client, "/worklist?state=everything")
            XCTAssertEqual(bad.status.code, 400)
            XCTAssertFalse(html.contains(ReviewWorld.studyUID), "no UID on the worklist")
        }
    }

    func testCasePageVerdictAuditHookAndDisagreement() async throws {
        let world = try await ReviewWorld.make(in: folder)
        let recorder = VerdictHookRecorder()
        let server = try makeReviewServer(world, review: try world.configuration(onVerdict: recorder.hook))
        try await server.application.test(.router) { client in
            let jar = CookieJar()
            try await jar.signIn(client, name: "rev.one", password: ReviewWorld.password)
            let page = try await jar.get(client, "/cases/13")
            XCTAssertEqual(page.status.code, 200)
            let html = bodyText(page)
            XCTAssertTrue(html.contains(#"src="/cases/13/image/case-13.png""#))
            XCTAssertTrue(html.contains("7, 8, 9"), "frames used")
            XCTAssertTrue(html.contains(#"id="pchart""#))
            // P = 0.47 on a 600-wide axis with 20 px margins: x = 20 + 0.47 × 560 = 283.2; threshold 0.5 at 300.
            XCTAssertTrue(html.contains(#"cx="283.2""#), "marker position")
            XCTAssertTrue(html.contains(#"x1="300.0""#), "threshold line")
            XCTAssertTrue(html.contains("Cerebral DSA") && html.contains("Artis Q") && html.contains("VD11"))
            let viewer = "http://pacs.example/ohif/viewer?StudyInstanceUIDs=\(ReviewWorld.studyUID).13"
            XCTAssertTrue(html.contains(#"href="\#(viewer.replacingOccurrences(of: "&", with: "&amp;"))""#), "viewer link")
            XCTAssertEqual(html.components(separatedBy: ReviewWorld.studyUID).count - 1, 1, "the study UID only in the viewer link")
            XCTAssertFalse(html.contains(ReviewWorld.seriesUID), "no series UID")
            let fetched1 = try await jar.get(client, "/cases/999")
            XCTAssertEqual(fetched1.status.code, 404)

            let token = try XCTUnwrap(hiddenField("csrf", in: html))
            let none = try await jar.post(client, "/cases/13/verdict", [("csrf", token)])
            XCTAssertEqual(none.status.code, 400)
            let first = try await jar.post(client, "/cases/13/verdict", [("csrf", token), ("verdict", "blocked"), ("comment", "occluded M1")])
            XCTAssertEqual(first.status.code, 303)
            XCTAssertEqual(first.headers[.location], "/cases/14", "on to the next case of the worklist")

            let admin = CookieJar()
            try await admin.signIn(client, name: "admin", password: ReviewWorld.password)
            let adminToken = try await admin.csrf(client, page: "/cases/13")
            let second = try await admin.post(client, "/cases/13/verdict", [("csrf", adminToken), ("verdict", "patent")])
            XCTAssertEqual(second.status.code, 303)
            let after = bodyText(try await jar.get(client, "/cases/13"))
            XCTAssertTrue(after.contains(#"id="disagreement""#))
            XCTAssertTrue(after.contains("occluded M1"))
            XCTAssertTrue(after.contains("rev.one") && after.contains(">admin<"))
            let counts = bodyText(try await jar.get(client, "/worklist"))
            XCTAssertTrue(counts.contains(#"id="count-reviewed">1<"#))
            XCTAssertTrue(counts.contains(#"id="count-disagreements">1<"#))
            XCTAssertEqual(rowIDs(counts), ["case-14", "case-12", "case-11"], "a reviewed case leaves the pending worklist")
        }
        let verdicts = try await world.store.verdicts(caseJobID: 13)
        XCTAssertEqual(verdicts.map(\.verdict), [.blocked, .patent])
        XCTAssertEqual(verdicts.map(\.userName), ["rev.one", "admin"])
        XCTAssertEqual(verdicts.first?.comment, "occluded M1")
        let audit = try await world.store.auditEvents(limit: 50).filter { $0.action == "verdict" }
        XCTAssertEqual(audit.count, 2)
        XCTAssertEqual(Set(audit.map(\.actor)), ["rev.one", "admin"])
        XCTAssertEqual(audit.compactMap(\.caseJobID), [13, 13])
        let calls = recorder.recorded
        XCTAssertEqual(calls.map(\.0.id), verdicts.map(\.id), "the hook sees every stored verdict")
        XCTAssertEqual(calls.map(\.1.jobID), [13, 13])
        XCTAssertEqual(calls.first?.1.studyInstanceUID, "\(ReviewWorld.studyUID).13")
    }

    func testUserSuppliedTextIsEscaped() async throws {
        let world = try await ReviewWorld.make(in: folder)
        let hostile = ReviewCase(jobID: 21, seriesKey: String(repeating: "f", count: 64), studyInstanceUID: "1.2.3\"><script>uid()</script>",
                                 seriesInstanceUID: "1.2.4", decidedAt: Date(), decision: .manualReview,
                                 reasons: ["<img src=x onerror=reason()>"], pBlocked: 0.5, site: "<b>site</b>",
                                 manufacturer: "\"><script>maker()</script>", manufacturerModel: "M'odel",
                                 protocolName: "<svg onload=protocol()>", worklistReason: .manualReview, samplingProbability: 1)
        _ = try await world.store.recordCase(hostile)
        _ = try await world.store.raiseAlert(kind: "sensitivity_floor", scope: "site=<i>x</i>", message: "<script>alert()</script>",
                                             value: 0.7, limit: 0.8, now: nil)
        let server = try makeReviewServer(world, review: try world.configuration(dashboard: FixedDashboard()))
        try await server.application.test(.router) { client in
            let jar = CookieJar()
            try await jar.signIn(client, name: "rev.one", password: ReviewWorld.password)
            let token = try await jar.csrf(client)
            let comment = "<script>document.title='pwned'</script> & \"quoted\""
            _ = try await jar.post(client, "/cases/21/verdict", [("csrf", token), ("verdict", "non_diagnostic"), ("comment", comment)])
            var pages = [String]()
            for path in ["/cases/21", "/worklist?state=all", "/dashboard"] {
                let fetched2 = try await jar.get(client, path)
                pages.append(bodyText(fetched2))
            }
            let admin = CookieJar()
            try await admin.signIn(client, name: "admin", password: ReviewWorld.password)
            let fetched3 = try await admin.get(client, "/admin/alerts")
            pages.append(bodyText(fetched3))
            let fetched4 = try await CookieJar().get(client, "/login?next=/x%22%3E%3Cscript%3Enext()%3C/script%3E")
            pages.append(bodyText(fetched4))
            let casePage = pages[0]
            XCTAssertTrue(casePage.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; &amp; &quot;quoted&quot;"), casePage)
            XCTAssertTrue(casePage.contains("&lt;img src=x onerror=reason()&gt;"))
            XCTAssertTrue(casePage.contains("&lt;b&gt;site&lt;/b&gt;"))
            XCTAssertTrue(pages[2].contains("&lt;script&gt;tile()&lt;/script&gt;"))
            XCTAssertTrue(pages[2].contains("Siemens &lt;b&gt;Artis&lt;/b&gt;"))
            for (index, html) in pages.enumerated() {
                for needle in ["<script>document", "<img src=x", "<b>site", "<script>maker", "<svg onload", "<script>alert", "<i>x</i>",
                               "<script>tile", "<b>Artis", "<script>next", "<script>uid"] {
                    XCTAssertFalse(html.contains(needle), "page \(index) shows \(needle) unescaped")
                }
                // The only scripts are the app's own file.
                XCTAssertEqual(html.components(separatedBy: "<script").count - 1, 1, "page \(index)")
            }
            XCTAssertTrue(pages[1].contains("&lt;script&gt;alert()&lt;/script&gt;"), "the alert banner, escaped")
            XCTAssertTrue(casePage.contains(#"StudyInstanceUIDs=1.2.3%22%3E%3Cscript%3Euid%28%29%3C%2Fscript%3E""#), "the UID URL-encoded in the link")
        }
    }

    func testTemplatesNeverSkipEscaping() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: root.appendingPathComponent("Sources/Server/ReviewTemplates.swift"), encoding: .utf8)
        XCTAssertFalse(source.contains("{{{"), "triple braces skip HTML escaping")
        XCTAssertFalse(source.contains("{{&"), "{{& skips HTML escaping")
        XCTAssertTrue(source.contains("{{comment}}"))
    }

    func testImageRouteServesOnlyTheCasesOwnPNG() async throws {
        let world = try await ReviewWorld.make(in: folder)
        try Data("not a png".utf8).write(to: world.images.appendingPathComponent("fake.png"))
        let outside = folder.appendingPathComponent("secret.png")
        try grayPNG().write(to: outside)
        try FileManager.default.createSymbolicLink(at: world.images.appendingPathComponent("link.png"), withDestinationURL: outside)
        for (id, file) in [(31, "fake.png"), (32, "link.png"), (33, "../secret.png")] {
            _ = try await world.store.recordCase(ReviewCase(jobID: Int64(id), seriesKey: "k\(id)", studyInstanceUID: "1.2", seriesInstanceUID: "1.3",
                                                            decidedAt: Date(), decision: .patent, imageFile: file))
        }
        let server = try makeReviewServer(world)
        try await server.application.test(.router) { client in
            let jar = CookieJar()
            try await jar.signIn(client, name: "rev.one", password: ReviewWorld.password)
            let own = try await jar.get(client, "/cases/13/image/case-13.png")
            XCTAssertEqual(own.status.code, 200)
            XCTAssertEqual(own.headers[.contentType], "image/png")
            XCTAssertEqual(bodyData(own), grayPNG())
            for path in ["/cases/13/image/case-11.png", "/cases/14/image/case-13.png", "/cases/13/image/..%2Fsecret.png",
                         "/cases/13/image/%2E%2E%2Fworker.sqlite", "/cases/31/image/fake.png", "/cases/32/image/link.png",
                         "/cases/33/image/..%2Fsecret.png", "/cases/13/image/case-13.PNG", "/cases/999/image/case-13.png"] {
                let answer = try await jar.get(client, path)
                XCTAssertEqual(answer.status.code, 404, path)
                XCTAssertNotEqual(answer.headers[.contentType], "image/png", path)
            }
        }
    }

    func testDashboardSeamExportsAlertBannerAndAcknowledgement() async throws {
        let world = try await ReviewWorld.make(in: folder)
        let (alert, _) = try await world.store.raiseAlert(kind: "psi_p_blocked", scope: "overall", message: "PSI 0.31 over 0.25",
                                                          value: 0.31, limit: 0.25, now: nil)
        let server = try makeReviewServer(world, review: try world.configuration(dashboard: FixedDashboard()))
        try await server.application.test(.router) { client in
            let reviewer = CookieJar()
            try await reviewer.signIn(client, name: "rev.one", password: ReviewWorld.password)
            for path in ["/worklist", "/cases/13", "/dashboard"] {
                let fetched5 = try await reviewer.get(client, path)
                XCTAssertTrue(bodyText(fetched5).contains("PSI 0.31 over 0.25"), "banner on \(path)")
            }
            let dashboard = bodyText(try await reviewer.get(client, "/dashboard"))
            XCTAssertTrue(dashboard.contains("Sensitivity (90 days)") && dashboard.contains("0.93"))
            XCTAssertTrue(dashboard.contains("<polyline") && dashboard.contains("<polygon"), "a chart with its interval band")
            XCTAssertTrue(dashboard.contains(#"id="dash-manual">2<"#))
            let json = try await reviewer.get(client, "/dashboard/export.json")
            XCTAssertEqual(json.headers[.contentType], "application/json")
            XCTAssertEqual(bodyText(json), #"{"windows":[]}"#)
            let csv = try await reviewer.get(client, "/dashboard/export.csv")
            XCTAssertEqual(bodyText(csv), "window,sensitivity\n90d,0.93\n")

            let token = try await reviewer.csrf(client)
            let refused = try await reviewer.post(client, "/admin/alerts/\(alert.id)/acknowledge", [("csrf", token), ("note", "seen")])
            XCTAssertEqual(refused.status.code, 403)
            let admin = CookieJar()
            try await admin.signIn(client, name: "admin", password: ReviewWorld.password)
            let adminToken = try await admin.csrf(client, page: "/admin/alerts")
            let noNote = try await admin.post(client, "/admin/alerts/\(alert.id)/acknowledge", [("csrf", adminToken)])
            XCTAssertEqual(noNote.status.code, 400)
            let acked = try await admin.post(client, "/admin/alerts/\(alert.id)/acknowledge",
                                             [("csrf", adminToken), ("note", "new detector calibrated; watching")])
            XCTAssertEqual(acked.status.code, 303)
            let fetched6 = try await reviewer.get(client, "/worklist")
            XCTAssertFalse(bodyText(fetched6).contains("PSI 0.31 over 0.25"), "no banner once acknowledged")
        }
        let stored = try await world.store.alerts(states: [.acknowledged], limit: 10)
        XCTAssertEqual(stored.map(\.id), [alert.id])
        XCTAssertEqual(stored.first?.acknowledgedBy, "admin")
        XCTAssertEqual(stored.first?.note, "new detector calibrated; watching")
        let audit = try await world.store.auditEvents(limit: 50).filter { $0.action == "alert_acknowledged" }
        XCTAssertEqual(audit.map(\.actor), ["admin"])
    }

    func testAssetsAreServedWithoutSession() async throws {
        let world = try await ReviewWorld.make(in: folder)
        let server = try makeReviewServer(world)
        try await server.application.test(.router) { client in
            let js = try await CookieJar().get(client, "/review-assets/review.js")
            XCTAssertEqual(js.status.code, 200)
            XCTAssertTrue(bodyText(js).contains("'j'") && bodyText(js).contains("requestSubmit"))
            let fetched7 = try await CookieJar().get(client, "/review-assets/review.css")
            XCTAssertEqual(fetched7.status.code, 200)
        }
    }

}

/// The ids of the worklist's rows, in order (read from the HTML, not from the server's code).
private func rowIDs(_ html: String) -> [String] {
    html.components(separatedBy: "<tr data-href=").dropFirst().compactMap { row in
        guard let start = row.range(of: #"id=""#), let end = row[start.upperBound...].firstIndex(of: "\"") else { return nil }
        return String(row[start.upperBound..<end])
    }
}
