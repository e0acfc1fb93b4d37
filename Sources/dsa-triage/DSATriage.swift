import ArgumentParser

@main
struct DSATriage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsa-triage",
        abstract: "Triage digital subtraction angiography with MedGemma (decision support only).",
        subcommands: [GenerateCommand.self]
    )
}
