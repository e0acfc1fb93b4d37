import Monitoring
import Triage

extension ReferenceDistribution {
    /// The monitoring reference from a task profile's `reference_distribution` (Triage keeps its own copy of
    /// the shape because it does not depend on Monitoring); checked as a reference read from JSON is.
    init(_ stored: ProfileReferenceDistribution) throws(MonitoringError) {
        self.init(source: stored.source, pBlocked: stored.pBlocked, pBlockedBins: stored.pBlockedBins, meanGray: stored.meanGray,
                  dynamicRange: stored.dynamicRange, frameCount: stored.frameCount, skippedShare: stored.skippedShare,
                  unreadableShare: stored.unreadableShare, seriesCount: stored.seriesCount)
        try validate()
    }
}
