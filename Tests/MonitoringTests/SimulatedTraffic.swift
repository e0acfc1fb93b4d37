import Foundation
import Monitoring
import Support
import WorkerQueue

/// Synthetic worker traffic for the monitoring simulation: two sites, three scanners, a fixed daily rate;
/// manual-review cases always adjudicated, auto-decided cases audited at fixed fractions. Seeded, so the
/// same seed gives the same cases and verdicts on every machine.
struct SimulatedTraffic {
    struct Scanner {
        let site: String, manufacturer: String, model: String, software: String
    }

    static let scanners = [
        Scanner(site: "North", manufacturer: "Acme", model: "Alpha 3", software: "VA10"),
        Scanner(site: "North", manufacturer: "Borealis", model: "Beta 2", software: "VB20"),
        Scanner(site: "South", manufacturer: "Coro", model: "Gamma 1", software: "VC30"),
    ]
    static let protocols = ["Carotid", "Cerebral"]
    static let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
    static let day = 86_400.0

    var days = 120
    var seriesPerDay = 48
    var prevalence = 0.4
    var sensitivity = 0.95
    var specificity = 0.88
    /// Share of flagged truly blocked cases whose P(blocked) falls in the review band, and of flagged patent ones.
    var reviewShareBlocked = 0.25
    var reviewSharePatent = 0.6
    var auditFractionPatent = 0.3
    var auditFractionBlocked = 0.1
    var skippedShare = 0.02
    var unreadableShare = 0.01
    var nonDiagnosticShare = 0.03
    /// The scanner (index) whose sensitivity changes, from which day, to what.
    var change: (scanner: Int, day: Int, sensitivity: Double)?

    /// Cases and their verdicts, in decision order.
    func generate(seed: UInt64) -> (cases: [ReviewCase], verdicts: [VerdictRecord]) {
        var rng = SplitMix64(seed: seed)
        var cases: [ReviewCase] = [], verdicts: [VerdictRecord] = []
        var job: Int64 = 0
        for d in 0..<days {
            var times = (0..<seriesPerDay).map { _ in rng.nextUnit() }
            times.sort()
            for u in times {
                job += 1
                let s = rng.next(below: Self.scanners.count)
                let scanner = Self.scanners[s]
                let proto = Self.protocols[rng.next(below: Self.protocols.count)]
                let at = Self.start.addingTimeInterval((Double(d) + u) * Self.day)
                var se = sensitivity
                if let c = change, c.scanner == s, d >= c.day { se = c.sensitivity }
                let draw = drawCase(&rng, sensitivity: se)
                let c = ReviewCase(jobID: job, seriesKey: "series-\(job)", studyInstanceUID: "2.25.\(job)", seriesInstanceUID: "2.25.\(job).1",
                                   decidedAt: at, decision: draw.decision, pBlocked: draw.p, threshold: 0.5, reviewBandLow: 0.35,
                                   reviewBandHigh: 0.65, site: scanner.site, manufacturer: scanner.manufacturer,
                                   manufacturerModel: scanner.model, softwareVersions: scanner.software, protocolName: proto,
                                   meanGray: draw.p == nil ? nil : 110 + 12 * normal(&rng),
                                   dynamicRange: draw.p == nil ? nil : 180 + 15 * normal(&rng),
                                   frameCount: draw.p == nil ? nil : 10 + rng.next(below: 30),
                                   worklistReason: draw.reason, samplingProbability: draw.pi)
                cases.append(c)
                guard draw.reason != nil else { continue }
                let verdict: Verdict = rng.nextUnit() < nonDiagnosticShare ? .nonDiagnostic : (draw.truth ? .blocked : .patent)
                verdicts.append(VerdictRecord(id: Int64(verdicts.count + 1), caseJobID: job, userID: 1, userName: "reviewer",
                                              verdict: verdict, comment: nil, recordedAt: at.addingTimeInterval(rng.nextUnit() * Self.day)))
            }
        }
        return (cases, verdicts.sorted { ($0.recordedAt, $0.id) < ($1.recordedAt, $1.id) })
    }

    struct Draw {
        var decision: CaseDecision, p: Double?, truth: Bool, reason: WorklistReason?, pi: Double
    }

    func drawCase(_ rng: inout SplitMix64, sensitivity se: Double) -> Draw {
        let u = rng.nextUnit()
        if u < skippedShare { return Draw(decision: .skipped, p: nil, truth: false, reason: nil, pi: 0) }
        if u < skippedShare + unreadableShare { return Draw(decision: .unreadable, p: nil, truth: false, reason: nil, pi: 0) }
        let truth = rng.nextUnit() < prevalence
        let flagged = rng.nextUnit() < (truth ? se : 1 - specificity)
        let review = flagged && rng.nextUnit() < (truth ? reviewShareBlocked : reviewSharePatent)
        let p: Double, decision: CaseDecision
        if review {
            (p, decision) = (0.35 + 0.3 * rng.nextUnit(), .manualReview)
        } else if flagged {
            (p, decision) = (0.65 + 0.35 * rng.nextUnit(), .blocked)
        } else {
            (p, decision) = (0.35 * rng.nextUnit() * rng.nextUnit().squareRoot(), .patent)
        }
        switch decision {
        case .manualReview: return Draw(decision: decision, p: p, truth: truth, reason: .manualReview, pi: 1)
        default:
            let f = decision == .patent ? auditFractionPatent : auditFractionBlocked
            return Draw(decision: decision, p: p, truth: truth, reason: rng.nextUnit() < f ? .auditSample : nil, pi: f)
        }
    }

    /// The reference an evaluation run of the same (unchanged) process would store.
    func reference(seed: UInt64, count: Int = 2000) -> ReferenceDistribution {
        var rng = SplitMix64(seed: seed)
        var p: [Double] = [], gray: [Double] = [], range: [Double] = [], frames: [Double] = []
        for _ in 0..<count {
            let d = drawCase(&rng, sensitivity: sensitivity)
            guard let pb = d.p else { continue }
            p.append(pb)
            gray.append(110 + 12 * normal(&rng))
            range.append(180 + 15 * normal(&rng))
            frames.append(Double(10 + rng.next(below: 30)))
        }
        return ReferenceDistribution(source: "simulated evaluation run", pBlocked: p, meanGray: gray, dynamicRange: range, frameCount: frames,
                                     skippedShare: skippedShare, unreadableShare: unreadableShare, seriesCount: count)
    }

    /// A standard normal draw (Box–Muller).
    func normal(_ rng: inout SplitMix64) -> Double {
        let u1 = max(rng.nextUnit(), 1e-300), u2 = rng.nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
