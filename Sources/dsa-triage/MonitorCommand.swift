// `dsa-triage monitor` (issue 18): the monitoring figures offline, from the worker's database.
import ArgumentParser
import Evaluation
import Foundation
import Logging
import Monitoring
import Triage
import WorkerQueue

/// Why `monitor` cannot compute or write its report; each case names the option or file and the fix.
enum MonitorCommandError: Error, CustomStringConvertible {
    case badDate(option: String, text: String)
    case sinceAfterNow(since: String, now: String)
    case noSQLiteFile(path: String)
    case unreadableFile(option: String, path: String, reason: String)
    case badConfiguration(path: String, reason: String)
    case badReference(source: String, reason: String)
    case profileWithoutReference(path: String)

    var description: String {
        switch self {
        case .badDate(let option, let text):
            return "\(option) \"\(text)\" is not an ISO 8601 date (2026-03-01) or date-time with a zone (2026-03-01T08:00:00Z, 2026-03-01T09:00:00+01:00)"
        case .sinceAfterNow(let since, let now):
            return "--since \(since) lies after --now \(now): no case could be counted"
        case .noSQLiteFile(let path):
            return "no worker database at \(path) (monitor reads an existing database and never creates one; check --db sqlite:PATH)"
        case .unreadableFile(let option, let path, let reason):
            return "\(option) \(path): cannot read it: \(reason)"
        case .badConfiguration(let path, let reason):
            return "--config \(path): \(reason)"
        case .badReference(let source, let reason):
            return "\(source): \(reason)"
        case .profileWithoutReference(let path):
            return "--profile \(path) has no reference_distribution (write one with `dsa-triage evaluate … --target-sensitivity T --write-profile FILE`, or give --reference FILE)"
        }
    }
}

struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Monitoring figures from the worker's database: sensitivity, specificity, drift and alerts, as monitoring.json and report.html.",
        discussion: """
            Reads every case (decided since --since, when given), every verdict and the open and acknowledged \
            alerts from the worker's database (the one `serve` runs with), computes the figures of \
            docs/MONITORING.md as of --now (default: now), and writes OUT/monitoring.json, OUT/report.html \
            (self-contained) and OUT/groups.csv, each atomically. It changes nothing in the database (opening \
            an older one applies its pending schema upgrade, as serve would): alerts are raised, resolved and \
            acknowledged by the running service and its admins, never by this command; monitoring.json lists \
            the current alert conditions joined with the stored alerts. Drift figures need a reference: \
            --profile (a task profile with reference_distribution, as `evaluate --write-profile` writes it) \
            or --reference (a reference distribution JSON).

            \(ExitStatusHelp.plain)
            """)

    @Option(name: .long, help: "Worker database: sqlite:PATH (an existing file) or postgres://USER@HOST:PORT/DB.")
    var db: String

    @Option(name: .customLong("db-password-file"), help: "File holding the PostgreSQL password (else the URL's, else $PGPASSWORD).")
    var dbPasswordFile: String?

    @Option(name: .long, help: "Output folder (created when missing): monitoring.json, report.html, groups.csv.")
    var out: String

    @Option(name: .long, help: "Count only cases decided at or after this ISO 8601 date (UTC midnight) or date-time with a zone.")
    var since: String?

    @Option(name: .long, help: "The time the figures are relative to (rolling windows end here; default: now), as --since.")
    var now: String?

    @Option(name: .long, help: "Monitoring configuration JSON (windows, floors, CUSUM and PSI settings; every key optional; see docs/MONITORING.md).")
    var config: String?

    @Option(name: .long, help: "Task profile whose reference_distribution is the drift reference.")
    var profile: String?

    @Option(name: .long, help: "Reference distribution JSON (p_blocked, mean_gray, …) as the drift reference, instead of --profile.")
    var reference: String?

    func validate() throws {
        if profile != nil && reference != nil { throw ValidationError("give at most one of --profile and --reference") }
    }

    func run() async throws {
        try await Self.reporting {
            let asOf = try now.map { try Self.parseDate($0, option: "--now") } ?? Date()
            let from = try since.map { try Self.parseDate($0, option: "--since") }
            if let from, from > asOf {
                throw MonitorCommandError.sinceAfterNow(since: since ?? "-", now: now ?? Self.stamp(asOf))
            }
            let cfg = try loadConfiguration()
            let ref = try loadReference()
            let location = try JobStoreLocation(parsing: db)
            if case .sqlite(let path) = location, !FileManager.default.fileExists(atPath: path) {
                throw MonitorCommandError.noSQLiteFile(path: path)
            }
            var logger = Logger(label: "dsa-triage.monitor")
            logger.logLevel = .error
            let store = try await location.open(passwordFile: dbPasswordFile, logger: logger)
            let cases: [ReviewCase], verdicts: [VerdictRecord], alerts: [AlertRecord]
            do {
                cases = try await store.cases(from: from, to: nil)
                verdicts = try await store.verdicts(from: nil, to: nil)
                alerts = try await store.alerts(states: [.open, .acknowledged], limit: 10_000)
            } catch {
                try? await store.close()
                throw error
            }
            try await store.close()
            let report = try Monitor.evaluate(cases: cases, verdicts: verdicts, reference: ref, configuration: cfg, now: asOf,
                                              since: from, storedAlerts: alerts)
            let dir = URL(fileURLWithPath: out)
            try MonitoringArtifacts.write(report, to: dir)
            try Console.out(Self.summary(report, folder: out))
        }
    }

    /// One line on stderr for any error: exit 74 when standard output could not be written, 1 otherwise.
    static func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let e as ConsoleError {
            Console.err("error: \(e)\n")
            throw ExitCode(Console.ioErrorStatus)
        } catch let e as ExitCode {
            throw e
        } catch let e as ValidationError {
            throw e
        } catch {
            Console.err("error: \(CommandErrors.message(for: error))\n")
            throw ExitCode(1)
        }
    }

    /// The configuration file, strictly read, or the defaults.
    func loadConfiguration() throws -> MonitoringConfiguration {
        guard let config else { return MonitoringConfiguration() }
        guard let data = FileManager.default.contents(atPath: config) else {
            throw MonitorCommandError.unreadableFile(option: "--config", path: config, reason: Self.whyUnreadable(config))
        }
        do { return try MonitoringConfiguration.decode(data) } catch {
            throw MonitorCommandError.badConfiguration(path: config, reason: "\(error)")
        }
    }

    /// The drift reference from --profile or --reference; nil without either.
    func loadReference() throws -> ReferenceDistribution? {
        if let profile {
            guard FileManager.default.isReadableFile(atPath: profile) else {
                throw MonitorCommandError.unreadableFile(option: "--profile", path: profile, reason: Self.whyUnreadable(profile))
            }
            let task = try TaskProfile.load(path: profile)
            guard let stored = task.referenceDistribution else { throw MonitorCommandError.profileWithoutReference(path: profile) }
            do { return try ReferenceDistribution(stored) } catch {
                throw MonitorCommandError.badReference(source: "--profile \(profile)", reason: "\(error)")
            }
        }
        if let reference {
            guard let data = FileManager.default.contents(atPath: reference) else {
                throw MonitorCommandError.unreadableFile(option: "--reference", path: reference, reason: Self.whyUnreadable(reference))
            }
            do { return try ReferenceDistribution.decode(data) } catch let e as MonitoringError {
                throw MonitorCommandError.badReference(source: "--reference \(reference)", reason: "\(e)")
            } catch {
                throw MonitorCommandError.badReference(source: "--reference \(reference)", reason: "not a reference distribution JSON object (\(Self.decodingProblem(error)))")
            }
        }
        return nil
    }

    /// An ISO 8601 date (midnight UTC) or a date-time with a zone (`Z` or `±hh:mm`), with or without fractions of a second.
    static func parseDate(_ text: String, option: String) throws -> Date {
        let t = text.trimmingCharacters(in: .whitespaces)
        let dateOnly = t.count == 10 && t.enumerated().allSatisfy { i, c in (i == 4 || i == 7) ? c == "-" : c.isASCII && c.isNumber }
        let formats: [ISO8601DateFormatter.Options] = dateOnly
            ? [[.withFullDate, .withDashSeparatorInDate]]
            : [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]]
        for options in formats {
            let f = ISO8601DateFormatter()
            f.formatOptions = options
            f.timeZone = TimeZone(secondsFromGMT: 0)
            if let d = f.date(from: t) { return d }
        }
        throw MonitorCommandError.badDate(option: option, text: text)
    }

    static func stamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }

    static func whyUnreadable(_ path: String) -> String {
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDir) { return "no such file" }
        return isDir.boolValue ? "it is a folder" : "permission denied"
    }

    static func decodingProblem(_ error: Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        switch e {
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path.isEmpty ? "the file" : path) is not \(type)"
        case .dataCorrupted(let c): return c.debugDescription
        case .keyNotFound(let k, _): return "missing \(k.stringValue)"
        @unknown default: return "\(e)"
        }
    }

    /// A few lines for people: counts, the alert window's overall figures, the alerts, the files written.
    static func summary(_ r: MonitoringReport, folder: String) -> String {
        func f(_ e: Estimate) -> String {
            guard let v = e.value else { return "undefined (n = \(e.n))" }
            return String(format: "%.3f", v) + (e.ci.map { String(format: " [%.3f, %.3f]", $0[0], $0[1]) } ?? "") + " n = \(e.n)"
        }
        let g = r.groundTruth
        var s = "monitoring as of \(stamp(r.now))\(r.since.map { " (cases since \(stamp($0)))" } ?? ""): "
            + "\(Plural.count(g.cases, "case")), \(g.triaged) triaged, \(g.adjudicated) adjudicated, "
            + "\(g.disagreements) with disagreeing verdicts\n"
        let key = "last_\(r.configuration.alertWindowDays)_days"
        if let w = r.windows[key] ?? r.windowOrder.first.flatMap({ r.windows[$0] }), let o = w.groups[GroupDimension.overall] {
            s += "  \(w.label), overall: sensitivity \(f(o.sensitivity)); weighted \(f(o.weighted.sensitivity))\n"
            s += "  specificity \(f(o.specificity)); weighted \(f(o.weighted.specificity)); review rate \(f(o.reviewRate))\n"
            if let psi = o.psi { s += String(format: "  PSI of P(blocked): %.3f\n", psi) }
        }
        if r.referenceSource == nil && r.windows.values.allSatisfy({ $0.groups.values.allSatisfy { $0.psi == nil } }) {
            s += "  no drift reference (give --profile or --reference for PSI)\n"
        }
        let active = r.alerts.filter(\.active)
        let open = active.filter { $0.state == AlertRecord.State.open.rawValue }.count
        s += "alerts: \(active.count) active (\(open) open, \(active.count - open) acknowledged); "
            + "\(r.alerts.count - active.count) stored alert(s) whose condition has cleared\n"
        for a in r.alerts where a.active { s += "  \(a.state) \(a.kind) \(a.group): \(a.message)\n" }
        s += "wrote " + MonitoringArtifacts.fileNames.map { (folder as NSString).appendingPathComponent($0) }.joined(separator: ", ") + "\n"
        return s
    }
}
