import Foundation
import ModelFiles

/// What a model was trained on, as triage can check it: the source kinds of its training images and the
/// spread of their statistics. Written by `dsa-triage train` (into `training_run.json` and as
/// `input_domain.json` beside the adapter or model) and by `dsa-triage domain` for an existing model;
/// triage sends an image outside it to manual review instead of answering confidently.
public struct InputDomain: Codable, Sendable, Equatable {
    /// The record's file name beside an adapter or model.
    public static let fileName = "input_domain.json"
    /// Version of the rule that turns training statistics into allowed ranges (below).
    public static let currentRule = 1
    /// Percentiles (in %) recorded for every statistic.
    public static let levels: [Double] = [0.5, 1, 5, 50, 95, 99, 99.5]
    /// Rule 1's margin as a share of the p0.5–p99.5 spread.
    public static let relativeMargin = 0.1
    /// Rule 1, in words (stored in the record so a reader of the file knows how `allowed` was made).
    public static let marginRuleText = "allowed = [p0.5 - m, p99.5 + m] with m = max(minimum_margin, 0.1 * (p99.5 - p0.5))"

    /// A measured quantity of a model image.
    public enum Statistic: String, Codable, Sendable, CaseIterable {
        case meanGray = "mean_gray"
        case stdGray = "std_gray"
        case dynamicRange = "dynamic_range"
        case nearBlackFraction = "near_black_fraction"
        case nearWhiteFraction = "near_white_fraction"
        /// Frames of the DICOM run (pictures have none and are not checked on it).
        case frames

        /// Words for a reason.
        public var phrase: String {
            switch self {
            case .meanGray: return "mean gray"
            case .stdGray: return "gray standard deviation"
            case .dynamicRange: return "dynamic range (p99 - p1)"
            case .nearBlackFraction: return "near-black share (gray ≤ \(ModelImageStatistics.nearBlackLevel))"
            case .nearWhiteFraction: return "near-white share (gray ≥ \(ModelImageStatistics.nearWhiteLevel))"
            case .frames: return "frame count"
            }
        }

        /// Rule 1's smallest margin: about what a re-encoding or a slightly different window moves the value.
        public var minimumMargin: Double {
            switch self {
            case .meanGray: return 3
            case .stdGray: return 2
            case .dynamicRange: return 4
            case .nearBlackFraction, .nearWhiteFraction: return 0.01
            case .frames: return 1
            }
        }

        /// The statistic of one image (nil: not defined for it).
        public func value(of s: ModelImageStatistics) -> Double? {
            switch self {
            case .meanGray: return s.meanGray
            case .stdGray: return s.stdGray
            case .dynamicRange: return s.dynamicRange
            case .nearBlackFraction: return s.nearBlackFraction
            case .nearWhiteFraction: return s.nearWhiteFraction
            case .frames: return s.frames.map(Double.init)
            }
        }

        /// A value as a reason shows it.
        public func format(_ v: Double) -> String {
            switch self {
            case .frames: return String(format: "%.0f", v)
            case .nearBlackFraction, .nearWhiteFraction: return String(format: "%.3f", v)
            default: return String(format: "%.1f", v)
            }
        }
    }

    /// The training images of one source kind and their statistics. Kinds are summarised apart because each
    /// has its own gray mapping (a stored subtracted run is much lighter than the pipeline's own
    /// subtraction): one range over both would let an image pass that matches neither.
    public struct KindDomain: Codable, Sendable, Equatable {
        public var kind: InputSourceKind
        public var images: Int
        public var statistics: [Summary]
    }

    /// One statistic over the training images.
    public struct Summary: Codable, Sendable, Equatable {
        public var statistic: Statistic
        /// Images it was measured on.
        public var images: Int
        /// Values at `percentileLevels`.
        public var percentiles: [Double]
        public var min: Double
        public var max: Double
        /// The margin added on each side.
        public var margin: Double
        /// [low, high]: values outside are outside the training domain.
        public var allowed: [Double]
    }

    /// Layout version of this file.
    public var format: Int
    /// `currentRule` when made.
    public var rule: Int
    /// Training model images summarised.
    public var images: Int
    /// Percentile levels (in %) of every summary.
    public var percentileLevels: [Double]
    /// One entry per source kind seen in training.
    public var sourceKinds: [KindDomain]
    public var marginRule: String
    /// `SoftwareVersion.current` of the binary that made the record.
    public var createdBy: String

