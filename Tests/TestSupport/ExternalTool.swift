import Foundation

/// Runs an independent command-line tool (dcmtk, dicom3tools) that a test checks our output against. A
/// missing tool is a failure naming the Debian package to install (scripts/bootstrap installs them all).
public enum ExternalTool {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
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

/// SplitMix64: a small seeded generator, the same sequence on every machine.
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n (0 for n ≤ 1).
    public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}
