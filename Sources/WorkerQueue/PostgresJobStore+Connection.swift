import Foundation
import PostgresNIO

/// How the store talks to the server: PostgreSQL's errors as `JobStoreError`s, and the TLS settings of
/// the probe connection and the pool.
extension PostgresJobStore {
    /// A `JobStoreError` naming the database, with the server's own message when there is one. PostgreSQL's
    /// messages never contain the password, and `location` is the URL without it.
    static func map(_ error: any Error, location: String) -> JobStoreError {
        switch error {
        case let error as JobStoreError:
            return error
        case let error as PSQLError:
            return .database(location: location, message: describe(error))
        case let error as PostgresDecodingError:
            return .corrupt(location: location, message: "column \(error.columnName) (\(error.postgresType)) is not a \(error.targetType)")
        case let error as PostgresTransactionError:
            if let inner = error.closureError ?? error.beginError ?? error.commitError { return map(inner, location: location) }
            return .database(location: location, message: "transaction failed")
        default:
            return .database(location: location, message: "\(error)")
        }
    }

    static func describe(_ error: PSQLError) -> String {
        if let info = error.serverInfo, let message = info[.message] {
            let detail = info[.detail].map { " (\($0))" } ?? ""
            let code = info[.sqlState].map { " [SQLSTATE \($0)]" } ?? ""
            return message + detail + code
        }
        let what: String
        switch error.code {
        case .connectionError: what = "cannot connect"
        case .poolClosed: what = "the store is closed"
        case .serverClosedConnection: what = "the server closed the connection"
        case .authMechanismRequiresPassword: what = "the server asks for a password and none was given (URL, password file or PGPASSWORD)"
        case .queryCancelled: what = "the operation was cancelled"
        default: what = "\(error.code)"
        }
        return error.underlying.map { "\(what): \($0)" } ?? what
    }

    static func connectionTLS(_ mode: PostgresTLSMode) throws -> PostgresConnection.Configuration.TLS {
        switch mode {
        case .disable: return .disable
        case .prefer: return .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: return .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }

    static func clientTLS(_ mode: PostgresTLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: return .disable
        case .prefer: return .prefer(.makeClientConfiguration())
        case .require: return .require(.makeClientConfiguration())
        }
    }
}
