/// The exit statuses every command shares, for the help texts (docs/TRIAGE.md lists them too).
enum ExitStatusHelp {
    /// 1, 64 and 74, as appended to each command's own statuses.
    static let common = "1 bad input, model, profile or output location (one error: line on stderr names the file and the cause); "
        + "64 bad command-line arguments (usage error); 74 standard output or standard error could not be written (e.g. a full disk)"

    /// A command with no statuses of its own.
    static let plain = "Exit status: 0 done; " + common + "."
}
