import Crypto
import Foundation

/// UIDs derived from a key, so that the same job always yields the same SR identity: a resent result replaces
/// the earlier copy in the PACS instead of adding a second one.
///
/// The derivation (documented in docs/STRUCTURED_REPORT.md): SHA-256 over the UTF-8 bytes of
/// `"dsa-triage/sr/" + purpose + "\n" + key`; the first 16 bytes become an RFC 9562 version-8 UUID (version
/// nibble 8, variant bits 10); the UID is "2.25." followed by that UUID as one unsigned decimal integer
/// (PS3.5 §B.2). At most 44 characters, well under the 64 a UID may have.
public enum DerivedUID {
    /// What a derived UID identifies; each purpose hashes into its own space.
    public enum Purpose: String, Sendable, CaseIterable {
        case sopInstance = "sop-instance"
        case series
        case trackingIdentifier = "tracking"
        case deviceObserver = "device-observer"
        case verifiedSOPInstance = "verified-sop-instance"
        case codingScheme = "coding-scheme"
    }

    /// The UID for `key` and `purpose`.
    public static func uid(for key: String, purpose: Purpose) -> String {
        "2.25." + decimal(uuidBytes(for: key, purpose: purpose))
    }

    /// The 16 UUID bytes (version 8, RFC 4122/9562 variant) behind `uid(for:purpose:)`.
    public static func uuidBytes(for key: String, purpose: Purpose) -> [UInt8] {
        let digest = SHA256.hash(data: Data(("dsa-triage/sr/" + purpose.rawValue + "\n" + key).utf8))
        var b = Array(digest.prefix(16))
        b[6] = (b[6] & 0x0F) | 0x80
        b[8] = (b[8] & 0x3F) | 0x80
        return b
    }

    /// A big-endian unsigned integer of any width as decimal digits (no leading zeros; "0" for zero).
    static func decimal(_ bytes: [UInt8]) -> String {
        var number = bytes
        var digits: [UInt8] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for i in number.indices {
                let v = remainder << 8 | Int(number[i])
                number[i] = UInt8(v / 10)
                remainder = v % 10
            }
            digits.append(UInt8(48 + remainder))
        }
        return digits.isEmpty ? "0" : String(decoding: digits.reversed(), as: UTF8.self)
    }
}
