import Foundation
import Hummingbird
import NIOCore
import WorkerQueue

/// The worklist, case pages, model images and verdicts.
extension ReviewRoutes {
    func worklist(_ request: Request, _ context: PageContext) async -> Response {
        let query = FormFields(encoded: request.uri.query)
        var filter = WorklistFilter(limit: Self.worklistLimit)
        if let text = query.trimmed("state") {
            guard let state = WorklistFilter.ReviewState(rawValue: text) else { return badFilter("state", context) }
            filter.state = state
        }
        if let text = query.trimmed("decision") {
            guard let decision = CaseDecision(rawValue: text) else { return badFilter("decision", context) }
            filter.decision = decision
        }
        filter.site = query.trimmed("site")
        filter.scanner = query.trimmed("scanner")
        if let text = query.trimmed("from") {
            guard let day = ReviewFormat.parseDay(text) else { return badFilter("from date", context) }
            filter.from = day
        }
        if let text = query.trimmed("to") {
            guard let day = ReviewFormat.parseDay(text) else { return badFilter("to date", context) }
            filter.to = day.addingTimeInterval(86_400)
        }
        let cases: [ReviewCase]
        let counts: WorklistCounts
        let facets: (sites: [String], scanners: [String])
        do {
            cases = try await review.store.worklist(filter)
            counts = try await review.store.worklistCounts()
            facets = try await review.store.facets()
        } catch {
            return storeFailure(error, context: context)
        }
        let rows: [[String: Any]] = cases.map { c in
            [
                "jobID": c.jobID, "href": "/cases/\(c.jobID)", "reason": ReviewFormat.reason(c.worklistReason),
                "decision": c.decision.rawValue, "decisionLabel": ReviewFormat.decision(c.decision),
                "pBlocked": ReviewFormat.probability(c.pBlocked), "decided": ReviewFormat.dateTime(c.decidedAt),
                "site": c.site ?? "—", "scanner": Self.scanner(c),
            ]
        }
        let states: [[String: Any]] = WorklistFilter.ReviewState.allCases.map {
            ["value": $0.rawValue, "label": $0.rawValue, "selected": $0 == filter.state]
        }
        let decisions: [[String: Any]] = [CaseDecision.manualReview, .blocked, .patent, .skipped, .unreadable].map {
            ["value": $0.rawValue, "label": ReviewFormat.decision($0), "selected": $0 == filter.decision]
        }
        let values: [String: Any] = [
            "counts": Self.countValues(counts), "rows": rows, "states": states, "decisions": decisions,
            "sites": facets.sites.map { ["value": $0, "selected": $0 == filter.site] as [String: Any] },
            "scanners": facets.scanners.map { ["value": $0, "selected": $0 == filter.scanner] as [String: Any] },
            "from": query.trimmed("from") ?? "", "to": query.trimmed("to") ?? "",
        ]
        return pages.render("worklist", title: "Worklist", context: context, values: values)
    }

    private func badFilter(_ what: String, _ context: PageContext) -> Response {
        pages.message(.badRequest, heading: "Unknown filter", text: "The \(what) filter has a value the worklist does not know.", context: context)
    }

    static func countValues(_ counts: WorklistCounts) -> [String: Any] {
        ["pendingManualReview": counts.pendingManualReview, "pendingAuditSamples": counts.pendingAuditSamples,
         "reviewed": counts.reviewed, "disagreements": counts.disagreements]
    }

    static func scanner(_ c: ReviewCase) -> String {
        let parts = [c.manufacturer, c.manufacturerModel].compactMap { $0 }.filter { !$0.isEmpty }
        return parts.isEmpty ? "—" : parts.joined(separator: " ")
    }

