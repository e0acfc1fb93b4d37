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
                      DomainCommand.self, MergeCommand.self, GenerateCommand.self, BenchCommand.self]
    )
}

@main
enum Entry {
    static func main() async {
        ThreadingPolicy.apply()
        await DSATriage.main()
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
