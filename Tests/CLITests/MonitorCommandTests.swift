import Foundation
import TestSupport
import WorkerQueue
import XCTest

/// `dsa-triage monitor`: a SQLite worker database seeded through the store (cases, verdicts, an acknowledged
/// alert), the built binary run over it, monitoring.json's documented keys checked against figures this file
/// computes on its own from the seeded rows; report.html self-contained; clear errors for bad input; and
/// `evaluate --write-profile` storing the reference distribution that `monitor --profile` then uses.
final class MonitorCommandTests: XCTestCase {
    static let day = 86_400.0
    static let now = Date(timeIntervalSince1970: 1_772_323_200)  // 2026-03-01T00:00:00Z
    static let nowText = "2026-03-01T00:00:00Z"
    static let z = 1.959963984540054

    struct Scanner { let site: String, manufacturer: String, model: String, software: String }
    static let scanners = [
        Scanner(site: "North", manufacturer: "Acme", model: "Alpha 3", software: "VA10"),
        Scanner(site: "North", manufacturer: "Borealis", model: "Beta 2", software: "VB20"),
        Scanner(site: "South", manufacturer: "Coro", model: "Gamma 1", software: "VC30"),
    ]
    /// Every case of this site is an audited patent call (sampling probability 1) that a reviewer found blocked.
    static let east = Scanner(site: "East", manufacturer: "Delta", model: "D 1", software: "VD1")

    /// One seeded verdict: case, reviewer (1 or 2), verdict, when.
    struct SeedVerdict { let job: Int64, user: Int, verdict: Verdict, at: Date }

    /// 300 cases over 100 days in three scanners (every decision kind, audit samples at 0.5 and 0.25, a
    /// disagreement, a non-diagnostic-only case) and 25 recent East cases that must raise the sensitivity floor.
    static func seed() -> (cases: [ReviewCase], verdicts: [SeedVerdict]) {
        var cases: [ReviewCase] = [], verdicts: [SeedVerdict] = []
        for i in 0..<300 {
            let at = now.addingTimeInterval(-(Double(i % 100) + 0.25) * day)
            let s = scanners[i % 3]
            let kind = i % 10
            let decision: CaseDecision, p: Double?, pi: Double
            var reason: WorklistReason?
            switch kind {
            case 0: (decision, p, pi) = (.skipped, nil, 0)
            case 1: (decision, p, pi) = (.unreadable, nil, 0)
            case 2, 3: (decision, p, pi) = (.manualReview, 0.405 + 0.01 * Double(i % 7), 1)
            case 4, 5, 6: (decision, p, pi) = (.blocked, 0.705 + 0.01 * Double(i % 7), 0.5)
            default: (decision, p, pi) = (.patent, 0.105 + 0.01 * Double(i % 7), 0.25)
            }
            if decision == .manualReview { reason = .manualReview } else if pi > 0, (i / 10) % 2 == 0 { reason = .auditSample }
            let job = Int64(1000 + i)
            cases.append(ReviewCase(jobID: job, seriesKey: "series-\(i)", studyInstanceUID: "2.25.\(i)", seriesInstanceUID: "2.25.\(i).1",
                                    decidedAt: at, decision: decision, pBlocked: p, threshold: 0.6, reviewBandLow: 0.4, reviewBandHigh: 0.6,
                                    site: s.site, manufacturer: s.manufacturer, manufacturerModel: s.model, softwareVersions: s.software,
                                    protocolName: "Cerebral", meanGray: p == nil ? nil : 100 + Double(i % 11),
                                    dynamicRange: p == nil ? nil : 170 + Double(i % 13), frameCount: p == nil ? nil : 8 + i % 20,
                                    worklistReason: reason, samplingProbability: pi))
            guard reason != nil else { continue }
            let truth: Verdict
            switch decision {
            case .manualReview: truth = i % 4 == 2 ? .blocked : .patent
            case .blocked: truth = i % 7 == 0 ? .patent : .blocked
            default: truth = i % 9 == 0 ? .blocked : .patent
            }
            if i == 13 {
                verdicts.append(SeedVerdict(job: job, user: 1, verdict: .nonDiagnostic, at: at.addingTimeInterval(3600)))
                continue
            }
            verdicts.append(SeedVerdict(job: job, user: 1, verdict: truth, at: at.addingTimeInterval(3600)))
            if i == 12 || i == 42 {
                // A second reviewer disagrees later: the later verdict is the label.
                verdicts.append(SeedVerdict(job: job, user: 2, verdict: truth == .blocked ? .patent : .blocked, at: at.addingTimeInterval(7200)))
            }
        }
        for k in 0..<25 {
            let at = now.addingTimeInterval(-(Double(k) * 0.2 + 0.1) * day)
            let job = Int64(5000 + k)
            cases.append(ReviewCase(jobID: job, seriesKey: "east-\(k)", studyInstanceUID: "2.25.9\(k)", seriesInstanceUID: "2.25.9\(k).1",
                                    decidedAt: at, decision: .patent, pBlocked: 0.055, threshold: 0.6, reviewBandLow: 0.4, reviewBandHigh: 0.6,
                                    site: east.site, manufacturer: east.manufacturer, manufacturerModel: east.model,
                                    softwareVersions: east.software, protocolName: "Cerebral", meanGray: 120, dynamicRange: 190, frameCount: 12,
                                    worklistReason: .auditSample, samplingProbability: 1))
            verdicts.append(SeedVerdict(job: job, user: 1, verdict: .blocked, at: at.addingTimeInterval(600)))
        }
        return (cases, verdicts)
    }

