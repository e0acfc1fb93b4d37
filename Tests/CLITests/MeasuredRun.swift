import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One run of the built binary with its standard output sent to a chosen file (e.g. /dev/full), observed
/// as the shell would: exit status or the signal that ended it, standard error, and the binary's own peak
/// resident memory.
///
/// The peak is taken by a small Python parent (wait4's rusage of its child), not by the test process
/// itself: Linux records the peak of the memory a process replaces at exec, and a child spawned straight
/// from the test process (posix_spawn shares its memory until exec) would report the test process's own
/// peak — over a gigabyte late in the suite — instead of the binary's.
struct MeasuredRun {
    var status: Int32?
    var signal: Int32?
    var stderr: String
    var stdout: String
    var peakRSSBytes: Int

    /// Runs `args`; stdout goes to `stdoutPath` (nil: a temporary file that is read back), stderr to a
    /// temporary file unless `stderrPath` is given.
    static func run(_ args: [String], stdoutPath: String? = nil, stderrPath: String? = nil,
                    shellPrefix: String? = nil) throws -> MeasuredRun {
        let dir = try CLI.tempDir()
        let outFile = stdoutPath ?? dir.appendingPathComponent("stdout").path
        let errFile = stderrPath ?? dir.appendingPathComponent("stderr").path
        var argv: [String]
        if let shellPrefix {
            // e.g. "ulimit -f 10;": the limit applies to the binary, which the shell execs.
            let quoted = ([CLI.binary.path] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
            argv = ["/bin/sh", "-c", shellPrefix + " exec " + quoted.joined(separator: " ")]
        } else {
            argv = [CLI.binary.path] + args
        }
        let usageFile = dir.appendingPathComponent("rusage.json").path
        argv = ["/usr/bin/env", "python3", "-c", reaper, usageFile] + argv
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        guard rc == 0 else { throw NSError(domain: NSPOSIXErrorDomain, code: Int(rc)) }
        var reaperStatus: Int32 = 0
        while waitpid(pid, &reaperStatus, 0) < 0 && errno == EINTR {}
        guard let usageData = FileManager.default.contents(atPath: usageFile),
              let usage = try JSONSerialization.jsonObject(with: usageData) as? [String: Int],
              let status32 = usage["status"].map(Int32.init), let maxRSSKiB = usage["maxrss_kib"] else {
            throw NSError(domain: "MeasuredRun", code: Int(reaperStatus),
                          userInfo: [NSLocalizedDescriptionKey: "the python3 parent left no usage record (status \(reaperStatus))"])
        }
        let status = status32
        // WIFEXITED / WTERMSIG by hand (the C macros are not imported).
        let termSignal = status & 0x7f
        let exited = termSignal == 0
        let read = { (p: String) -> String in
            (p == "/dev/full" || p == "/dev/null") ? "" : String(decoding: FileManager.default.contents(atPath: p) ?? Data(), as: UTF8.self)
        }
        return MeasuredRun(status: exited ? (status >> 8) & 0xff : nil, signal: exited ? nil : termSignal,
                           stderr: read(errFile), stdout: read(outFile), peakRSSBytes: maxRSSKiB * 1024)
    }

    /// Runs argv[2...] with the inherited standard streams and writes its raw wait status and peak RSS
    /// (KiB, ru_maxrss of the child alone) to argv[1].
    private static let reaper = """
        import json, os, sys
        pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
        while True:
            try:
                _, status, usage = os.wait4(pid, 0)
                break
            except InterruptedError:
                continue
        with open(sys.argv[1], "w") as f:
            json.dump({"status": status, "maxrss_kib": usage.ru_maxrss}, f)
        """
}
