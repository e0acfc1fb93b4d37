import Foundation

/// Whether a listen host is reachable only from this machine: `localhost`, 127.0.0.0/8, `::1` and
/// IPv4-mapped loopback. Anything else (a name, 0.0.0.0, `::`, a routable address) counts as exposed,
/// because that is what decides whether the listener may run without authentication.
public enum LoopbackAddress {
    /// True for loopback literals and the name `localhost` (other names are not resolved: their answer can change).
    public static func isLoopback(_ host: String) -> Bool {
        var text = host.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        let lowered = text.lowercased()
        if lowered == "localhost" || lowered == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            guard bytes.count == 16 else { return false }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            // ::ffff:127.x.y.z, an IPv4 loopback address in IPv6 form.
            let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            return mapped && bytes[12] == 127
        }
        return false
    }
}
