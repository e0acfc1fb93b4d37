import Foundation

/// What a job carries in the queue: where its instances are, never who they belong to. Paths are inside
/// the spool and named by hashes; Orthanc identifiers are Orthanc's own hashes of the UIDs.
public struct JobPayload: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable { case spool, orthanc }

    public var source: Source
    /// Spool: the series folder relative to the spool root, and its instance files (names only).
    public var seriesFolder: String?
    public var files: [String]?
    /// Orthanc: the series' and its instances' Orthanc identifiers.
    public var orthancSeries: String?
    public var orthancInstances: [String]?
    /// Instances and frames the job was made from (the completeness check's counts).
    public var instanceCount: Int
    public var frameCount: Int
    /// When the last instance arrived (seconds since 1970), for the end-to-end latency.
    public var lastArrival: Double?

    public init(source: Source, seriesFolder: String? = nil, files: [String]? = nil, orthancSeries: String? = nil,
                orthancInstances: [String]? = nil, instanceCount: Int, frameCount: Int, lastArrival: Double? = nil) {
        self.source = source
        self.seriesFolder = seriesFolder
        self.files = files
        self.orthancSeries = orthancSeries
        self.orthancInstances = orthancInstances
        self.instanceCount = instanceCount
        self.frameCount = frameCount
        self.lastArrival = lastArrival
    }

    enum CodingKeys: String, CodingKey {
        case source, files
        case seriesFolder = "series_folder", orthancSeries = "orthanc_series", orthancInstances = "orthanc_instances"
        case instanceCount = "instance_count", frameCount = "frame_count", lastArrival = "last_arrival"
    }

    public func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    public static func parse(_ text: String) throws -> JobPayload {
        try JSONDecoder().decode(JobPayload.self, from: Data(text.utf8))
    }
}
