/// UID syntax (PS3.5 §9.1): digits and dots, at most 64 characters. A value with this syntax cannot hold a
/// name, so messages may quote it; any other value in a UID field is described, never quoted.
public enum DICOMUID {
    /// Whether `value` has UID syntax.
    public static func isWellFormed(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 64 && value.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == 46 }
    }

    /// `value` when it has UID syntax, else "an invalid UID (N characters)".
    public static func quoted(_ value: String) -> String {
        isWellFormed(value) ? value : "an invalid UID (\(value.count) characters)"
    }
}