    /// Writes the seeded rows through the SQLite review store; returns the database path.
    static func seededDatabase(in dir: URL) async throws -> (path: String, cases: [ReviewCase], verdicts: [SeedVerdict]) {
        let path = dir.appendingPathComponent("worker.sqlite").path
        let (cases, verdicts) = try await seed(into: try SQLiteJobStore(path: path))
        return (path, cases, verdicts)
    }

    /// Writes the seeded rows through a store (SQLite or PostgreSQL) and closes it.
    static func seed(into store: any WorkerDatabase) async throws -> (cases: [ReviewCase], verdicts: [SeedVerdict]) {
        let (cases, verdicts) = seed()
        let r1 = try await store.addUser(name: "reviewer1", role: .reviewer, passwordHash: "$2b$12$unused", now: now.addingTimeInterval(-200 * day))
        let r2 = try await store.addUser(name: "reviewer2", role: .reviewer, passwordHash: "$2b$12$unused", now: now.addingTimeInterval(-200 * day))
        let recorded = try await store.recordCases(cases)
        XCTAssertEqual(recorded, cases.count)
        let imports = verdicts.map { VerdictImport(caseJobID: $0.job, userID: $0.user == 1 ? r1.id : r2.id, verdict: $0.verdict, at: $0.at) }
        let imported = try await store.importVerdicts(imports)
        XCTAssertEqual(imported, verdicts.count)
        // A stored alert an admin acknowledged, whose condition no longer holds.
        let (alert, _) = try await store.raiseAlert(kind: "cusum_review_rate", scope: "site=South", message: "Review-rate CUSUM 9.1 is above its limit 8.000.",
                                                     value: 9.1, limit: 8, now: now.addingTimeInterval(-20 * day))
        _ = try await store.acknowledgeAlert(id: alert.id, by: "admin", note: "new protocol, watching", now: now.addingTimeInterval(-19 * day))
        try await store.close()
        return (cases, verdicts)
    }

    // MARK: Independent figures

    /// Wilson 95 % interval for p on n (possibly an effective, non-integer n).
    static func wilson(_ p: Double, _ n: Double) -> [Double] {
        let z2 = z * z, denom = 1 + z2 / n
        let center = (p + z2 / (2 * n)) / denom
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denom
        return [p == 0 ? 0 : max(0, center - half), p == 1 ? 1 : min(1, center + half)]
    }

