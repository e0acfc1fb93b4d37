import Foundation
import Imaging
import ModelFiles
#if canImport(Glibc)
import Glibc
#endif

/// `--save-images DIR`: each model input image as a PNG named by a record id (hashed UIDs and frame
/// numbers, never a path or a patient attribute), so a person can see what the model saw.
public enum SavedImages {
    /// A DICOM image's id: the hashed series UID, the run's hashed instance UID (12 digits) and the frames.
    public static func id(series: String?, instance: String?, frames: [Int], index: Int) -> String {
        var id = "series-" + (series ?? "none")
        id += "_" + (instance.map { String($0.prefix(12)) } ?? "image\(index + 1)")
        if let first = frames.first, let last = frames.last {
            let contiguous = frames == Array(first...max(first, last))
            var f = contiguous ? (first == last ? "\(first)" : "\(first)-\(last)") : frames.map(String.init).joined(separator: ".")
            if f.count > 40 { f = String(SHA256Hasher.hex(of: Data(f.utf8)).prefix(12)) }
            id += "_f" + f
        }
        return id
    }

    /// Writes `rgb` as `<id>.png` into `directory` through a temporary name renamed into place, so a file
    /// there is always whole; returns the file name.
    public static func write(_ rgb: RGBImage, id: String, into directory: URL) throws -> String {
        let name = id + ".png"
        let url = directory.appendingPathComponent(name)
        let tmp = directory.appendingPathComponent(".\(name).\(getpid()).tmp")
        do {
            try PNGEncoder.encode(rgb).write(to: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw TriageError.invalidArgument("\(url.path): cannot write: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        if rename(tmp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw TriageError.invalidArgument("\(url.path): cannot write: \(reason)")
        }
        return name
    }

    /// Checks that `directory` can take saved images (creating it when missing), before any model work: an
    /// error names the folder and the cause.
    public static func prepare(_ directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TriageError.invalidArgument("--save-images \(directory.path): cannot create the folder: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        let probe = directory.appendingPathComponent(".dsa-triage-probe.\(getpid())")
        guard FileManager.default.createFile(atPath: probe.path, contents: Data()) else {
            throw TriageError.invalidArgument("--save-images \(directory.path): the folder is not writable")
        }
        try? FileManager.default.removeItem(at: probe)
    }
}
