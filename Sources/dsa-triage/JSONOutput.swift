import Foundation
import ModelFiles
import Tensor

/// Minimal ordered JSON writer for the command's one-line records.
enum JSONOutput {
    static func string(_ s: String) -> String { jsonString(s) }

    static func ints(_ a: [Int]) -> String { "[" + a.map(String.init).joined(separator: ",") + "]" }

    /// An object from ordered (key, already-encoded value) pairs.
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}