    /// What one figure must be: successes among n (naive) or the weights.
    struct Expected {
        var successes = 0, n = 0
        var wSuccess = 0.0, w = 0.0, w2 = 0.0, wn = 0
        mutating func add(_ success: Bool, weight: Double?) {
            n += 1
            if success { successes += 1 }
            if let weight {
                wn += 1
                w += weight
                w2 += weight * weight
                if success { wSuccess += weight }
            }
        }
    }

    /// Naive and weighted sensitivity, specificity, PPV, NPV and the review rate of the cases in `groups`
    /// decided after `from`, from the seeded rows (label: the latest diagnostic verdict).
    static func expected(cases: [ReviewCase], verdicts: [SeedVerdict], from: Date, group: (ReviewCase) -> Bool) -> [String: Expected] {
        var latest: [Int64: SeedVerdict] = [:]
        for v in verdicts where v.verdict != .nonDiagnostic {
            if let l = latest[v.job], l.at >= v.at { continue }
            latest[v.job] = v
        }
        var out: [String: Expected] = ["sensitivity": Expected(), "specificity": Expected(), "ppv": Expected(), "npv": Expected(), "review_rate": Expected()]
        for c in cases where c.decidedAt > from && c.decidedAt <= now && group(c) {
            guard [.blocked, .patent, .manualReview].contains(c.decision) else { continue }
            out["review_rate"]!.add(c.decision == .manualReview, weight: nil)
            guard let v = latest[c.jobID] else { continue }
            let blocked = v.verdict == .blocked, flagged = c.decision != .patent
            let w = c.samplingProbability > 0 ? 1 / c.samplingProbability : nil
            if blocked { out["sensitivity"]!.add(flagged, weight: w) } else { out["specificity"]!.add(!flagged, weight: w) }
            if flagged { out["ppv"]!.add(blocked, weight: w) } else { out["npv"]!.add(!blocked, weight: w) }
        }
        return out
    }

    func checkEstimate(_ json: Any?, successes: Int, n: Int, _ label: String) throws {
        let e = try XCTUnwrap(json as? [String: Any], label)
        XCTAssertEqual(e["n"] as? Int, n, label)
        if n == 0 {
            XCTAssertTrue(e["value"] is NSNull, label)
            return
        }
        let p = Double(successes) / Double(n)
        XCTAssertEqual(try XCTUnwrap(e["value"] as? Double, label), p, accuracy: 1e-12, label)
        let ci = try XCTUnwrap(e["ci"] as? [Double], label)
        let want = Self.wilson(p, Double(n))
        XCTAssertEqual(ci[0], want[0], accuracy: 1e-9, label)
        XCTAssertEqual(ci[1], want[1], accuracy: 1e-9, label)
    }

    func checkWeighted(_ json: Any?, _ x: Expected, _ label: String) throws {
        let e = try XCTUnwrap(json as? [String: Any], label)
        XCTAssertEqual(e["n"] as? Int, x.wn, label)
        guard x.w > 0 else {
            XCTAssertTrue(e["value"] is NSNull, label)
            return
        }
        let p = x.wSuccess / x.w, nEff = x.w * x.w / x.w2
        XCTAssertEqual(try XCTUnwrap(e["value"] as? Double, label), p, accuracy: 1e-12, label)
        XCTAssertEqual(try XCTUnwrap(e["effective_n"] as? Double, label), nEff, accuracy: 1e-9, label)
        let ci = try XCTUnwrap(e["ci"] as? [Double], label)
        let want = Self.wilson(p, nEff)
        XCTAssertEqual(ci[0], want[0], accuracy: 1e-9, label)
        XCTAssertEqual(ci[1], want[1], accuracy: 1e-9, label)
    }

    /// PSI of the window's P(blocked) against a reference of equal shares in ten equal bins (empty bins at 1e-4).
    static func psiAgainstUniform(_ values: [Double]) -> Double {
        var counts = [Int](repeating: 0, count: 10)
        for v in values { counts[bin(v)] += 1 }
        return counts.reduce(0.0) { acc, c in
            let a = max(Double(c) / Double(values.count), 1e-4)
            return acc + (a - 0.1) * log(a / 0.1)
        }
    }

