import Foundation
import Monitoring
import WorkerQueue
import XCTest

/// monitoring.json's shape (the keys the acceptance checks read), report.html's escaping and self-containment,
/// groups.csv, and stored alerts joined with current conditions.
final class ReportOutputTests: XCTestCase {
    func report(stored: [AlertRecord] = []) throws -> MonitoringReport {
        var traffic = SimulatedTraffic()
        traffic.days = 40
        traffic.change = (scanner: 0, day: 0, sensitivity: 0.5)
        var (cases, verdicts) = traffic.generate(seed: 3)
        // Equipment text that must come out escaped, never as markup.
        cases[0].site = "<script>alert(1)</script>"
        let now = SimulatedTraffic.start.addingTimeInterval(40 * SimulatedTraffic.day)
        return try Monitor.evaluate(cases: cases, verdicts: verdicts, reference: traffic.reference(seed: 7), now: now, storedAlerts: stored)
    }

    func testJSONHasTheIssueKeys() throws {
        let r = try report()
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: r.jsonData()) as? [String: Any])
        let windows = try XCTUnwrap(json["windows"] as? [String: Any])
        XCTAssertEqual(Set(windows.keys), ["last_30_days", "last_90_days", "last_200_verdicts"])
        for (_, w) in windows {
            let groups = try XCTUnwrap((w as? [String: Any])?["groups"] as? [String: Any])
            for name in ["overall", "site=North", "manufacturer=Acme", "model=Alpha 3", "software_version=VA10", "protocol=Carotid"] {
                let g = try XCTUnwrap(groups[name] as? [String: Any], name)
                for key in ["sensitivity", "specificity", "ppv", "npv", "review_rate"] {
                    let m = try XCTUnwrap(g[key] as? [String: Any], key)
                    XCTAssertEqual(Set(m.keys).intersection(["value", "ci", "n"]).count, 3, key)
                    let wm = try XCTUnwrap((g["weighted"] as? [String: Any])?[key] as? [String: Any], "weighted \(key)")
                    XCTAssertNotNil(wm["n"])
                }
                XCTAssertTrue(g.keys.contains("psi"))
            }
        }
        let alerts = try XCTUnwrap(json["alerts"] as? [[String: Any]])
        let fn = try XCTUnwrap(alerts.first { $0["kind"] as? String == "cusum_false_negative" && $0["group"] as? String == "model=Alpha 3" })
        XCTAssertEqual(fn["state"] as? String, "open")
        XCTAssertNotNil(fn["opened"] as? String)
        // Reads back (ISO 8601 keeps whole seconds, so compare what does not depend on sub-second times).
        let back = try MonitoringReport.decode(r.jsonData())
        XCTAssertEqual(back.windows["last_30_days"]?.groups, r.windows["last_30_days"]?.groups)
        XCTAssertEqual(back.conditions, r.conditions)
    }

    func testStoredAlertsKeepTheirStateAndOpeningTime() throws {
        let opened = SimulatedTraffic.start.addingTimeInterval(3 * SimulatedTraffic.day)
        let acked = AlertRecord(id: 9, kind: "cusum_false_negative", scope: "model=Alpha 3", message: "m", value: 9, limit: 8,
                                state: .acknowledged, openedAt: opened, updatedAt: opened, acknowledgedBy: "admin", note: "checking")
        let cleared = AlertRecord(id: 10, kind: "psi_p_blocked", scope: "site=South", message: "m", value: 0.3, limit: 0.25,
                                  state: .open, openedAt: opened, updatedAt: opened)
        let r = try report(stored: [acked, cleared])
        let a = try XCTUnwrap(r.alerts.first { $0.kind == "cusum_false_negative" && $0.group == "model=Alpha 3" })
        XCTAssertEqual(a.state, "acknowledged")
        XCTAssertEqual(a.opened, opened)
        XCTAssertTrue(a.active)
        let c = try XCTUnwrap(r.alerts.first { $0.kind == "psi_p_blocked" && $0.group == "site=South" })
        XCTAssertFalse(c.active)
    }

    func testHTMLIsEscapedAndSelfContained() throws {
        let r = try report()
        let html = MonitoringHTML.render(r)
        XCTAssertFalse(html.contains("<script"), "equipment text must be escaped")
        XCTAssertTrue(html.contains("site=&lt;script&gt;alert(1)&lt;/script&gt;"))
        for external in ["http://", "https://", "src=", "<link", "@import"] { XCTAssertFalse(html.contains(external), external) }
        for id in ["fig-weekly-performance", "fig-weekly-review", "fig-histogram", "fig-calibration", "groups-last_30_days"] {
            XCTAssertTrue(html.contains("id=\"\(id)\""), id)
        }
        // No identifiers: the UIDs of the cases never reach the page.
        XCTAssertFalse(html.contains("2.25."))
        for a in r.conditions { XCTAssertFalse(a.message.contains("Alpha") || a.message.contains("2.25."), a.message) }
    }

    func testCSVAndArtifacts() throws {
        let r = try report()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("monitoring-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try MonitoringArtifacts.write(r, to: dir)
        for f in MonitoringArtifacts.fileNames { XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path), f) }
        let csv = try String(contentsOf: dir.appendingPathComponent("groups.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n")
        XCTAssertEqual(lines.first.map(String.init), MonitoringCSV.header.joined(separator: ","))
        let overall = try XCTUnwrap(lines.first { $0.hasPrefix("last_30_days,overall,") }).split(separator: ",", omittingEmptySubsequences: false)
        XCTAssertEqual(overall.count, MonitoringCSV.header.count)
        let f = try XCTUnwrap(r.windows["last_30_days"]?.groups["overall"])
        XCTAssertEqual(Double(overall[MonitoringCSV.header.firstIndex(of: "sensitivity")!]), f.sensitivity.value)
        XCTAssertEqual(Int(overall[MonitoringCSV.header.firstIndex(of: "adjudicated")!]), f.adjudicated)
    }

    func testConfigurationIsValidated() {
        var c = MonitoringConfiguration()
        c.psiBins = 1
        XCTAssertThrowsError(try c.validate())
        XCTAssertThrowsError(try Monitor.evaluate(cases: [], verdicts: [], reference: ReferenceDistribution(pBlocked: [1.5]), now: Date()))
        let partial = try? JSONDecoder().decode(MonitoringConfiguration.self, from: Data(#"{"sensitivity_floor": 0.9}"#.utf8))
        XCTAssertEqual(partial?.sensitivityFloor, 0.9)
        XCTAssertEqual(partial?.windowDays, [30, 90])
    }
}
