import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One run of the built binary with its standard output sent to a chosen file (e.g. /dev/full), observed
/// as the shell would: exit status or the signal that ended it, standard error, and the child's own peak
/// resident memory (wait4's rusage, so earlier children of the test process do not count).
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
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        // WIFEXITED / WTERMSIG by hand (the C macros are not imported).
        let termSignal = status & 0x7f
        let exited = termSignal == 0
        let read = { (p: String) -> String in
            (p == "/dev/full" || p == "/dev/null") ? "" : String(decoding: FileManager.default.contents(atPath: p) ?? Data(), as: UTF8.self)
        }
        return MeasuredRun(status: exited ? (status >> 8) & 0xff : nil, signal: exited ? nil : termSignal,
                           stderr: read(errFile), stdout: read(outFile), peakRSSBytes: Int(usage.ru_maxrss) * 1024)
    }
}
