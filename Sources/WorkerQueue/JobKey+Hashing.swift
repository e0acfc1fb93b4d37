import Crypto
import Foundation

extension JobKey {
    /// The idempotency key of a triage job: SHA-256 (hex) over the parts that decide the result, each
    /// written with its name and length so that no two different part lists hash the same text.
    ///
    /// - Parameters:
    ///   - seriesUIDHash: the series' hashed UID (`SeriesKey.rawValue`), never the UID itself.
    ///   - instanceSetHash: a hash of the instance set (e.g. of the sorted SOP Instance UIDs' hashes).
    ///   - modelFingerprint: the model's fingerprint.
    ///   - adapterFingerprint: the adapter's fingerprint, nil without an adapter.
    ///   - profileHash: the task profile's hash.
    public static func make(seriesUIDHash: String, instanceSetHash: String, modelFingerprint: String,
                            adapterFingerprint: String?, profileHash: String) -> JobKey {
        var hasher = SHA256()
        let parts: [(String, String?)] = [
            ("series", seriesUIDHash), ("instances", instanceSetHash), ("model", modelFingerprint),
            ("adapter", adapterFingerprint), ("profile", profileHash),
        ]
        hasher.update(data: Data("dsa-triage job key v1\n".utf8))
        for (name, value) in parts {
            let text = value.map { "\(name)=\($0.utf8.count):\($0)\n" } ?? "\(name)=none\n"
            hasher.update(data: Data(text.utf8))
        }
        return JobKey(rawValue: hexString(hasher.finalize()))
    }
}

extension SeriesKey {
    /// The queue's key of a series: SHA-256 (hex) of its Series Instance UID. The UID itself is never
    /// stored.
    public static func hashing(uid: String) -> SeriesKey {
        SeriesKey(rawValue: hexString(SHA256.hash(data: Data("dsa-triage series uid v1\n\(uid)".utf8))))
    }
}

/// Lower-case hex of a digest's bytes.
func hexString<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}
