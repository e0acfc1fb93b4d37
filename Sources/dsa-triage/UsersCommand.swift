// Accounts of the review UI (issue 18): add, disable and list reviewers and admins.
import ArgumentParser
import Foundation
import Logging
import Server
import Service
import WorkerQueue

/// Why a `users` command cannot do what was asked; each case names the file or account and the fix.
enum UsersCommandError: Error, CustomStringConvertible {
    case noDatabase
    case passwordFileUnreadable(path: String, reason: String)
    case passwordFilePermissions(path: String, mode: Int)
    case passwordFileNotText(path: String)
    case password(path: String, PasswordPolicyError)
    case invalidName(String)
    case nameTaken(String)
    case noSuchUser(String)

    var description: String {
        switch self {
        case .noDatabase:
            return "no database: give --db sqlite:PATH or postgres://USER@HOST:PORT/DB (or --config with a db key)"
        case .passwordFileUnreadable(let path, let reason):
            return "password file \(path): cannot read it: \(reason)"
        case .passwordFilePermissions(let path, let mode):
            return "password file \(path) has mode \(String(mode, radix: 8)), open to group or others: run chmod 600 on it"
        case .passwordFileNotText(let path):
            return "password file \(path) is not UTF-8 text"
        case .password(let path, let error):
            return "password file \(path): \(error)"
        case .invalidName(let name):
            return "user name \"\(name)\" is not 1–64 letters, digits, '.', '_' or '-'"
        case .nameTaken(let name):
            return "a user named \(name) exists already"
        case .noSuchUser(let name):
            return "there is no user named \(name) (see `dsa-triage users list`)"
        }
    }
}

/// The worker database's location for the `users` commands.
struct UsersDatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "Worker database: sqlite:PATH or postgres://USER@HOST:PORT/DB (wins over --config).")
    var db: String?
    @Option(name: .long, help: "Worker configuration file; its db and db_password_file are used.")
    var config: String?
    @Option(name: .customLong("db-password-file"), help: "File holding the PostgreSQL password.")
    var dbPasswordFile: String?

    /// Opens the database (the job queue's, which also holds the review data), runs `body`, closes it.
    func withDatabase(_ body: (any WorkerDatabase) async throws -> Void) async throws {
        let file = try config.map { try WorkerConfiguration.load(path: $0) }
        guard let url = db ?? file?.db, !url.isEmpty else { throw UsersCommandError.noDatabase }
        var logger = Logger(label: "dsa-triage.users")
        logger.logLevel = .error
        let store = try await JobStoreLocation(parsing: url).open(passwordFile: dbPasswordFile ?? file?.dbPasswordFile, logger: logger)
        do {
            try await body(store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }
}

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the review UI's accounts: add, disable, enable and list reviewers and admins.",
        discussion: "Passwords are read from a file (mode 600) and kept only as bcrypt hashes (cost 12). See docs/WORKER_HTTP.md.",
        subcommands: [Add.self, Disable.self, Enable.self, List.self]
    )

    static let actor = "cli"

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an account (password from a file only readable by its owner).")
        @OptionGroup var database: UsersDatabaseOptions
        @Option(name: .long, help: "Login name: 1–64 letters, digits, '.', '_' or '-'.")
        var name: String
        @Option(name: .long, help: "reviewer or admin.")
        var role: String
        @Option(name: .customLong("password-file"), help: "File holding the password (mode 600; at least \(PasswordHashing.minimumLength) characters; one trailing newline ignored).")
        var passwordFile: String

        func validate() throws {
            if UserRole(rawValue: role) == nil { throw ValidationError("--role must be reviewer or admin") }
            if !AccountName.isValid(name) { throw ValidationError(UsersCommandError.invalidName(name).description) }
        }

        func run() async throws {
            try await QueueCommand.reporting {
                let password = try UsersCommand.readPassword(passwordFile)
                let hash: String
                do {
                    hash = try await PasswordHashing.hash(password)
                } catch let error as PasswordPolicyError {
                    throw UsersCommandError.password(path: passwordFile, error)
                }
                try await database.withDatabase { store in
                    if try await store.user(name: name) != nil { throw UsersCommandError.nameTaken(name) }
                    let user = try await store.addUser(name: name, role: UserRole(rawValue: role) ?? .reviewer, passwordHash: hash,
                                                       actor: UsersCommand.actor, now: nil)
                    try Console.out("added \(user.role.rawValue) \(user.name)\n")
                }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account (it can no longer sign in; its sessions end).")
        @OptionGroup var database: UsersDatabaseOptions
        @Option(name: .long, help: "Login name.")
        var name: String

        func run() async throws {
            try await QueueCommand.reporting {
                try await UsersCommand.setDisabled(name, true, database)
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account again.")
        @OptionGroup var database: UsersDatabaseOptions
        @Option(name: .long, help: "Login name.")
        var name: String

        func run() async throws {
            try await QueueCommand.reporting {
                try await UsersCommand.setDisabled(name, false, database)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts: name, role, state, creation time (never the hashes).")
        @OptionGroup var database: UsersDatabaseOptions
        @Flag(name: .long, help: "One JSON object per line instead of a table.")
        var json = false

        func run() async throws {
            try await QueueCommand.reporting {
                try await database.withDatabase { store in
                    let formatter = ISO8601DateFormatter()
                    for user in try await store.users() {
                        let state = user.disabled ? "disabled" : "active"
                        let created = formatter.string(from: user.createdAt)
                        if json {
                            let object: [String: Any] = ["name": user.name, "role": user.role.rawValue, "state": state, "created_at": created]
                            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                            try Console.out(String(decoding: data, as: UTF8.self) + "\n")
                        } else {
                            try Console.out("\(user.name.padding(toLength: max(20, user.name.count + 1), withPad: " ", startingAt: 0))"
                                + "\(user.role.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0))"
                                + "\(state.padding(toLength: 10, withPad: " ", startingAt: 0))\(created)\n")
                        }
                    }
                }
            }
        }
    }

    static func setDisabled(_ name: String, _ disabled: Bool, _ database: UsersDatabaseOptions) async throws {
        guard AccountName.isValid(name) else { throw UsersCommandError.invalidName(name) }
        try await database.withDatabase { store in
            guard try await store.user(name: name) != nil else { throw UsersCommandError.noSuchUser(name) }
            let user = try await store.setUserDisabled(name: name, disabled: disabled, actor: actor, now: nil)
            try Console.out("\(user.disabled ? "disabled" : "enabled") \(user.name)\n")
        }
    }

    /// The password in a file that only its owner may read (like the bearer-token file): one trailing
    /// newline (LF or CRLF) is dropped, nothing else is trimmed.
    static func readPassword(_ path: String) throws -> String {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw UsersCommandError.passwordFileUnreadable(path: path, reason: CommandErrors.message(for: error))
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw UsersCommandError.passwordFilePermissions(path: path, mode: mode)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsersCommandError.passwordFileUnreadable(path: path, reason: "permission denied or not a file")
        }
        guard var text = String(data: data, encoding: .utf8) else { throw UsersCommandError.passwordFileNotText(path: path) }
        // "\r\n" is one Character in Swift, so one removeLast drops either ending.
        if text.hasSuffix("\r\n") || text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
