import Crypto
import Foundation

/// HMAC-SHA256 (RFC 2104) through swift-crypto: a keyed hash, so that values hashed with one site's key
/// cannot be matched against another site's.
public enum HMACSHA256 {
    /// The authentication code of `message` under `key`, as lowercase hex (64 digits).
    public static func hex(key: [UInt8], message: [UInt8]) -> String {
        let code = HMAC<Crypto.SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return SHA256Hasher.hex(bytes: Array(code))
    }
}
