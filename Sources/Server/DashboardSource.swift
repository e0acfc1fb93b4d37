import Foundation

/// The seam between the review UI and the monitoring library: the dashboard page renders whatever figures
/// a source gives and offers its exports for download. Alerts are not part of it: the monitor stores them
/// in the review store (`raiseAlert`), where the banner and the acknowledgement page read them.
public protocol DashboardSource: Sendable {
    /// The figures to show now (tiles, tables, charts), computed by the monitoring library.
    func figures(now: Date) async throws -> DashboardFigures
    /// The same figures as a download: JSON (`monitoring.json`'s shape) or CSV.
    func export(_ format: DashboardExportFormat, now: Date) async throws -> Data
}

/// The download formats the dashboard links to.
public enum DashboardExportFormat: String, Sendable, CaseIterable {
    case json
    case csv

    /// The Content-Type the export is served with.
    public var contentType: String {
        switch self {
        case .json: return "application/json"
        case .csv: return "text/csv; charset=utf-8"
        }
    }
}

/// What the dashboard shows beyond the worklist counts. Values are text the source has formatted (the page
/// escapes them), numbers only where the page draws them.
public struct DashboardFigures: Sendable, Equatable {
    /// One headline figure: "Sensitivity (90 days)", "0.93", "95% CI 0.88–0.96, n = 212".
    public struct Tile: Sendable, Equatable {
        public var label: String
        public var value: String
        public var detail: String?
        public init(label: String, value: String, detail: String? = nil) {
            (self.label, self.value, self.detail) = (label, value, detail)
        }
    }

    /// A table such as the per-site/scanner figures: a header row and text cells.
    public struct Table: Sendable, Equatable {
        public var title: String
        public var columns: [String]
        public var rows: [[String]]
        public init(title: String, columns: [String], rows: [[String]]) {
            (self.title, self.columns, self.rows) = (title, columns, rows)
        }
    }

    /// A time-series chart: lines over dates, each point with an optional interval, and an optional
    /// horizontal reference line (a floor or a control limit).
    public struct Chart: Sendable, Equatable {
        public struct Point: Sendable, Equatable {
            public var at: Date
            public var value: Double
            public var low: Double?
            public var high: Double?
            public init(at: Date, value: Double, low: Double? = nil, high: Double? = nil) {
                (self.at, self.value, self.low, self.high) = (at, value, low, high)
            }
        }
        public struct Series: Sendable, Equatable {
            public var name: String
            public var points: [Point]
            public init(name: String, points: [Point]) { (self.name, self.points) = (name, points) }
        }
        public var title: String
        public var series: [Series]
        /// The value range drawn; nil: from the data.
        public var yRange: ClosedRange<Double>?
        public var referenceLine: Double?
        public var referenceLabel: String?
        public init(title: String, series: [Series], yRange: ClosedRange<Double>? = nil, referenceLine: Double? = nil,
                    referenceLabel: String? = nil) {
            (self.title, self.series, self.yRange, self.referenceLine, self.referenceLabel) = (title, series, yRange, referenceLine, referenceLabel)
        }
    }

    public var generatedAt: Date
    public var tiles: [Tile]
    public var tables: [Table]
    public var charts: [Chart]

    public init(generatedAt: Date, tiles: [Tile] = [], tables: [Table] = [], charts: [Chart] = []) {
        (self.generatedAt, self.tiles, self.tables, self.charts) = (generatedAt, tiles, tables, charts)
    }
}
