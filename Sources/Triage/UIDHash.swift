import Foundation
import ModelFiles

/// One-way hashes of DICOM UIDs: records can be joined to each other without carrying the UID. With a
/// site key the hash is keyed (HMAC-SHA256), so hashes from two sites cannot be linked to each other.
public enum UIDHash {
    /// First 32 hex digits of sha256("dsa-triage-uid:" + uid), or of HMAC-SHA256(key, the same text).
    public static func hash(_ uid: String, key: SiteKey? = nil) -> String {
        let text = Array(("dsa-triage-uid:" + uid).utf8)
        guard let key else { return String(SHA256Hasher.hex(of: Data(text)).prefix(32)) }
        return String(HMACSHA256.hex(key: key.bytes, message: text).prefix(32))
    }
}
