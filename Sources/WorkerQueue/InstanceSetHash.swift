import Crypto
import Foundation

extension JobKey {
    /// The instance-set part of a job key: SHA-256 (hex) over the series' SOP Instance UIDs, sorted, each with
    /// its frame count. A series that gains an instance (or whose instance is replaced by one with other
    /// frames) gets a new key, hence a new job version; the same set sent again gets the same key.
    public static func instanceSetHash(_ instances: [(sopInstanceUID: String, frames: Int)]) -> String {
        var hasher = SHA256()
        hasher.update(data: Data("dsa-triage instance set v1\n".utf8))
        for item in instances.sorted(by: { $0.sopInstanceUID < $1.sopInstanceUID }) {
            hasher.update(data: Data("\(item.sopInstanceUID.utf8.count):\(item.sopInstanceUID)/\(item.frames)\n".utf8))
        }
        return hexString(hasher.finalize())
    }
}
