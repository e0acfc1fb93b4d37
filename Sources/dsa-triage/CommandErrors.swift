import ArgumentParser
import Foundation
import FileAccess
#if canImport(Glibc)
import Glibc
#endif

/// Turns any thrown error into one clear line on stderr and a non-zero exit, never a trap: 74 (EX_IOERR)
/// when standard output could not be written, 1 for everything else.
enum CommandErrors {
    static func reporting(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as ExitCode {
            throw e
        } catch let e as ConsoleError {
            Console.err("error: \(e)\n")
            throw ExitCode(Console.ioErrorStatus)
        } catch {
            Console.err("error: \(message(for: error))\n")
            throw ExitCode(1)
        }
    }

    /// The text of an error for people: our typed errors describe themselves; Foundation's file errors
    /// (`NSCocoaErrorDomain Code=512 "(null)"`) become the path and the system's reason.
    static func message(for error: Error) -> String {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
        let reason = SystemErrorText.reason(for: error)
        return SystemErrorText.path(of: error).map { "\($0): \(reason)" } ?? reason
    }
}
