/// The rule for review-UI login names (the store's own): 1–64 ASCII letters, digits, `.`, `_` or `-`.
/// Checked before any lookup, so that free text never reaches the database or the audit log as a name.
public enum AccountName {
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { b in
            (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
    }
}
