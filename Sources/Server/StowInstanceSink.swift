import Foundation

/// Where the STOW-RS endpoint hands each received part: the worker's spool. The server streams a part's
/// bytes into a file under `stagingDirectory` (same file system as the spool, so the sink can rename it)
/// and then asks the sink to accept it. The sink validates the DICOM content, fsyncs it into the spool and
/// answers with the SOP identity PS3.18's response needs. Only `.stored` parts are acknowledged.
public protocol StowInstanceSink: Sendable {
    /// A folder on the spool's file system for parts being received.
    var stagingDirectory: URL { get }
    /// Validates the staged part and stores it durably (fsync of the file and its folder) before
    /// returning `.stored`. The staged file is consumed (moved or deleted) in every case.
    /// - Parameter studyInstanceUID: the study of the request path (`/studies/{study}`), nil for `/studies`.
    func accept(stagedFile: URL, studyInstanceUID: String?) async -> StowPartOutcome
}

/// A part's outcome, as the PS3.18 STOW-RS response reports it.
public enum StowPartOutcome: Sendable, Equatable {
    /// Stored durably. `warning` (PS3.18 Warning Reason, e.g. 0xB000 coercion) when something was changed.
    case stored(sopClassUID: String, sopInstanceUID: String, warning: UInt16?)
    /// Not stored. `reason` is the PS3.18/PS3.4 failure code (0xA700 out of resources, 0xA900 data set does not
    /// match SOP class, 0xC000 cannot understand, 0xC122 referenced transfer syntax not supported, …);
    /// the UIDs when the part was readable enough to name them; `message` a short text without identifiers.
    case failed(sopClassUID: String?, sopInstanceUID: String?, reason: UInt16, message: String)
}

/// What `/readyz` reports: each check by name, true when ready, with a short detail.
public protocol ReadinessProbe: Sendable {
    func readiness() async -> [ReadinessCheck]
}

/// One named check of /readyz (model, database, a source), so an operator sees which part is not ready.
public struct ReadinessCheck: Sendable, Equatable, Codable {
    public var name: String
    public var ok: Bool
    public var detail: String
    public init(name: String, ok: Bool, detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }
}
