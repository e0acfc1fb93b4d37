import Foundation

/// Runs an independent command-line tool (dcmtk, dicom3tools) that a test checks our output against. A
/// missing tool is a failure naming the Debian package to install (scripts/bootstrap installs them all).
public enum ExternalTool {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public static func locate(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `name` with `arguments`; returns the exit status and stdout + stderr together.
    public static func run(_ name: String, _ arguments: [String], package: String) throws -> (status: Int32, output: String) {
        guard let exe = locate(name) else {
            throw Missing(description: "\(name) not found: install the package `\(package)` (scripts/bootstrap installs it)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A fresh, not yet created, directory path under the temporary directory.
    public static func temporaryPath(_ label: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    }
}