    /// The record of `images` (each a training model image); throws when there are none. `source` names
    /// the data in the error.
    public init(measuring images: [ModelImageStatistics], source: String) throws {
        guard !images.isEmpty else { throw InputDomainError.noImages(source: source) }
        format = 1
        rule = Self.currentRule
        self.images = images.count
        percentileLevels = Self.levels
        sourceKinds = InputSourceKind.allCases.compactMap { k in
            let mine = images.filter { $0.sourceKind == k }
            return mine.isEmpty ? nil : KindDomain(kind: k, images: mine.count, statistics: Self.summaries(mine))
        }
        marginRule = Self.marginRuleText
        createdBy = SoftwareVersion.current
    }

    /// Rule 1 applied to each statistic defined for some of `images`.
    static func summaries(_ images: [ModelImageStatistics]) -> [Summary] {
        Statistic.allCases.compactMap { stat in
            let values = images.compactMap { stat.value(of: $0) }.sorted()
            guard let first = values.first, let last = values.last else { return nil }
            let p = levels.map { percentile(sorted: values, level: $0) }
            let margin = Swift.max(stat.minimumMargin, relativeMargin * (p[p.count - 1] - p[0]))
            return Summary(statistic: stat, images: values.count, percentiles: p, min: first, max: last, margin: margin,
                           allowed: [p[0] - margin, p[p.count - 1] + margin])
        }
    }

    /// The `level` % percentile of ascending `sorted` values, linearly interpolated between closest ranks
    /// (numpy's default).
    public static func percentile(sorted: [Double], level: Double) -> Double {
        guard let first = sorted.first else { return .nan }
        let h = Double(sorted.count - 1) * level / 100
        let lo = Int(h.rounded(.down))
        guard lo + 1 < sorted.count else { return sorted[Swift.min(lo, sorted.count - 1)] }
        return lo < 0 ? first : sorted[lo] + (h - Double(lo)) * (sorted[lo + 1] - sorted[lo])
    }

    /// Whether the model saw `kind` in training.
    public func includes(_ kind: InputSourceKind) -> Bool { domain(of: kind) != nil }

    /// The training summary of `kind`; nil when training saw none.
    public func domain(of kind: InputSourceKind) -> KindDomain? { sourceKinds.first { $0.kind == kind && $0.images > 0 } }

    // MARK: Files

    /// snake_case keys, as training_run.json (which embeds the record).
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }

    /// The decoder matching `encoder()`.
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }

    /// Checks what decoding cannot: counts, percentile rows and ranges that make sense.
    public func validate(source: String) throws {
        func bad(_ r: String) -> InputDomainError { .invalid(file: source, reason: r) }
        guard format == 1 else { throw bad("unsupported format \(format) (this tool reads 1)") }
        guard rule >= 1, rule <= Self.currentRule else { throw bad("unknown rule \(rule) (this tool knows 1…\(Self.currentRule))") }
        guard images > 0, !sourceKinds.isEmpty, sourceKinds.allSatisfy({ $0.images > 0 }) else {
            throw bad("no training images or source kinds")
        }
        guard Set(sourceKinds.map(\.kind)).count == sourceKinds.count else { throw bad("a source kind is listed twice") }
        for k in sourceKinds {
            guard Set(k.statistics.map(\.statistic)).count == k.statistics.count else {
                throw bad("\(k.kind.rawValue): a statistic is listed twice")
            }
            for s in k.statistics {
                guard s.allowed.count == 2, s.allowed.allSatisfy(\.isFinite), s.allowed[0] <= s.allowed[1] else {
                    throw bad("\(k.kind.rawValue) \(s.statistic.rawValue): allowed must be [low, high] with low ≤ high")
                }
            }
        }
    }

    /// The record in `directory`, nil when there is none; a file that is there but unreadable throws (a
    /// broken safety record must not pass for a missing one).
    public static func read(directory: URL) throws -> InputDomain? {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try read(file: url)
    }

    /// Reads and checks a record file.
    public static func read(file url: URL) throws -> InputDomain {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw InputDomainError.invalid(file: url.path, reason: "cannot read the file")
        }
        let record: InputDomain
        do { record = try decoder().decode(InputDomain.self, from: data) } catch {
            throw InputDomainError.invalid(file: url.path, reason: "not a valid record: \(error)")
        }
        try record.validate(source: url.path)
        return record
    }

    /// The record as file bytes (ends with a newline).
    public func jsonData() throws -> Data {
        try Self.encoder().encode(self) + Data("\n".utf8)
    }

    /// Writes the record to `url` (write then rename: never a half-written file under the final name).
    public func write(to url: URL) throws {
        do { try jsonData().write(to: url, options: .atomic) } catch {
            throw InputDomainError.writeFailed(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    /// sha256 of the record's bytes as written (part of evaluation's cache key: a new record re-runs inputs).
    public var fingerprint: String { SHA256Hasher.hex(of: (try? jsonData()) ?? Data()) }
}
