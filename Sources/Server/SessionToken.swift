import Crypto
import Foundation

/// Secrets of the review UI's sessions: 256 random bits from the system's CSPRNG, written as 64 hexadecimal
/// digits (valid in a cookie and a form field as they are), and the SHA-256 under which the store keeps a
/// session, so that a copy of the database does not hand out live sessions.
enum SessionToken {
    /// 32 bytes from `SystemRandomNumberGenerator` (getrandom(2) on Linux), in lowercase hex.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: .min ... .max, using: &generator) }
        return hex(bytes)
    }

    /// SHA-256 of the token's UTF-8 bytes, in lowercase hex.
    static func hash(_ token: String) -> String {
        hex(Array(SHA256.hash(data: Array(token.utf8))))
    }

    /// True for exactly 64 lowercase hexadecimal digits (what `random()` makes); anything else is not looked up.
    static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 64 && token.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
