import Foundation
import XCTest
import WorkerQueue

/// `--db` values: what parses to which store, the errors for what does not, and the password kept out of
/// every text form and taken from the URL, a file or `PGPASSWORD` in that order.
final class JobStoreLocationTests: XCTestCase {
    func testSQLiteAndPostgresURLsParse() throws {
        XCTAssertEqual(try JobStoreLocation(parsing: "sqlite:/var/lib/dsa/queue.sqlite"), .sqlite(path: "/var/lib/dsa/queue.sqlite"))
        XCTAssertEqual(try JobStoreLocation(parsing: "sqlite:queue.sqlite"), .sqlite(path: "queue.sqlite"))
        XCTAssertEqual(try JobStoreLocation(parsing: "postgres://worker@db.example:6543/triage"),
                       .postgres(PostgresLocation(user: "worker", host: "db.example", port: 6543, database: "triage")))
        XCTAssertEqual(try JobStoreLocation(parsing: "postgresql://worker@db.example/triage?sslmode=require"),
                       .postgres(PostgresLocation(user: "worker", host: "db.example", port: 5432, database: "triage", tls: .require)))
        XCTAssertEqual(try JobStoreLocation(parsing: "postgres://w%40rker:p%2Fss@[::1]:5433/tri%20age"),
                       .postgres(PostgresLocation(user: "w@rker", host: "::1", port: 5433, database: "tri age", password: "p/ss")))
        XCTAssertEqual("\(try JobStoreLocation(parsing: "postgres://worker:secret@h:1/db?sslmode=disable"))",
                       "postgres://worker@h:1/db?sslmode=disable")
    }

    func testParseErrorsSayWhatIsWrongWithoutThePassword() {
        let cases: [(String, String)] = [
            ("mysql://u@h/db", "unknown scheme 'mysql'"),
            ("/var/lib/queue.sqlite", "no scheme"),
            ("sqlite:", "missing path"),
            ("postgres:u@h/db", "expected postgres://"),
            ("postgres://u:topsecret@h:5432", "missing database"),
            ("postgres://u:topsecret@h:5432/", "missing database name"),
            ("postgres://u:topsecret@:5432/db", "missing host"),
            ("postgres://h:5432/db", "missing user"),
            ("postgres://:topsecret@h/db", "missing user"),
            ("postgres://u:topsecret@h:54x2/db", "bad port '54x2'"),
            ("postgres://u:topsecret@h:0/db", "bad port '0'"),
            ("postgres://u:topsecret@h:70000/db", "bad port '70000'"),
            ("postgres://u:topsecret@h:/db", "bad port ''"),
            ("postgres://u:topsecret@[::1/db", "unclosed '['"),
            ("postgres://u:topsecret@h/db?sslmode=verify", "sslmode 'verify'"),
            ("postgres://u:topsecret@h/db?host=/run", "unknown parameter 'host'"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try JobStoreLocation(parsing: text), text) { error in
                guard let error = error as? JobStoreError, case .invalidArgument = error else { return XCTFail("\(text): \(error)") }
                XCTAssertTrue(error.description.contains(expected), "\(text): \(error)")
                XCTAssertFalse(error.description.contains("topsecret"), "\(text): \(error)")
            }
        }
    }

    func testPasswordComesFromTheURLThenTheFileThenPGPASSWORD() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("JobStoreLocationTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("pw").path
        try "from-file\nignored\n".write(toFile: file, atomically: true, encoding: .utf8)
        let environment = ["PGPASSWORD": "from-env"]
        let withPassword = PostgresLocation(user: "u", host: "h", database: "d", password: "from-url")
        let without = PostgresLocation(user: "u", host: "h", database: "d")
        XCTAssertEqual(try withPassword.resolvedPassword(passwordFile: file, environment: environment), "from-url")
        XCTAssertEqual(try without.resolvedPassword(passwordFile: file, environment: environment), "from-file")
        XCTAssertEqual(try without.resolvedPassword(passwordFile: nil, environment: environment), "from-env")
        XCTAssertNil(try without.resolvedPassword(passwordFile: nil, environment: [:]))
        let missing = folder.appendingPathComponent("absent").path
        XCTAssertThrowsError(try without.resolvedPassword(passwordFile: missing, environment: environment)) { error in
            XCTAssertTrue("\(error)".contains(missing), "\(error)")
        }
        // Text forms never carry the password.
        for text in ["\(withPassword)", String(reflecting: withPassword), "\(JobStoreLocation.postgres(withPassword))",
                     String(reflecting: JobStoreLocation.postgres(withPassword)), "\(Mirror(reflecting: withPassword).children.map { $0.value })"] {
            XCTAssertFalse(text.contains("from-url"), text)
        }
    }

    func testSQLiteLocationOpensASQLiteStore() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("JobStoreLocationTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("queue.sqlite").path
        let store = try await JobStoreLocation(parsing: "sqlite:\(path)").open(passwordFile: nil)
        XCTAssertTrue(store is SQLiteJobStore)
        let pendingCount = try await store.counts()[.pending]
        XCTAssertEqual(pendingCount, 0)
        try await store.close()
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
    }
}
