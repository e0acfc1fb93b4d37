import Foundation
import LoRA
import ModelFiles

/// Fingerprints of model weights, remembered between runs: hashing MedGemma's 8.6 GB takes longer than
/// loading it, so a fingerprint is stored with the size and modification time of every weight file and
/// reused while none of them changed (as git's index trusts file stats).
public enum ModelFingerprint {
    /// Where fingerprints are kept: $DSA_TRIAGE_CACHE/fingerprints, else ~/.cache/dsa-triage/fingerprints.
    public static var defaultCacheDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["DSA_TRIAGE_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: env["HOME"] ?? NSTemporaryDirectory()).appendingPathComponent(".cache/dsa-triage")
        return base.appendingPathComponent("fingerprints")
    }

    struct Entry: Codable, Equatable {
        var path: String
        var files: [String: [Double]]   // name → [size, mtime]
        var fingerprint: String
    }

    /// The weight files a fingerprint covers, with their stats.
    static func stats(_ path: String) throws -> [String: [Double]] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw TriageError.unreadableInput(path: path, reason: "no such file or folder") }
        let names: [String]
        let dir: URL
        if isDir.boolValue {
            dir = URL(fileURLWithPath: path)
            names = try fm.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".safetensors") || $0 == "model.safetensors.index.json" }
        } else {
            dir = URL(fileURLWithPath: path).deletingLastPathComponent()
            names = [URL(fileURLWithPath: path).lastPathComponent]
        }
        var out: [String: [Double]] = [:]
        for n in names {
            let a = try fm.attributesOfItem(atPath: dir.appendingPathComponent(n).resolvingSymlinksInPath().path)
            let size = (a[.size] as? NSNumber)?.doubleValue ?? -1
            let mtime = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
            out[n] = [size, mtime]
        }
        return out
    }

    /// sha256 over the weight files' sha256s (`AdapterMerger.fingerprint`) for a directory, or of the file
    /// itself; taken from the cache when every file's size and modification time are unchanged.
    public static func of(path: String, cacheDirectory: URL? = defaultCacheDirectory) throws -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let current = try stats(absolute)
        let entryURL = cacheDirectory?.appendingPathComponent(SHA256Hasher.hex(of: Data(absolute.utf8)) + ".json")
        if let entryURL, let data = FileManager.default.contents(atPath: entryURL.path),
           let entry = try? JSONDecoder().decode(Entry.self, from: data), entry.path == absolute, entry.files == current {
            return entry.fingerprint
        }
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: absolute, isDirectory: &isDir)
        let fingerprint = isDir.boolValue ? try AdapterMerger.fingerprint(modelDirectory: URL(fileURLWithPath: absolute))
            : try SHA256Hasher.hex(ofFile: absolute)
        if let entryURL, let cacheDirectory {
            // A cache that cannot be written only costs time next run.
            try? FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
            if let data = try? JSONEncoder().encode(Entry(path: absolute, files: current, fingerprint: fingerprint)) {
                try? data.write(to: entryURL, options: .atomic)
            }
        }
        return fingerprint
    }
}