    /// The P(blocked) bin of ten equal ones: [k/10, (k+1)/10), the last one closed.
    static func bin(_ v: Double) -> Int { (1..<10).filter { Double($0) / 10 <= v }.count }

    static func json(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    /// A task profile (the shipped default) with a reference whose P(blocked) fills ten equal bins equally.
    static func profileWithReference(in dir: URL) throws -> String {
        var profile = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: CLI.packageRoot.appendingPathComponent("profiles/default-task-profile.json")))
            as? [String: Any])
        profile["reference_distribution"] = ["source": "uniform test reference", "p_blocked": (0..<100).map { (Double($0) + 0.5) / 100 }]
        let path = dir.appendingPathComponent("profile.json")
        try JSONSerialization.data(withJSONObject: profile, options: [.sortedKeys]).write(to: path)
        return path.path
    }

    // MARK: Tests

    func testFiguresMatchTheSeededDatabase() async throws {
        let dir = try CLI.tempDir()
        let (db, cases, verdicts) = try await Self.seededDatabase(in: dir)
        let profile = try Self.profileWithReference(in: dir)
        let out = dir.appendingPathComponent("report")
        let r = try CLI.run(["monitor", "--db", "sqlite:" + db, "--out", out.path, "--now", Self.nowText, "--profile", profile])
        XCTAssertEqual(r.status, 0, r.stderr)
        for f in ["monitoring.json", "report.html", "groups.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
        let m = try Self.json(out.appendingPathComponent("monitoring.json"))
        XCTAssertEqual(m["now"] as? String, Self.nowText)
        XCTAssertEqual(m["reference_source"] as? String, "uniform test reference")
        let truth = try XCTUnwrap(m["ground_truth"] as? [String: Any])
        XCTAssertEqual(truth["cases"] as? Int, cases.count)
        XCTAssertEqual(truth["disagreements"] as? Int, 2)
        XCTAssertEqual(truth["non_diagnostic_only"] as? Int, 1)
        let windows = try XCTUnwrap(m["windows"] as? [String: [String: Any]])
        XCTAssertEqual(Set(windows.keys), ["last_30_days", "last_90_days", "last_200_verdicts"])

        let groupsToCheck: [(String, (ReviewCase) -> Bool)] = [
            ("overall", { _ in true }), ("site=North", { $0.site == "North" }), ("site=East", { $0.site == "East" }),
            ("manufacturer=Coro", { $0.manufacturer == "Coro" }), ("model=Alpha 3", { $0.manufacturerModel == "Alpha 3" }),
            ("software_version=VB20", { $0.softwareVersions == "VB20" }),
        ]
        for (key, days) in [("last_30_days", 30.0), ("last_90_days", 90.0)] {
            let from = Self.now.addingTimeInterval(-days * Self.day)
            let groups = try XCTUnwrap(windows[key]?["groups"] as? [String: [String: Any]], key)
            for (name, member) in groupsToCheck {
                let g = try XCTUnwrap(groups[name], "\(key) \(name)")
                let weighted = try XCTUnwrap(g["weighted"] as? [String: Any], "\(key) \(name)")
                let x = Self.expected(cases: cases, verdicts: verdicts, from: from, group: member)
                for figure in ["sensitivity", "specificity", "ppv", "npv", "review_rate"] {
                    let e = try XCTUnwrap(x[figure])
                    try checkEstimate(g[figure], successes: e.successes, n: e.n, "\(key) \(name) \(figure)")
                    if figure != "review_rate" { try checkWeighted(weighted[figure], e, "\(key) \(name) weighted \(figure)") }
                }
                XCTAssertEqual(g["cases"] as? Int, cases.filter { $0.decidedAt > from && member($0) }.count, "\(key) \(name)")
                let ps = cases.filter { $0.decidedAt > from && member($0) }.compactMap(\.pBlocked)
                XCTAssertEqual(try XCTUnwrap(g["psi"] as? Double, "\(key) \(name) psi"), Self.psiAgainstUniform(ps), accuracy: 1e-9, "\(key) \(name) psi")
            }
        }
        // Every seeded case's group is there, and nothing else (protocol=Cerebral is the fifth dimension).
        let groups30 = try XCTUnwrap(windows["last_30_days"]?["groups"] as? [String: Any])
        XCTAssertEqual(Set(groups30.keys), ["overall", "site=North", "site=South", "site=East", "manufacturer=Acme", "manufacturer=Borealis",
                                             "manufacturer=Coro", "manufacturer=Delta", "model=Alpha 3", "model=Beta 2", "model=Gamma 1", "model=D 1",
                                             "software_version=VA10", "software_version=VB20", "software_version=VC30", "software_version=VD1",
                                             "protocol=Cerebral"])

        // Alerts: East's missed blocked cases break the floor (open, new); the stored acknowledged alert is listed beside it.
        let alerts = try XCTUnwrap(m["alerts"] as? [[String: Any]])
        for a in alerts { XCTAssertTrue(Set(["kind", "group", "opened", "state"]).isSubset(of: a.keys), "\(a)") }
        let floor = try XCTUnwrap(alerts.first { $0["kind"] as? String == "sensitivity_floor" && $0["group"] as? String == "site=East" }, "\(alerts)")
        XCTAssertEqual(floor["state"] as? String, "open")
        XCTAssertEqual(floor["opened"] as? String, Self.nowText)
        XCTAssertEqual(floor["active"] as? Bool, true)
        XCTAssertFalse(alerts.contains { $0["kind"] as? String == "sensitivity_floor" && ($0["group"] as? String)?.hasPrefix("site=North") == true })
        let stored = try XCTUnwrap(alerts.first { $0["kind"] as? String == "cusum_review_rate" && $0["group"] as? String == "site=South" }, "\(alerts)")
        XCTAssertEqual(stored["state"] as? String, "acknowledged")
        XCTAssertEqual(stored["note"] as? String, "new protocol, watching")
        XCTAssertEqual(stored["opened"] as? String, "2026-02-09T00:00:00Z")

        // The summary names the counts and the open alert; the database's alerts are as they were.
        XCTAssertTrue(r.stdout.contains("\(cases.count) cases"), r.stdout)
        XCTAssertTrue(r.stdout.contains("open sensitivity_floor site=East"), r.stdout)
        let store = try SQLiteJobStore(path: db)
        let after = try await store.alerts(states: Set(AlertRecord.State.allCases), limit: 100)
        try await store.close()
        XCTAssertEqual(after.map(\.kind), ["cusum_review_rate"], "monitor must not raise or resolve alerts")
        XCTAssertEqual(after.first?.state, .acknowledged)

        // report.html: one self-contained page without scripts or outside resources, naming no UID.
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>") || html.hasPrefix("<!doctype html>"), String(html.prefix(40)))
        XCTAssertFalse(html.lowercased().contains("<script"))
        for external in ["src=\"http", "href=\"http", "url(http", "<link ", "@import"] { XCTAssertFalse(html.contains(external), external) }
        XCTAssertTrue(html.contains("sensitivity_floor"))
        XCTAssertTrue(html.contains("site=East"))
        XCTAssertFalse(html.contains("2.25.90"), "no Study Instance UID in the report")
        XCTAssertFalse(try String(contentsOf: out.appendingPathComponent("monitoring.json"), encoding: .utf8).contains("2.25.90"))
    }

    func testSinceLeavesEarlierCasesOut() async throws {
        let dir = try CLI.tempDir()
        let (db, cases, _) = try await Self.seededDatabase(in: dir)
        let out = dir.appendingPathComponent("since")
        let r = try CLI.run(["monitor", "--db", "sqlite:" + db, "--out", out.path, "--now", Self.nowText, "--since", "2026-02-15"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try Self.json(out.appendingPathComponent("monitoring.json"))
        let since = Date(timeIntervalSince1970: 1_771_113_600)  // 2026-02-15T00:00:00Z
        XCTAssertEqual(m["since"] as? String, "2026-02-15T00:00:00Z")
        XCTAssertEqual((m["ground_truth"] as? [String: Any])?["cases"] as? Int, cases.filter { $0.decidedAt >= since }.count)
        let w90 = try XCTUnwrap((m["windows"] as? [String: [String: Any]])?["last_90_days"]?["groups"] as? [String: [String: Any]])
        XCTAssertEqual(w90["overall"]?["cases"] as? Int, cases.filter { $0.decidedAt >= since }.count)
        XCTAssertTrue(r.stdout.contains("no drift reference"), r.stdout)
    }

    func testBadInputIsRefusedWithAClearMessage() async throws {
        let dir = try CLI.tempDir()
        let (db, _, _) = try await Self.seededDatabase(in: dir)
        let out = dir.appendingPathComponent("out").path
        let notADatabase = dir.appendingPathComponent("notes.txt")
        try Data("not a database, just text\n".utf8).write(to: notADatabase)
        let badConfig = dir.appendingPathComponent("monitoring.json")
        try Data(#"{"sensitivty_floor": 0.9}"#.utf8).write(to: badConfig)
        let rangeConfig = dir.appendingPathComponent("range.json")
        try Data(#"{"psi_bins": 1}"#.utf8).write(to: rangeConfig)
        let badReference = dir.appendingPathComponent("reference.json")
        try Data(#"{"p_blocked": [0.2, 1.5]}"#.utf8).write(to: badReference)
        let plainProfile = CLI.packageRoot.appendingPathComponent("profiles/default-task-profile.json").path
        let cases: [([String], Int32, String)] = [
            (["--db", "mysql://x/y"], 1, "unknown scheme 'mysql'"),
            (["--db", "sqlite:" + dir.appendingPathComponent("missing.sqlite").path], 1, "no worker database at"),
            (["--db", "sqlite:" + notADatabase.path], 1, "job database"),
            (["--db", "sqlite:" + db, "--since", "yesterday"], 1, "--since \"yesterday\" is not an ISO 8601 date"),
            (["--db", "sqlite:" + db, "--now", "2026-02-30T25:00:00"], 1, "--now \"2026-02-30T25:00:00\" is not an ISO 8601 date"),
            (["--db", "sqlite:" + db, "--since", "2026-03-02", "--now", "2026-03-01"], 1, "lies after --now"),
            (["--db", "sqlite:" + db, "--config", badConfig.path], 1, "sensitivty_floor is an unknown key"),
            (["--db", "sqlite:" + db, "--config", rangeConfig.path], 1, "psi_bins is 1, expected 2 to 100"),
            (["--db", "sqlite:" + db, "--config", dir.appendingPathComponent("absent.json").path], 1, "absent.json: cannot read it: no such file"),
            (["--db", "sqlite:" + db, "--reference", badReference.path], 1, "p_blocked holds a value outside [0, 1]"),
            (["--db", "sqlite:" + db, "--profile", plainProfile], 1, "has no reference_distribution"),
            (["--db", "sqlite:" + db, "--profile", plainProfile, "--reference", badReference.path], 64, "at most one of --profile and --reference"),
        ]
        for (args, status, message) in cases {
            let r = try CLI.run(["monitor", "--out", out] + args)
            XCTAssertEqual(r.status, status, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr) lacks \(message)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/monitoring.json"), "\(args) wrote output")
        }
        // An output folder that cannot be made (its parent is a file) names the folder.
        let blocked = notADatabase.appendingPathComponent("out").path
        let w = try CLI.run(["monitor", "--db", "sqlite:" + db, "--out", blocked])
        XCTAssertEqual(w.status, 1, w.stderr)
        XCTAssertTrue(w.stderr.contains("could not be written"), w.stderr)
        XCTAssertTrue(w.stderr.contains("out"), w.stderr)
        // Nothing was created where no database was.
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("missing.sqlite").path))
        // --help says that alerts are the service's to change.
        let help = try CLI.run(["monitor", "--help"])
        let flat = help.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        XCTAssertTrue(flat.contains("never by this command"), flat)
    }

    /// The same rows in PostgreSQL (Debian's server, started here) give the same monitoring.json as in SQLite.
    func testPostgresDatabaseGivesTheSameReport() async throws {
        let dir = try CLI.tempDir()
        let postgres = try PostgresServer()
        defer { postgres.stop() }
        let url = postgres.url(database: try postgres.createDatabase(prefix: "monitor"))
        _ = try await Self.seed(into: try await JobStoreLocation(parsing: url).open())
        let (db, _, _) = try await Self.seededDatabase(in: dir)
        let profile = try Self.profileWithReference(in: dir)
        var reports: [NSDictionary] = []
        for (name, location) in [("pg", url), ("sqlite", "sqlite:" + db)] {
            let out = dir.appendingPathComponent(name)
            let r = try CLI.run(["monitor", "--db", location, "--out", out.path, "--now", Self.nowText, "--profile", profile])
            XCTAssertEqual(r.status, 0, r.stderr)
            reports.append(try Self.json(out.appendingPathComponent("monitoring.json")) as NSDictionary)
        }
        XCTAssertEqual(reports[0]["ground_truth"] as? NSDictionary, reports[1]["ground_truth"] as? NSDictionary)
        XCTAssertEqual(reports[0]["windows"] as? NSDictionary, reports[1]["windows"] as? NSDictionary)
        XCTAssertEqual(reports[0]["alerts"] as? NSArray, reports[1]["alerts"] as? NSArray)
        XCTAssertEqual(reports[0], reports[1])
    }

    /// In model mode the reference also holds the input statistics: mean gray and dynamic range of each input's
    /// first model image and the frame count of DICOM runs, equal to what `triage` records for the same files.
    func testModelModeReferenceHoldsTheInputStatistics() throws {
        let dir = try CLI.tempDir()
        let syn = dir.appendingPathComponent("synth")
        let s = try CLI.run(["synth", "--out", syn.path, "--count", "4", "--size", "64", "--frames", "4", "--transfer-syntax", "explicit-le"])
        XCTAssertEqual(s.status, 0, s.stderr)
        // Two DICOM runs (native: subtracted against their mask, 4 frames) and two pictures (no frame count).
        var manifest = "path,label\n", paths: [String] = []
        for (i, line) in try String(contentsOf: syn.appendingPathComponent("labels.csv"), encoding: .utf8).split(separator: "\n").dropFirst().enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            let path = String(i < 2 ? f[2] : f[4])
            manifest += "\(path),\(f[1])\n"
            paths.append(syn.appendingPathComponent(path).path)
        }
        let m = syn.appendingPathComponent("manifest.csv")
        try Data(manifest.utf8).write(to: m)
        let model = try TriageCommandTests.model()
        let profile = dir.appendingPathComponent("chosen.json").path
        let e = try CLI.run(["evaluate", "--data", m.path, "--model", model, "--out", dir.appendingPathComponent("eval").path, "--bootstrap", "0",
                             "--target-sensitivity", "0.5", "--write-profile", profile], environment: TriageCommandTests.env)
        XCTAssertEqual(e.status, 0, e.stderr)
        let ref = try XCTUnwrap(try Self.json(URL(fileURLWithPath: profile))["reference_distribution"] as? [String: Any])

        let t = try CLI.run(["triage", "--model", model, "--format", "jsonl"] + paths, environment: TriageCommandTests.env)
        XCTAssertEqual(t.status, 0, t.stderr)
        var gray: [Double] = [], range: [Double] = [], frames: [Double] = [], ps: [Double] = []
        for line in t.stdout.split(separator: "\n") {
            let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let quality = try XCTUnwrap(((record["images"] as? [[String: Any]])?.first)?["quality"] as? [String: Any], "\(record)")
            gray.append(try XCTUnwrap(quality["mean_gray"] as? Double))
            range.append(try XCTUnwrap(quality["dynamic_range"] as? Double))
            if let n = quality["frames"] as? Int { frames.append(Double(n)) }
            ps.append(try XCTUnwrap(record["p_blocked"] as? Double))
        }
        XCTAssertEqual(gray.count, 4)
        XCTAssertEqual(frames, [4, 4])
        for (key, want) in [("mean_gray", gray), ("dynamic_range", range), ("frame_count", frames), ("p_blocked", ps)] {
            let got = try XCTUnwrap(ref[key] as? [Double], key)
            XCTAssertEqual(got.count, want.count, key)
            for (a, b) in zip(got.sorted(), want.sorted()) { XCTAssertEqual(a, b, accuracy: 1e-9, key) }
        }
    }

    /// `evaluate --write-profile` stores the run's P(blocked) as reference_distribution; the profile loads
    /// back (evaluate reads it under the strict shape) and `monitor --profile` measures drift against it.
    func testEvaluateWritesTheReferenceThatMonitorUses() async throws {
        let dir = try CLI.tempDir()
        let fixtures = TestPaths.fixture("evaluation")
        let profile = dir.appendingPathComponent("chosen.json").path
        let e = try CLI.run(["evaluate", "--data", fixtures.appendingPathComponent("manifest.csv").path,
                             "--predictions", fixtures.appendingPathComponent("predictions.csv").path, "--out", dir.appendingPathComponent("eval").path,
                             "--bootstrap", "0", "--target-sensitivity", "0.95", "--write-profile", profile])
        XCTAssertEqual(e.status, 0, e.stderr)
        let written = try Self.json(URL(fileURLWithPath: profile))
        let ref = try XCTUnwrap(written["reference_distribution"] as? [String: Any])
        let ps = try XCTUnwrap(ref["p_blocked"] as? [Double])
        // Every manifest row's P(blocked), read from the fixture on its own.
        let manifest = try String(contentsOf: fixtures.appendingPathComponent("manifest.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[0]) }
        var byPath: [String: Double] = [:]
        for line in try String(contentsOf: fixtures.appendingPathComponent("predictions.csv"), encoding: .utf8).split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",")
            byPath[String(f[0])] = Double(f[2])
        }
        XCTAssertEqual(ps.sorted(), manifest.compactMap { byPath[$0] }.sorted())
        XCTAssertEqual(ps.count, 80)
        XCTAssertTrue((ref["source"] as? String)?.contains("manifest.csv") == true, "\(ref)")
        XCTAssertNil(ref["mean_gray"], "predictions mode has no input statistics")
        XCTAssertTrue(e.stderr.contains("reference distribution of 80 cases"), e.stderr)

        let again = try CLI.run(["evaluate", "--predictions", fixtures.appendingPathComponent("predictions.csv").path, "--profile", profile,
                                 "--out", dir.appendingPathComponent("eval2").path, "--bootstrap", "0"])
        XCTAssertEqual(again.status, 0, again.stderr)

        let (db, cases, _) = try await Self.seededDatabase(in: dir)
        let out = dir.appendingPathComponent("monitor")
        let m = try CLI.run(["monitor", "--db", "sqlite:" + db, "--out", out.path, "--now", Self.nowText, "--profile", profile])
        XCTAssertEqual(m.status, 0, m.stderr)
        let report = try Self.json(out.appendingPathComponent("monitoring.json"))
        XCTAssertEqual(report["reference_source"] as? String, ref["source"] as? String)
        let overall = try XCTUnwrap((report["windows"] as? [String: [String: Any]])?["last_30_days"]?["groups"] as? [String: [String: Any]])["overall"]
        // PSI over ten equal bins against the evaluation's P(blocked), computed here.
        let from = Self.now.addingTimeInterval(-30 * Self.day)
        let current = cases.filter { $0.decidedAt > from }.compactMap(\.pBlocked)
        func shares(_ v: [Double]) -> [Double] {
            var c = [Double](repeating: 0, count: 10)
            for x in v { c[Self.bin(x)] += 1 }
            return c.map { max($0 / Double(v.count), 1e-4) }
        }
        let a = shares(current), b = shares(ps)
        let psi = zip(a, b).reduce(0.0) { $0 + ($1.0 - $1.1) * log($1.0 / $1.1) }
        XCTAssertEqual(try XCTUnwrap(overall?["psi"] as? Double), psi, accuracy: 1e-9)
    }
}
