import Foundation
import WorkerQueue

/// What, besides the instances, decides a result: the model, the adapter and the task profile. Part of
/// every job key, so a new model or profile triages a series again while a restart never does.
public struct WorkerIdentity: Sendable, Equatable {
    public var modelFingerprint: String
    public var adapterFingerprint: String?
    public var profileName: String
    public var profileHash: String

    public init(modelFingerprint: String, adapterFingerprint: String?, profileName: String, profileHash: String) {
        self.modelFingerprint = modelFingerprint
        self.adapterFingerprint = adapterFingerprint
        self.profileName = profileName
        self.profileHash = profileHash
    }

    /// The idempotency key of a series with these instances.
    public func jobKey(series: SeriesKey, instances: [(sopInstanceUID: String, frames: Int)]) -> JobKey {
        JobKey.make(seriesUIDHash: series.rawValue, instanceSetHash: JobKey.instanceSetHash(instances),
                    modelFingerprint: modelFingerprint, adapterFingerprint: adapterFingerprint, profileHash: profileHash)
    }
}
