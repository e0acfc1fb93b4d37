import Foundation
import XCTest
@testable import WorkerQueue

/// The behaviours every `ReviewStore` shows, written once against the protocol and run on each store (an
/// SQLite file in `SQLiteReviewStoreTests`, a private PostgreSQL cluster in `PostgresReviewStoreTests`).
/// Expectations are computed here, independently of the store's SQL (the worklist order and filters by
/// sorting and filtering the seeded cases in Swift), and append-only is checked with direct SQL.
struct ReviewStoreContract: Sendable {
    /// Opens a new store (its own connection or pool) on the test's database.
    let open: @Sendable () async throws -> any WorkerDatabase
    /// Runs SQL on the test's database outside the store's API; throws when the database refuses it.
    let rawSQL: @Sendable (String) async throws -> Void

    let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    let day: TimeInterval = 86_400

    // MARK: Users and sessions

    func usersAreUniqueCanBeDisabledAndChangePassword() async throws {
        let store = try await open()
        let alice = try await store.addUser(name: "alice", role: .admin, passwordHash: "$2b$12$hashA", actor: "cli", now: t0)
        XCTAssertEqual(alice.name, "alice")
        XCTAssertEqual(alice.role, .admin)
        XCTAssertFalse(alice.disabled)
        XCTAssertEqual(alice.createdAt, t0)
        await expectError({ () async throws(JobStoreError) in
            try await store.addUser(name: "alice", role: .reviewer, passwordHash: "$2b$12$other", actor: "cli", now: t0)
        }) { error in
            guard case .invalidArgument(_, let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("exists"), message)
        }
        await expectError({ () async throws(JobStoreError) in
            try await store.addUser(name: "bad name<script>", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        })
        let bob = try await store.addUser(name: "bob", role: .reviewer, passwordHash: "$2b$12$hashB", now: t0)
        let listed = try await store.users()
        XCTAssertEqual(listed.map(\.name), ["alice", "bob"])
        let byID = try await store.user(id: bob.id)
        XCTAssertEqual(byID, bob)

        try await store.createSession(ReviewSession(tokenHash: "tok-bob", userID: bob.id, csrfToken: "csrf", createdAt: t0,
                                                    expiresAt: t0.addingTimeInterval(3600)))
        let live = try await store.session(tokenHash: "tok-bob", now: t0.addingTimeInterval(10))
        XCTAssertEqual(live?.userID, bob.id)
        let disabled = try await store.setUserDisabled(name: "bob", disabled: true, actor: "alice", now: t0.addingTimeInterval(20))
        XCTAssertTrue(disabled.disabled)
        let afterDisable = try await store.session(tokenHash: "tok-bob", now: t0.addingTimeInterval(21))
        XCTAssertNil(afterDisable, "a disabled user's sessions end")
        let enabled = try await store.setUserDisabled(name: "bob", disabled: false, actor: "alice", now: t0.addingTimeInterval(30))
        XCTAssertFalse(enabled.disabled)
        let changed = try await store.setPasswordHash(name: "bob", passwordHash: "$2b$12$newB", actor: "bob", now: t0.addingTimeInterval(40))
        XCTAssertEqual(changed.passwordHash, "$2b$12$newB")
        let reread = try await store.user(name: "bob")
        XCTAssertEqual(reread?.passwordHash, "$2b$12$newB")
        await expectError({ () async throws(JobStoreError) in
            try await store.setPasswordHash(name: "carol", passwordHash: "h", actor: "alice", now: t0)
        }) { error in
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }
        await expectError({ () async throws(JobStoreError) in
            try await store.setUserDisabled(name: "carol", disabled: true, actor: "alice", now: t0)
        })

        let events = try await store.auditEvents(limit: 100).reversed().map { "\($0.actor) \($0.action) \($0.detail)" }
        XCTAssertEqual(events, ["cli user_added alice (admin)", "system user_added bob (reviewer)", "alice user_disabled bob",
                                "alice user_enabled bob", "bob password_changed bob"])
    }

    func sessionsExpireAndAreDeletedAndPurged() async throws {
        let store = try await open()
        let user = try await store.addUser(name: "rev", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        for (token, hours) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
            try await store.createSession(ReviewSession(tokenHash: token, userID: user.id, csrfToken: "csrf-\(token)", createdAt: t0,
                                                        expiresAt: t0.addingTimeInterval(hours * 3600)))
        }
        await expectError({ () async throws(JobStoreError) in
            try await store.createSession(ReviewSession(tokenHash: "a", userID: user.id, csrfToken: "x", createdAt: t0, expiresAt: t0))
        }) { error in
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }
        await expectError({ () async throws(JobStoreError) in
            try await store.createSession(ReviewSession(tokenHash: "z", userID: 9999, csrfToken: "x", createdAt: t0, expiresAt: t0))
        })
        let a = try await store.session(tokenHash: "a", now: t0.addingTimeInterval(3599))
        XCTAssertEqual(a, ReviewSession(tokenHash: "a", userID: user.id, csrfToken: "csrf-a", createdAt: t0, expiresAt: t0.addingTimeInterval(3600)))
        let expired = try await store.session(tokenHash: "a", now: t0.addingTimeInterval(3600))
        XCTAssertNil(expired, "a session is gone at its expiry")
        try await store.deleteSession(tokenHash: "b")
        let deleted = try await store.session(tokenHash: "b", now: t0)
        XCTAssertNil(deleted)
        try await store.deleteSession(tokenHash: "never-existed")
        let purged = try await store.purgeSessions(now: t0.addingTimeInterval(2 * 3600))
        XCTAssertEqual(purged, 1, "only 'a' had expired ('b' was deleted, 'c' lives)")
        let c = try await store.session(tokenHash: "c", now: t0.addingTimeInterval(2 * 3600))
        XCTAssertEqual(c?.csrfToken, "csrf-c")
        let unknown = try await store.session(tokenHash: "nope", now: t0)
        XCTAssertNil(unknown)
    }

    // MARK: Cases

    func sampleCase(_ id: Int64, decision: CaseDecision = .patent, at offset: TimeInterval = 0, site: String? = "north",
                    manufacturer: String? = "Siemens", model: String? = "Artis Q", reason: WorklistReason? = nil) -> ReviewCase {
        ReviewCase(jobID: id, seriesKey: "series-\(id)", studyInstanceUID: "1.2.826.0.1.\(id)", seriesInstanceUID: "1.2.826.0.1.\(id).1",
                   decidedAt: t0.addingTimeInterval(offset), decision: decision, reasons: [],
                   pBlocked: decision == .skipped ? nil : 0.25, threshold: 0.5, reviewBandLow: 0.4, reviewBandHigh: 0.6,
                   site: site, manufacturer: manufacturer, manufacturerModel: model, worklistReason: reason,
                   samplingProbability: reason == .manualReview ? 1 : (reason == .auditSample ? 0.05 : 0))
    }

    func recordCaseIsIdempotentAndRoundTrips() async throws {
        let store = try await open()
        let full = ReviewCase(
            jobID: 42, seriesKey: "abc123", studyInstanceUID: "1.2.3.4", seriesInstanceUID: "1.2.3.4.5",
            decidedAt: t0.addingTimeInterval(0.125), decision: .manualReview,
            reasons: ["P(blocked) 0.52 in the review band [0.4, 0.6)", "quote \" and backslash \\ and ünïcödé"],
            pBlocked: 0.52, threshold: 0.5, reviewBandLow: 0.4, reviewBandHigh: 0.6, site: "north",
            manufacturer: "Philips", manufacturerModel: "Azurion 7", softwareVersions: "R2.2.1", protocolName: "Femoral DSA",
            meanGray: 117.25, dynamicRange: 201.5, frameCount: 24, framesUsed: [3, 9, 14], worklistReason: .manualReview,
            samplingProbability: 1, imageFile: "42.png", reportSOPInstanceUID: "2.25.1234")
        let first = try await store.recordCase(full)
        XCTAssertTrue(first)
        var changed = full
        changed.decision = .blocked
        changed.site = "south"
        let again = try await store.recordCase(changed)
        XCTAssertFalse(again, "a job's case is recorded once")
        let stored = try await store.reviewCase(jobID: 42)
        XCTAssertEqual(stored, full)
        let bare = ReviewCase(jobID: 43, seriesKey: "def", studyInstanceUID: "9", seriesInstanceUID: "9.1", decidedAt: t0, decision: .skipped)
        _ = try await store.recordCase(bare)
        let storedBare = try await store.reviewCase(jobID: 43)
        XCTAssertEqual(storedBare, bare)
        let missing = try await store.reviewCase(jobID: 44)
        XCTAssertNil(missing)
        await expectError({ () async throws(JobStoreError) in
            try await store.recordCase(ReviewCase(jobID: 50, seriesKey: "s", studyInstanceUID: "1", seriesInstanceUID: "1.1", decidedAt: t0,
                                                  decision: .patent, worklistReason: .auditSample, samplingProbability: 0))
        }) { error in
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }
        let bulk = try await store.recordCases((100..<110).map { sampleCase($0) } + [full])
        XCTAssertEqual(bulk, 10, "the already recorded case is not counted")
        let all = try await store.cases(from: nil, to: nil)
        XCTAssertEqual(all.count, 12)
    }

    /// A seeded mix: every decision, two sites, three scanners, on and off the worklist, over ten days.
    func seedMix(_ store: any WorkerDatabase) async throws -> [ReviewCase] {
        var cases: [ReviewCase] = []
        let decisions: [CaseDecision] = [.patent, .blocked, .manualReview, .skipped, .unreadable, .patent, .blocked]
        let scanners = [("Siemens", "Artis Q"), ("Philips", "Azurion 7"), ("GE", "Innova IGS 5")]
        for index in 0..<84 {
            let decision = decisions[index % decisions.count]
            let scanner = scanners[index % scanners.count]
            let reason: WorklistReason? = decision == .manualReview ? .manualReview : ((decision == .patent || decision == .blocked) && index % 4 == 0 ? .auditSample : nil)
            // Times interleave across decisions and repeat (ties broken by job id); ids are not in time order.
            let offset = Double((index * 37) % 60) * 4 * 3600
            cases.append(sampleCase(Int64(1000 - index), decision: decision, at: offset, site: index % 2 == 0 ? "north" : "south",
                                    manufacturer: scanner.0, model: scanner.1, reason: reason))
        }
        let recorded = try await store.recordCases(cases)
        XCTAssertEqual(recorded, cases.count)
        return cases
    }

    func expectedOrder(_ cases: [ReviewCase]) -> [ReviewCase] {
        let rank: [CaseDecision: Int] = [.manualReview: 0, .blocked: 1, .patent: 2, .skipped: 3, .unreadable: 3]
        return cases.sorted { a, b in
            let ra = rank[a.decision] ?? 9, rb = rank[b.decision] ?? 9
            if ra != rb { return ra < rb }
            if a.decidedAt != b.decidedAt { return a.decidedAt < b.decidedAt }
            return a.jobID < b.jobID
        }
    }

    func worklistOrderAndEveryFilter() async throws {
        let store = try await open()
        var cases = try await seedMix(store)
        let reviewer = try await store.addUser(name: "rev", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        // Three worklist cases and one case off the worklist get verdicts.
        let onList = expectedOrder(cases.filter { $0.worklistReason != nil })
        let reviewedIDs: Set<Int64> = [onList[0].jobID, onList[5].jobID, onList[9].jobID,
                                        cases.first { $0.worklistReason == nil }?.jobID ?? -1]
        for id in reviewedIDs.sorted() {
            _ = try await store.addVerdict(caseJobID: id, userID: reviewer.id, verdict: .patent, comment: nil, now: t0.addingTimeInterval(40 * day))
        }
        cases = cases.map { c in
            var c = c
            c.verdictCount = reviewedIDs.contains(c.jobID) ? 1 : 0
            return c
        }
        func check(_ filter: WorklistFilter, _ keep: (ReviewCase) -> Bool, _ label: String) async throws {
            let expected = Array(expectedOrder(cases.filter(keep)).prefix(filter.limit))
            let got = try await store.worklist(filter)
            XCTAssertEqual(got.map(\.jobID), expected.map(\.jobID), label)
            XCTAssertEqual(got, expected, label)
        }
        let pending: (ReviewCase) -> Bool = { $0.worklistReason != nil && !reviewedIDs.contains($0.jobID) }
        try await check(WorklistFilter(state: .pending), pending, "pending")
        let pendingOrder = try await store.worklist(WorklistFilter(state: .pending)).map(\.decision)
        XCTAssertEqual(pendingOrder.first, .manualReview)
        XCTAssertEqual(pendingOrder.last, .patent)
        try await check(WorklistFilter(state: .reviewed), { reviewedIDs.contains($0.jobID) }, "reviewed")
        try await check(WorklistFilter(state: .all), { _ in true }, "all")
        try await check(WorklistFilter(state: .all, limit: 7), { _ in true }, "all, limit 7")
        try await check(WorklistFilter(state: .pending, limit: 0), { _ in false }, "limit 0")
        for decision in CaseDecision.allCases {
            try await check(WorklistFilter(state: .all, decision: decision), { $0.decision == decision }, "decision \(decision)")
        }
        try await check(WorklistFilter(state: .pending, decision: .blocked), { pending($0) && $0.decision == .blocked }, "pending blocked")
        try await check(WorklistFilter(state: .all, site: "south"), { $0.site == "south" }, "site")
        try await check(WorklistFilter(state: .pending, site: "north"), { pending($0) && $0.site == "north" }, "pending site")
        try await check(WorklistFilter(state: .all, scanner: "Philips"), { $0.manufacturer == "Philips" }, "scanner by manufacturer")
        try await check(WorklistFilter(state: .all, scanner: "Innova IGS 5"), { $0.manufacturerModel == "Innova IGS 5" }, "scanner by model")
        try await check(WorklistFilter(state: .all, scanner: "Nobody"), { _ in false }, "unknown scanner")
        let from = t0.addingTimeInterval(2 * day), to = t0.addingTimeInterval(5 * day)
        try await check(WorklistFilter(state: .all, from: from, to: to), { $0.decidedAt >= from && $0.decidedAt < to }, "date range")
        try await check(WorklistFilter(state: .all, from: from), { $0.decidedAt >= from }, "from only")
        try await check(WorklistFilter(state: .all, to: to), { $0.decidedAt < to }, "to only")
        try await check(WorklistFilter(state: .pending, decision: .patent, site: "north", scanner: "Siemens", from: t0, to: to),
                        { pending($0) && $0.decision == .patent && $0.site == "north" && $0.manufacturer == "Siemens" && $0.decidedAt < to },
                        "every filter at once")
        await expectError({ () async throws(JobStoreError) in try await store.worklist(WorklistFilter(limit: -1)) })

        let facets = try await store.facets()
        XCTAssertEqual(facets.sites, ["north", "south"])
        XCTAssertEqual(facets.scanners, ["Artis Q", "Azurion 7", "GE", "Innova IGS 5", "Philips", "Siemens"])
    }

    // MARK: Verdicts

    func countsAndDisagreements() async throws {
        let store = try await open()
        let cases = try await seedMix(store)
        let a = try await store.addUser(name: "a", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        let b = try await store.addUser(name: "b", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        let manual = cases.filter { $0.worklistReason == .manualReview }
        let audit = cases.filter { $0.worklistReason == .auditSample }
        let before = try await store.worklistCounts()
        XCTAssertEqual(before, WorklistCounts(pendingManualReview: manual.count, pendingAuditSamples: audit.count, reviewed: 0, disagreements: 0))
        // Case 1: a says blocked, b says patent: a disagreement.
        _ = try await store.addVerdict(caseJobID: manual[0].jobID, userID: a.id, verdict: .blocked, comment: nil, now: t0)
        _ = try await store.addVerdict(caseJobID: manual[0].jobID, userID: b.id, verdict: .patent, comment: "clearly patent", now: t0.addingTimeInterval(1))
        // Case 2: a changes its own mind: not a disagreement. b then agrees with a's latest.
        _ = try await store.addVerdict(caseJobID: manual[1].jobID, userID: a.id, verdict: .blocked, comment: nil, now: t0)
        _ = try await store.addVerdict(caseJobID: manual[1].jobID, userID: a.id, verdict: .patent, comment: nil, now: t0.addingTimeInterval(1))
        // Case 3: both agree.
        _ = try await store.addVerdict(caseJobID: audit[0].jobID, userID: a.id, verdict: .nonDiagnostic, comment: nil, now: t0)
        _ = try await store.addVerdict(caseJobID: audit[0].jobID, userID: b.id, verdict: .nonDiagnostic, comment: nil, now: t0)
        let after = try await store.worklistCounts()
        XCTAssertEqual(after, WorklistCounts(pendingManualReview: manual.count - 2, pendingAuditSamples: audit.count - 1, reviewed: 3, disagreements: 1))
        let disagreeing = try await store.disagreements(limit: 10)
        XCTAssertEqual(disagreeing, [manual[0].jobID])
        // Case 2 becomes a disagreement once b says blocked (a said blocked earlier, patent later).
        _ = try await store.addVerdict(caseJobID: manual[1].jobID, userID: b.id, verdict: .blocked, comment: nil, now: t0.addingTimeInterval(2))
        let both = try await store.disagreements(limit: 10)
        XCTAssertEqual(Set(both), [manual[0].jobID, manual[1].jobID])
        let one = try await store.disagreements(limit: 1)
        XCTAssertEqual(one.count, 1)
        let kept = try await store.verdicts(caseJobID: manual[0].jobID)
        XCTAssertEqual(kept.map(\.verdict), [.blocked, .patent], "a later verdict is kept beside the first")
        XCTAssertEqual(kept.map(\.userName), ["a", "b"])
        XCTAssertEqual(kept.last?.comment, "clearly patent")
        let reread = try await store.reviewCase(jobID: manual[1].jobID)
        XCTAssertEqual(reread?.verdictCount, 3)
    }

    func verdictsAndAuditEventsAreAppendOnly() async throws {
        let store = try await open()
        _ = try await store.recordCase(sampleCase(7, decision: .manualReview, reason: .manualReview))
        let reviewer = try await store.addUser(name: "rev", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        let comment = "<script>alert(1)</script> looks occluded"
        let verdict = try await store.addVerdict(caseJobID: 7, userID: reviewer.id, verdict: .blocked, comment: comment, now: t0.addingTimeInterval(5))
        XCTAssertEqual(verdict.caseJobID, 7)
        XCTAssertEqual(verdict.userName, "rev")
        XCTAssertEqual(verdict.comment, comment)
        XCTAssertEqual(verdict.recordedAt, t0.addingTimeInterval(5))
        XCTAssertNil(verdict.verifiedReportSOPInstanceUID)
        let audit = try await store.auditEvents(limit: 1)
        XCTAssertEqual(audit.first?.action, "verdict")
        XCTAssertEqual(audit.first?.actor, "rev")
        XCTAssertEqual(audit.first?.caseJobID, 7)
        XCTAssertEqual(audit.first?.at, t0.addingTimeInterval(5))
        XCTAssertFalse(audit.first?.detail.contains("script") ?? true, "the comment stays out of the audit detail")

        // The API has no path to change a verdict; direct SQL is refused by the database.
        for sql in ["UPDATE verdicts SET verdict = 'patent' WHERE id = \(verdict.id)",
                    "UPDATE verdicts SET comment = NULL",
                    "DELETE FROM verdicts WHERE id = \(verdict.id)",
                    "UPDATE audit_events SET detail = 'rewritten'",
                    "DELETE FROM audit_events"] {
            do {
                try await rawSQL(sql)
                XCTFail("the database accepted: \(sql)")
            } catch {
                XCTAssertTrue("\(error)".contains("append-only"), "\(sql): \(error)")
            }
        }
        let unchanged = try await store.verdicts(caseJobID: 7)
        XCTAssertEqual(unchanged, [verdict])

        // The verified SR's UID is filled once, through the API; a second time is refused, by API and SQL.
        try await store.setVerifiedReport(verdictID: verdict.id, sopInstanceUID: "2.25.99", now: t0.addingTimeInterval(6))
        let verified = try await store.verdicts(caseJobID: 7)
        XCTAssertEqual(verified.first?.verifiedReportSOPInstanceUID, "2.25.99")
        await expectError({ () async throws(JobStoreError) in
            try await store.setVerifiedReport(verdictID: verdict.id, sopInstanceUID: "2.25.100", now: t0)
        }) { error in
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }
        do {
            try await rawSQL("UPDATE verdicts SET verified_report_sop_instance_uid = '2.25.101' WHERE id = \(verdict.id)")
            XCTFail("the verified report was overwritten")
        } catch {
            XCTAssertTrue("\(error)".contains("append-only") || "\(error)".contains("set once"), "\(error)")
        }
        await expectError({ () async throws(JobStoreError) in
            try await store.setVerifiedReport(verdictID: 9999, sopInstanceUID: "2.25.1", now: t0)
        }) { error in
            guard case .notFound(_, 9999) = error else { return XCTFail("\(error)") }
        }
        let actions = try await store.auditEvents(limit: 10).map(\.action)
        XCTAssertEqual(actions, ["verified_sr_sent", "verdict", "user_added"])

        // A missing case, a missing or disabled user.
        await expectError({ () async throws(JobStoreError) in
            try await store.addVerdict(caseJobID: 8, userID: reviewer.id, verdict: .patent, comment: nil, now: t0)
        }) { error in
            guard case .notFound(_, 8) = error else { return XCTFail("\(error)") }
        }
        await expectError({ () async throws(JobStoreError) in
            try await store.addVerdict(caseJobID: 7, userID: 9999, verdict: .patent, comment: nil, now: t0)
        }) { error in
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }
        _ = try await store.setUserDisabled(name: "rev", disabled: true, actor: "admin", now: t0)
        await expectError({ () async throws(JobStoreError) in
            try await store.addVerdict(caseJobID: 7, userID: reviewer.id, verdict: .patent, comment: nil, now: t0)
        }) { error in
            guard case .invalidArgument(_, let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("disabled"), message)
        }
        let still = try await store.verdicts(caseJobID: 7)
        XCTAssertEqual(still.count, 1, "refused verdicts left nothing behind")
    }

    func bulkImportWritesVerdictsAuditAndSummaries() async throws {
        let store = try await open()
        let recorded = try await store.recordCases((1...6).map { sampleCase($0, decision: .manualReview, at: Double($0), reason: .manualReview) })
        XCTAssertEqual(recorded, 6)
        let a = try await store.addUser(name: "a", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        let b = try await store.addUser(name: "b", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        let imported = try await store.importVerdicts([
            VerdictImport(caseJobID: 1, userID: a.id, verdict: .blocked, at: t0.addingTimeInterval(10)),
            VerdictImport(caseJobID: 1, userID: b.id, verdict: .patent, comment: "no", at: t0.addingTimeInterval(11)),
            VerdictImport(caseJobID: 2, userID: a.id, verdict: .patent, at: t0.addingTimeInterval(12)),
            VerdictImport(caseJobID: 2, userID: a.id, verdict: .blocked, at: t0.addingTimeInterval(13)),
            VerdictImport(caseJobID: 3, userID: b.id, verdict: .nonDiagnostic, at: t0.addingTimeInterval(14)),
        ])
        XCTAssertEqual(imported, 5)
        let counts = try await store.worklistCounts()
        XCTAssertEqual(counts, WorklistCounts(pendingManualReview: 3, pendingAuditSamples: 0, reviewed: 3, disagreements: 1))
        let disagreeing = try await store.disagreements(limit: 10)
        XCTAssertEqual(disagreeing, [1])
        let case2 = try await store.reviewCase(jobID: 2)
        XCTAssertEqual(case2?.verdictCount, 2)
        let events = try await store.auditEvents(limit: 100).filter { $0.action == "verdict" }
        XCTAssertEqual(events.count, 5)
        XCTAssertEqual(Set(events.map(\.actor)), ["a", "b"])
        // A verdict added after the import sees the imported ones.
        _ = try await store.addVerdict(caseJobID: 3, userID: a.id, verdict: .patent, comment: nil, now: t0.addingTimeInterval(20))
        let after = try await store.disagreements(limit: 10)
        XCTAssertEqual(after, [1, 3])
        // An unknown case or user fails the whole import.
        await expectError({ () async throws(JobStoreError) in
            try await store.importVerdicts([VerdictImport(caseJobID: 4, userID: a.id, verdict: .patent, at: t0),
                                            VerdictImport(caseJobID: 99, userID: a.id, verdict: .patent, at: t0)])
        })
        await expectError({ () async throws(JobStoreError) in
            try await store.importVerdicts([VerdictImport(caseJobID: 4, userID: 999, verdict: .patent, at: t0)])
        })
        let case4 = try await store.verdicts(caseJobID: 4)
        XCTAssertEqual(case4, [], "a failed import writes nothing")
    }

    // MARK: Time ranges

    func casesAndVerdictsByTimeRange() async throws {
        let store = try await open()
        _ = try await store.recordCases((0..<10).map { sampleCase(Int64($0 + 1), at: Double($0) * day) })
        let user = try await store.addUser(name: "rev", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        for index in 0..<10 {
            _ = try await store.addVerdict(caseJobID: Int64(index + 1), userID: user.id, verdict: .patent, comment: nil,
                                           now: t0.addingTimeInterval(Double(index) * day + 3600))
        }
        let window = try await store.cases(from: t0.addingTimeInterval(2 * day), to: t0.addingTimeInterval(5 * day))
        XCTAssertEqual(window.map(\.jobID), [3, 4, 5], "[from, to): the case decided exactly at `to` is left out")
        let open = try await store.cases(from: t0.addingTimeInterval(8 * day), to: nil)
        XCTAssertEqual(open.map(\.jobID), [9, 10])
        let upTo = try await store.cases(from: nil, to: t0.addingTimeInterval(1 * day))
        XCTAssertEqual(upTo.map(\.jobID), [1])
        let verdicts = try await store.verdicts(from: t0.addingTimeInterval(2 * day + 3600), to: t0.addingTimeInterval(4 * day + 3600))
        XCTAssertEqual(verdicts.map(\.caseJobID), [3, 4])
        let all = try await store.verdicts(from: nil, to: nil)
        XCTAssertEqual(all.count, 10)
        XCTAssertEqual(all.map(\.recordedAt), all.map(\.recordedAt).sorted())
    }

    // MARK: Alerts

    func alertsDedupeResolveAndAcknowledge() async throws {
        let store = try await open()
        let (first, isNew) = try await store.raiseAlert(kind: "sensitivity_floor", scope: "site=north", message: "upper bound 0.78 < 0.85",
                                                        value: 0.78, limit: 0.85, now: t0)
        XCTAssertTrue(isNew)
        XCTAssertEqual(first.state, .open)
        XCTAssertEqual(first.openedAt, t0)
        let (again, againNew) = try await store.raiseAlert(kind: "sensitivity_floor", scope: "site=north", message: "upper bound 0.74 < 0.85",
                                                           value: 0.74, limit: 0.85, now: t0.addingTimeInterval(60))
        XCTAssertFalse(againNew, "the same kind and scope updates the open alert")
        XCTAssertEqual(again.id, first.id)
        XCTAssertEqual(again.value, 0.74)
        XCTAssertEqual(again.message, "upper bound 0.74 < 0.85")
        XCTAssertEqual(again.openedAt, t0)
        XCTAssertEqual(again.updatedAt, t0.addingTimeInterval(60))
        let (other, otherNew) = try await store.raiseAlert(kind: "sensitivity_floor", scope: "site=south", message: "m", value: 0.7, limit: 0.85, now: t0)
        XCTAssertTrue(otherNew)
        XCTAssertNotEqual(other.id, first.id)

        let acknowledged = try await store.acknowledgeAlert(id: first.id, by: "admin", note: "new detector calibrated on Monday", now: t0.addingTimeInterval(120))
        XCTAssertEqual(acknowledged.state, .acknowledged)
        XCTAssertEqual(acknowledged.acknowledgedBy, "admin")
        XCTAssertEqual(acknowledged.note, "new detector calibrated on Monday")
        XCTAssertEqual(acknowledged.acknowledgedAt, t0.addingTimeInterval(120))
        let (stillAcknowledged, raisedNew) = try await store.raiseAlert(kind: "sensitivity_floor", scope: "site=north", message: "m2", value: 0.7,
                                                                        limit: 0.85, now: t0.addingTimeInterval(180))
        XCTAssertFalse(raisedNew)
        XCTAssertEqual(stillAcknowledged.state, .acknowledged, "raising again keeps the acknowledgement")

        let resolved = try await store.resolveAlert(kind: "sensitivity_floor", scope: "site=north", now: t0.addingTimeInterval(240))
        XCTAssertEqual(resolved?.state, .resolved)
        XCTAssertEqual(resolved?.resolvedAt, t0.addingTimeInterval(240))
        let nothing = try await store.resolveAlert(kind: "sensitivity_floor", scope: "site=north", now: t0)
        XCTAssertNil(nothing)
        let (reopened, reopenedNew) = try await store.raiseAlert(kind: "sensitivity_floor", scope: "site=north", message: "again", value: 0.6,
                                                                 limit: 0.85, now: t0.addingTimeInterval(300))
        XCTAssertTrue(reopenedNew, "after resolution the condition opens a new alert")
        XCTAssertNotEqual(reopened.id, first.id)

        await expectError({ () async throws(JobStoreError) in
            try await store.acknowledgeAlert(id: 424242, by: "admin", note: "?", now: t0)
        }) { error in
            guard case .notFound(_, 424242) = error else { return XCTFail("\(error)") }
        }
        await expectError({ () async throws(JobStoreError) in
            try await store.acknowledgeAlert(id: first.id, by: "admin", note: "late", now: t0)
        }) { error in
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }

        let open = try await store.alerts(states: [.open], limit: 10)
        XCTAssertEqual(Set(open.map(\.id)), [other.id, reopened.id])
        let resolvedList = try await store.alerts(states: [.resolved], limit: 10)
        XCTAssertEqual(resolvedList.map(\.id), [first.id])
        let everything = try await store.alerts(states: Set(AlertRecord.State.allCases), limit: 10)
        XCTAssertEqual(everything.count, 3)
        XCTAssertEqual(everything.first?.id, reopened.id, "newest first")
        let none = try await store.alerts(states: [], limit: 10)
        XCTAssertEqual(none, [])
        let trail = try await store.auditEvents(limit: 20).reversed().map { "\($0.actor) \($0.action)" }
        XCTAssertEqual(trail, ["system alert_opened", "system alert_opened", "admin alert_acknowledged", "system alert_resolved", "system alert_opened"])
    }

    // MARK: Migration

    /// `upgradeFromJobsOnly` opened a database at `v1-jobs` and enqueued jobs; the store opened now applies
    /// `v2-review` once, keeps the jobs, and works.
    func upgradeFromJobsOnly(jobIDs: [Int64], migrations: @Sendable (any WorkerDatabase) async throws -> [String]) async throws {
        let store = try await open()
        let applied = try await migrations(store)
        XCTAssertEqual(applied, ["v1-jobs", "v2-review"])
        for id in jobIDs {
            let job = try await store.job(id: id)
            XCTAssertEqual(job?.state, .pending, "job \(id) survived the upgrade")
        }
        let recorded = try await store.recordCase(sampleCase(jobIDs[0], decision: .manualReview, reason: .manualReview))
        XCTAssertTrue(recorded)
        let reopened = try await open()
        let appliedAgain = try await migrations(reopened)
        XCTAssertEqual(appliedAgain, ["v1-jobs", "v2-review"])
        let still = try await reopened.reviewCase(jobID: jobIDs[0])
        XCTAssertEqual(still?.decision, .manualReview)
    }

    // MARK: Speed

    /// Seeds `cases` cases (10 % manual review, 5 % audit samples, two sites, three scanners, over 120
    /// days) and `verdicts` verdicts, then times the worklist, counts and time-range queries. Returns the
    /// slowest time in seconds.
    func seedLarge(_ store: any WorkerDatabase, cases count: Int, verdicts verdictCount: Int) async throws {
        let scanners = [("Siemens", "Artis Q"), ("Philips", "Azurion 7"), ("GE", "Innova IGS 5")]
        var cases: [ReviewCase] = []
        cases.reserveCapacity(count)
        var random = SplitMix(seed: 18)
        for index in 0..<count {
            let roll = random.unit()
            let decision: CaseDecision = roll < 0.10 ? .manualReview : (roll < 0.40 ? .blocked : (roll < 0.97 ? .patent : .skipped))
            let reason: WorklistReason? = decision == .manualReview ? .manualReview
                : ((decision == .patent || decision == .blocked) && random.unit() < 0.05 ? .auditSample : nil)
            let scanner = scanners[index % 3]
            var c = sampleCase(Int64(index + 1), decision: decision, at: Double(index) * (120 * day / Double(count)),
                               site: index % 2 == 0 ? "north" : "south", manufacturer: scanner.0, model: scanner.1, reason: reason)
            c.reasons = decision == .manualReview ? ["in the review band"] : []
            c.framesUsed = [2, 5, 9]
            cases.append(c)
        }
        let recorded = try await store.recordCases(cases)
        XCTAssertEqual(recorded, count)
        let a = try await store.addUser(name: "bench-a", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        let b = try await store.addUser(name: "bench-b", role: .reviewer, passwordHash: "h", actor: "cli", now: t0)
        // Two thirds of the worklist reviewed (by a, then again by b); the rest stays pending.
        let listed = Array(cases.filter { $0.worklistReason != nil }.prefix(count * 2 / 3 / 10))
        var verdicts: [VerdictImport] = []
        var index = 0
        while verdicts.count < verdictCount {
            let c = listed[index % listed.count]
            let user = index < listed.count ? a.id : b.id
            verdicts.append(VerdictImport(caseJobID: c.jobID, userID: user, verdict: random.unit() < 0.5 ? .patent : .blocked,
                                          at: c.decidedAt.addingTimeInterval(3600)))
            index += 1
        }
        let imported = try await store.importVerdicts(verdicts)
        XCTAssertEqual(imported, verdictCount)
    }

    /// Times each query the worklist and dashboard pages make on a seeded database; prints them and fails
    /// past `bound` seconds.
    func timeQueries(_ store: any WorkerDatabase, label: String, bound: TimeInterval = 1) async throws {
        let end = t0.addingTimeInterval(120 * day)
        let queries: [(String, @Sendable () async throws -> Int)] = [
            ("worklist pending", { try await store.worklist(WorklistFilter(state: .pending)).count }),
            ("worklist reviewed", { try await store.worklist(WorklistFilter(state: .reviewed)).count }),
            ("worklist all", { try await store.worklist(WorklistFilter(state: .all)).count }),
            ("worklist pending blocked", { try await store.worklist(WorklistFilter(state: .pending, decision: .blocked)).count }),
            ("worklist pending site", { try await store.worklist(WorklistFilter(state: .pending, site: "south")).count }),
            ("worklist pending scanner", { try await store.worklist(WorklistFilter(state: .pending, scanner: "Azurion 7")).count }),
            ("worklist all last 7 days", { try await store.worklist(WorklistFilter(state: .all, from: end.addingTimeInterval(-7 * day), to: end)).count }),
            ("worklist rare scanner", { try await store.worklist(WorklistFilter(state: .all, scanner: "Nobody")).count }),
            ("counts", { try await store.worklistCounts().reviewed }),
            ("disagreements", { try await store.disagreements(limit: 100).count }),
            ("facets", { try await store.facets().scanners.count }),
            ("verdicts last 90 days", { try await store.verdicts(from: end.addingTimeInterval(-90 * day), to: nil).count }),
            ("alerts", { try await store.alerts(states: [.open, .acknowledged], limit: 50).count }),
        ]
        for (name, query) in queries {
            _ = try await query()  // warm the cache
            let started = Date()
            let rows = try await query()
            let seconds = Date().timeIntervalSince(started)
            print(String(format: "%@ review query %@: %.1f ms (%d rows)", label, name, seconds * 1000, rows))
            XCTAssertLessThan(seconds, bound, "\(label) \(name) took \(seconds) s")
        }
        // Monitoring's bulk reads (every case of a window, decoded): no page waits on them, and their cost is
        // row decoding, ~10x slower in the debug builds tests run; a looser bound, ten times the page bound.
        let bulk: [(String, @Sendable () async throws -> Int)] = [
            ("cases last 30 days", { try await store.cases(from: end.addingTimeInterval(-30 * day), to: end).count }),
            ("cases all (120 days)", { try await store.cases(from: nil, to: nil).count }),
        ]
        for (name, query) in bulk {
            let started = Date()
            let rows = try await query()
            let seconds = Date().timeIntervalSince(started)
            print(String(format: "%@ review bulk read %@: %.1f ms (%d rows, %.1f us/row)", label, name, seconds * 1000, rows,
                         seconds * 1e6 / Double(max(rows, 1))))
            XCTAssertLessThan(seconds, 10 * bound, "\(label) \(name) took \(seconds) s")
        }
    }
}

/// A small deterministic generator for seeding (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
