import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster for a test class: Debian's server binaries, a temporary data folder, trust
/// authentication on 127.0.0.1 at a free port, its socket inside the folder. Running as root (CI, this
/// container) the server runs as the `postgres` OS user, since initdb refuses root. `stop()` shuts it
/// down and deletes the folder.
public final class PostgresServer: @unchecked Sendable {
    /// Why a server could not be started or used; names the command and what it printed.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public let host = "127.0.0.1"
    public let port: Int
    /// The superuser, trusted without a password.
    public let superuser = "postgres"
    public let folder: URL
    private let binaries: URL
    private let asRoot: Bool
    /// The postmaster (under runuser when root), run in the foreground as our child. Not `pg_ctl start`:
    /// Foundation's `Process` watches a descriptor the daemonised postmaster would inherit, so waiting for
    /// pg_ctl would never end.
    private var server: Process?

    /// The newest installed `/usr/lib/postgresql/N/bin` (15 on Debian bookworm), or a failure naming the
    /// Debian package.
    public static func locateBinaries() throws -> URL {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let bin = root.appendingPathComponent("\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path),
               FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path) {
                return bin
            }
        }
        throw Failure(description: "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin: "
                      + "install the Debian package `postgresql` (scripts/bootstrap installs it)")
    }

    /// Creates and starts the cluster; `extraHBA` lines go before the trust rules (e.g. a password rule
    /// for one role).
    public init(extraHBA: [String] = []) throws {
        binaries = try Self.locateBinaries()
        asRoot = getuid() == 0
        // /tmp, not $TMPDIR: the postgres user must reach it, and the socket path must stay short.
        folder = URL(fileURLWithPath: "/tmp/pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        port = try Self.freePort()
        do {
            if asRoot { try run("/bin/chown", ["-R", "postgres:postgres", folder.path], asServerUser: false) }
            try run(binaries.appendingPathComponent("initdb").path,
                    ["-D", dataPath, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                    asServerUser: true)
            let hba = extraHBA + [
                "local all all trust",
                "host all all 127.0.0.1/32 trust",
            ]
            let hbaPath = "\(dataPath)/pg_hba.conf"
            try (hba.joined(separator: "\n") + "\n").write(toFile: hbaPath, atomically: false, encoding: .utf8)
            if asRoot { try run("/bin/chown", ["postgres:postgres", hbaPath], asServerUser: false) }
            try startServer()
        } catch {
            let log = (try? String(contentsOfFile: "\(folder.path)/server.log", encoding: .utf8)) ?? ""
            stop()
            throw Failure(description: "\(error)\(log.isEmpty ? "" : "\nserver log:\n\(log)")")
        }
    }

    deinit { stop() }

    private var dataPath: String { "\(folder.path)/data" }

    /// Stops the server (fast shutdown) and deletes its folder; safe to call twice.
    public func stop() {
        if let server {
            if (try? run(binaries.appendingPathComponent("pg_ctl").path, ["-D", dataPath, "-m", "fast", "-w", "stop"], asServerUser: true)) == nil {
                server.terminate()
            }
            server.waitUntilExit()
            self.server = nil
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// Starts the postmaster and waits (up to 60 s) until it accepts connections.
    private func startServer() throws {
        let logPath = "\(folder.path)/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        // Durability is not what these tests check: fsync off keeps them fast.
        let arguments = ["-D", dataPath, "-c", "listen_addresses=\(host)", "-p", "\(port)", "-k", folder.path,
                         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"]
        let process = Process()
        let postgres = binaries.appendingPathComponent("postgres").path
        if asRoot {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--", postgres] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: postgres)
            process.arguments = arguments
        }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        try process.run()
        server = process
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            guard process.isRunning else { throw Failure(description: "postgres exited with \(process.terminationStatus)") }
            if (try? run(binaries.appendingPathComponent("pg_isready").path, ["-q", "-h", host, "-p", "\(port)"], asServerUser: false)) != nil {
                return
            }
            usleep(100_000)
        }
        throw Failure(description: "postgres did not accept connections within 60 s")
    }

    /// Runs SQL as the superuser in `database` through psql (stops at the first error).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try run(binaries.appendingPathComponent("psql").path,
                ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", "\(port)", "-U", superuser, "-d", database, "-At", "-c", sql],
                asServerUser: false)
    }

    /// Starts psql on `sql` without waiting (a session holding locks while a test acts); wait on the process.
    public func psqlInBackground(_ sql: String, database: String) throws -> Process {
        let process = Process()
        process.executableURL = binaries.appendingPathComponent("psql")
        process.arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", "\(port)", "-U", superuser, "-d", database, "-At", "-c", sql]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Creates an empty database with a fresh name and returns the name.
    public func createDatabase(prefix: String = "queue") throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        try psql("CREATE DATABASE \(name)")
        return name
    }

    /// `postgres://USER@127.0.0.1:PORT/DB` for the store under test.
    public func url(database: String, user: String? = nil) -> String {
        "postgres://\(user ?? superuser)@\(host):\(port)/\(database)?sslmode=disable"
    }

    @discardableResult
    private func run(_ executable: String, _ arguments: [String], asServerUser: Bool) throws -> String {
        let process = Process()
        if asServerUser && asRoot {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        // The server's own children must not inherit a pipe we wait on: everything goes to a file.
        let outputPath = folder.appendingPathComponent("command-\(UUID().uuidString.prefix(8)).out")
        _ = FileManager.default.createFile(atPath: outputPath.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputPath) }
        let output = try FileHandle(forWritingTo: outputPath)
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        environment["PGPASSWORD"] = nil
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        do { try process.run() } catch {
            try? output.close()
            throw Failure(description: "cannot run \(executable): \(error)")
        }
        process.waitUntilExit()
        try? output.close()
        let text = (try? String(contentsOf: outputPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\((process.arguments ?? []).prefix(6).joined(separator: " ")) … exited with \(process.terminationStatus): \(text)")
        }
        return text
    }

    /// A TCP port nothing listens on now (bound to port 0, read back, closed).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(description: "bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