    func casePage(_ id: Int64?, _ context: PageContext) async -> Response {
        guard let id else { return notFound(context) }
        let found: ReviewCase?
        let verdicts: [VerdictRecord]
        do {
            found = try await review.store.reviewCase(jobID: id)
            verdicts = found == nil ? [] : try await review.store.verdicts(caseJobID: id)
        } catch {
            return storeFailure(error, context: context)
        }
        guard let c = found else { return notFound(context) }
        var values: [String: Any] = [
            "jobID": c.jobID, "decision": c.decision.rawValue, "decisionLabel": ReviewFormat.decision(c.decision),
            "decided": ReviewFormat.dateTime(c.decidedAt),
            "frames": c.framesUsed.isEmpty ? "—" : c.framesUsed.map(String.init).joined(separator: ", "),
            "reasons": c.reasons, "hasReasons": !c.reasons.isEmpty,
            "disagreement": Set(verdicts.map(\.verdict)).count > 1,
            "hasVerdicts": !verdicts.isEmpty, "maxComment": Self.maxCommentLength,
            "fields": Self.equipmentFields(c),
            "verdicts": verdicts.map { v -> [String: Any] in
                var row: [String: Any] = ["verdictLabel": ReviewFormat.verdict(v.verdict), "userName": v.userName,
                                          "recorded": ReviewFormat.dateTime(v.recordedAt),
                                          "verified": v.verifiedReportSOPInstanceUID != nil]
                if let comment = v.comment, !comment.isEmpty { row["comment"] = comment }
                return row
            },
        ]
        if let reason = c.worklistReason { values["listedBecause"] = ReviewFormat.reason(reason) }
        if let frameCount = c.frameCount { values["frameCount"] = frameCount }
        if let link = review.viewerLink { values["viewerURL"] = link.url(studyInstanceUID: c.studyInstanceUID) }
        if review.imageDirectory != nil, let file = c.imageFile, CaseImageFile.isPlainName(file) {
            values["imageURL"] = "/cases/\(c.jobID)/image/\(file)"
        }
        if let p = c.pBlocked, p.isFinite {
            values["chart"] = ProbabilityChart(pBlocked: p, threshold: c.threshold, bandLow: c.reviewBandLow, bandHigh: c.reviewBandHigh).templateValues
        }
        return pages.render("case", title: "Case \(c.jobID)", context: context, values: values)
    }

    /// Equipment and protocol fields of the DICOM header (none identifies a patient) and the input statistics.
    static func equipmentFields(_ c: ReviewCase) -> [[String: String]] {
        var fields: [(String, String?)] = [
            ("Site", c.site), ("Manufacturer", c.manufacturer), ("Model", c.manufacturerModel),
            ("Software versions", c.softwareVersions), ("Protocol", c.protocolName),
            ("Mean gray (0–255)", c.meanGray.map { String(format: "%.1f", $0) }),
            ("Dynamic range (0–255)", c.dynamicRange.map { String(format: "%.1f", $0) }),
            ("Frames in the run", c.frameCount.map(String.init)),
        ]
        if let threshold = c.threshold { fields.append(("Threshold", String(format: "%.3f", threshold))) }
        if let low = c.reviewBandLow, let high = c.reviewBandHigh { fields.append(("Review band", String(format: "%.3f–%.3f", low, high))) }
        return fields.map { ["label": $0.0, "value": $0.1.flatMap { $0.isEmpty ? nil : $0 } ?? "—"] }
    }

    func notFound(_ context: PageContext) -> Response {
        pages.message(.notFound, heading: "No such case", text: "There is no case with this number.", context: context)
    }

    /// The case's own model image, and nothing else (see `CaseImageFile`); every refusal is the same 404.
    func image(_ id: Int64?, file: String, _ context: PageContext) async -> Response {
        guard let id, let folder = review.imageDirectory else { return ReviewPages.plain(.notFound, "no such image") }
        let found: ReviewCase?
        do {
            found = try await review.store.reviewCase(jobID: id)
        } catch {
            return storeFailure(error, context: context)
        }
        guard let c = found, let data = CaseImageFile.read(requested: file, caseImage: c.imageFile, folder: folder) else {
            return ReviewPages.plain(.notFound, "no such image")
        }
        var fields: HTTPFields = [.contentType: "image/png"]
        ReviewPages.secure(&fields)
        fields[.cacheControl] = "private, max-age=3600"
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func recordVerdict(_ id: Int64?, _ context: PageContext, _ fields: FormFields) async -> Response {
        guard let id else { return notFound(context) }
        guard let verdict = fields["verdict"].flatMap(Verdict.init(rawValue:)) else {
            return pages.message(.badRequest, heading: "No verdict chosen", text: "Choose patent, blocked or non-diagnostic.",
                                 context: context, back: "/cases/\(id)", backLabel: "Back to the case")
        }
        let comment = fields.trimmed("comment")
        if let comment, comment.count > Self.maxCommentLength {
            return pages.message(.badRequest, heading: "Comment too long", text: "A comment may have at most \(Self.maxCommentLength) characters.",
                                 context: context, back: "/cases/\(id)", backLabel: "Back to the case")
        }
        let record: VerdictRecord
        let reviewCase: ReviewCase
        let next: Int64?
        do {
            guard let found = try await review.store.reviewCase(jobID: id) else { return notFound(context) }
            reviewCase = found
            record = try await review.store.addVerdict(caseJobID: id, userID: context.user.id, verdict: verdict, comment: comment, now: nil)
            next = try await review.store.worklist(WorklistFilter(state: .pending, limit: 2)).first { $0.jobID != id }?.jobID
        } catch {
            return storeFailure(error, context: context)
        }
        logger.info("verdict recorded", metadata: ["case": "\(id)", "verdict": "\(verdict.rawValue)", "verdict_id": "\(record.id)"])
        if let hook = review.onVerdict { await hook(record, reviewCase) }
        return ReviewPages.redirect(to: next.map { "/cases/\($0)" } ?? "/worklist")
    }
}
