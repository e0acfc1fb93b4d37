import Foundation

/// HMAC-SHA256 (RFC 2104) over `SHA256Hasher`: a keyed hash, so that values hashed with one site's key
/// cannot be matched against another site's.
public enum HMACSHA256 {
    /// The authentication code of `message` under `key`, as lowercase hex (64 digits).
    public static func hex(key: [UInt8], message: [UInt8]) -> String {
        let blockSize = 64
        var k = key
        if k.count > blockSize { k = bytes(ofHex: sha256Hex(k)) }
        k += [UInt8](repeating: 0, count: blockSize - k.count)
        let inner = bytes(ofHex: sha256Hex(k.map { $0 ^ 0x36 } + message))
        return sha256Hex(k.map { $0 ^ 0x5c } + inner)
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        var h = SHA256Hasher()
        bytes.withUnsafeBytes { h.update($0) }
        return h.finalizeHex()
    }

    static func bytes(ofHex hex: String) -> [UInt8] {
        let u = Array(hex.utf8)
        func v(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
        return stride(from: 0, to: u.count, by: 2).map { v(u[$0]) << 4 | v(u[$0 + 1]) }
    }
}
