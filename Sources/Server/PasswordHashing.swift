import Dispatch
import Foundation
import HummingbirdBcrypt

/// Password hashes of review-UI accounts: bcrypt at cost 12, with the length rules checked first. Hashing
/// and verifying take a noticeable fraction of a second by design, so the async forms run them on a
/// Dispatch queue instead of blocking one of the few threads of Swift's cooperative pool.
public enum PasswordHashing {
    /// bcrypt's work factor (2^12 rounds): about a quarter of a second per guess on a current CPU core.
    public static let cost: UInt8 = 12
    /// Shortest password accepted: a long passphrase is the defence that does not depend on the hash.
    public static let minimumLength = 12
    /// bcrypt reads at most 72 bytes of the password.
    public static let maximumBytes = 72

    /// Checks the length rules without hashing.
    public static func check(_ password: String) throws(PasswordPolicyError) {
        if password.unicodeScalars.contains("\0") { throw .containsNUL }
        let characters = password.count
        guard characters >= minimumLength else { throw .tooShort(characters: characters, minimum: minimumLength) }
        let bytes = password.utf8.count
        guard bytes <= maximumBytes else { throw .tooLong(bytes: bytes, maximum: maximumBytes) }
    }

    /// A bcrypt hash (`$2b$12$…`) of an acceptable password, computed off the cooperative pool.
    public static func hash(_ password: String) async throws(PasswordPolicyError) -> String {
        try check(password)
        return await offload { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`; a malformed hash never matches.
    public static func verify(_ password: String, hash: String) async -> Bool {
        guard hash.hasPrefix("$2"), !password.unicodeScalars.contains("\0") else { return false }
        return await offload { Bcrypt.verify(password, hash: hash) }
    }

    /// Spends the time of one verification and fails: for a login that names no usable account, so that an
    /// unknown name costs the same time as a wrong password and timing does not reveal which names exist.
    static func verifyDecoy(_ password: String) async -> Bool {
        _ = await offload { Bcrypt.verify(password, hash: decoyHash) }
        return false
    }

    /// A hash of a random password at the same cost (made once, off the cooperative pool, on first use).
    private static let decoyHash = Bcrypt.hash(SessionToken.random(), cost: cost)

    private static let queue = DispatchQueue(label: "dsa-triage.password-hashing", attributes: .concurrent)

    private static func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }
}
