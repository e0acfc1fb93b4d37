import Foundation

/// Why a password is refused for an account: each case says what the rule is, never echoing the password.
public enum PasswordPolicyError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// Shorter than `PasswordHashing.minimumLength` characters.
    case tooShort(characters: Int, minimum: Int)
    /// Longer than bcrypt's 72 bytes, beyond which bcrypt ignores the rest (so the tail would protect nothing).
    case tooLong(bytes: Int, maximum: Int)
    /// A NUL character, which bcrypt's C implementation would treat as the end of the password.
    case containsNUL

    public var description: String {
        switch self {
        case .tooShort(let characters, let minimum):
            return "the password has \(characters) characters; at least \(minimum) are required"
        case .tooLong(let bytes, let maximum):
            return "the password is \(bytes) bytes long in UTF-8; bcrypt uses at most \(maximum), so give a shorter one"
        case .containsNUL:
            return "the password contains a NUL character"
        }
    }

    public var errorDescription: String? { description }
}
