import Foundation
import WorkerQueue

/// The reviewers' web pages of the worker's listener: where accounts, sessions, cases and verdicts live,
/// where model images are, the viewer link, the monitoring seam and the verdict hook. Without one, the
/// listener serves only the API.
public struct ReviewConfiguration: Sendable {
    /// Called after a verdict is stored (and audited), before the reviewer is sent to the next case: the
    /// service sends the verified SR from here. It is awaited, so it should queue slow work, not do it.
    public typealias VerdictHook = @Sendable (VerdictRecord, ReviewCase) async -> Void

    /// The review data: in `dsa-triage serve`, the same database (and object) as the job queue.
    public var store: any ReviewStore
    /// The worker's folder of model input images (PNG); nil: case pages show no image.
    public var imageDirectory: URL?
    /// The site's viewer; nil: no viewer link.
    public var viewerLink: ViewerLink?
    /// The dashboard's figures and exports (the monitoring library); nil: the dashboard shows counts only.
    public var dashboard: (any DashboardSource)?
    public var onVerdict: VerdictHook?
    /// How long a login lasts (absolute, not sliding).
    public var sessionLifetime: TimeInterval
    /// Failed logins per account name within `lockoutWindow` after which that name is locked out for the
    /// rest of the window.
    public var maxFailedLogins: Int
    public var lockoutWindow: TimeInterval
    /// Added to every failed login's answer, on top of bcrypt's own cost.
    public var failedLoginDelay: TimeInterval

    /// Twelve hours: one shift.
    public static let defaultSessionLifetime: TimeInterval = 12 * 3600

    /// Checks the image folder exists and the durations and limits are positive.
    public init(store: any ReviewStore, imageDirectory: URL? = nil, viewerLink: ViewerLink? = nil,
                dashboard: (any DashboardSource)? = nil, onVerdict: VerdictHook? = nil,
                sessionLifetime: TimeInterval = ReviewConfiguration.defaultSessionLifetime, maxFailedLogins: Int = 5,
                lockoutWindow: TimeInterval = 15 * 60, failedLoginDelay: TimeInterval = 0.5) throws(ReviewConfigurationError) {
        if let imageDirectory {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: imageDirectory.path, isDirectory: &isFolder), isFolder.boolValue else {
                throw .imageDirectory(path: imageDirectory.path, reason: "no such folder")
            }
        }
        guard sessionLifetime.isFinite, sessionLifetime > 0 else { throw .invalidDuration(setting: "session lifetime", seconds: sessionLifetime) }
        guard lockoutWindow.isFinite, lockoutWindow > 0 else { throw .invalidDuration(setting: "lockout window", seconds: lockoutWindow) }
        guard failedLoginDelay.isFinite, failedLoginDelay >= 0 else {
            throw .invalidDuration(setting: "failed login delay", seconds: failedLoginDelay)
        }
        guard maxFailedLogins >= 1 else { throw .invalidLimit(setting: "maximum failed logins", value: maxFailedLogins) }
        self.store = store
        self.imageDirectory = imageDirectory?.standardizedFileURL
        self.viewerLink = viewerLink
        self.dashboard = dashboard
        self.onVerdict = onVerdict
        self.sessionLifetime = sessionLifetime
        self.maxFailedLogins = maxFailedLogins
        self.lockoutWindow = lockoutWindow
        self.failedLoginDelay = failedLoginDelay
    }
}
