import ArgumentParser
import Foundation
import Triage
#if canImport(Glibc)
import Glibc
#endif

struct DSATriage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsa-triage",
        abstract: "Triage digital subtraction angiography with MedGemma (decision support only).",
        version: SoftwareVersion.current,
        // The main job first, then the commands around it in the order a user meets them.
        subcommands: [TriageCommand.self, EvaluateCommand.self, InspectCommand.self, SynthCommand.self, TrainCommand.self,
                      DomainCommand.self, MergeCommand.self, GenerateCommand.self, BenchCommand.self, ServeCommand.self, QueueCommand.self, UsersCommand.self, MonitorCommand.self]
    )
}

@main
enum Entry {
    /// argument-parser's `main`, except that help and error texts go through `Console` (its own writes
    /// lose a failed write), and a run whose messages could not be written does not exit 0.
    static func main() async {
        ThreadingPolicy.apply()
        enableAutomaticCompute()
        // A file-size limit (ulimit -f) should fail the write with EFBIG and a message, not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        var status: Int32 = 0
        do {
            var command = try await DSATriage.asyncParseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            status = DSATriage.exitCode(for: error).rawValue
            let text = DSATriage.fullMessage(for: error)
            if !text.isEmpty {
                if status == 0 {
                    // Help and version texts are the output asked for.
                    do { try Console.out(text + "\n") } catch {
                        Console.err("error: \(error)\n")
                        status = Console.ioErrorStatus
                    }
                } else {
                    Console.err(text + "\n")
                }
            }
        }
        if status == 0 && Console.diagnosticsLost.load(ordering: .relaxed) { status = Console.ioErrorStatus }
        exit(status)
    }
}

/// OpenMP's default is to spin between parallel regions; on a small machine shared with other work a
/// spinning team waits for a descheduled thread and decode slows several-fold. The policy is read when
/// the runtime loads, so the process re-executes itself once with it set (unless the user chose one).
enum ThreadingPolicy {
    static func apply() {
        let env = ProcessInfo.processInfo.environment
        guard env["OMP_WAIT_POLICY"] == nil, env["DSA_TRIAGE_REEXEC"] == nil else { return }
        setenv("OMP_WAIT_POLICY", "passive", 1)
        setenv("DSA_TRIAGE_REEXEC", "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv only returns on failure; carry on with the default policy.
    }
}
