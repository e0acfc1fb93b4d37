import Foundation
import NIOSSL

/// Reads the PEM certificate chain and private key before the listener starts, so that a missing,
/// unreadable or malformed file is a startup error naming the file rather than a failure on the first
/// connection.
enum TLSFiles {
    /// A server TLS configuration (TLS 1.2 or later) from the two PEM files.
    static func serverConfiguration(certificatePath: String, privateKeyPath: String) throws(ServerConfigurationError) -> TLSConfiguration {
        try checkReadable(certificatePath, what: "certificate")
        try checkReadable(privateKeyPath, what: "private key")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw .tlsFile(path: certificatePath, what: "certificate", reason: "not a PEM certificate (\(error))")
        }
        guard !chain.isEmpty else {
            throw .tlsFile(path: certificatePath, what: "certificate", reason: "holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw .tlsFile(path: privateKeyPath, what: "private key", reason: "not a PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            // Builds the context once here: a key that does not match the certificate fails now.
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw .tlsFile(path: privateKeyPath, what: "private key", reason: "does not fit the certificate \(certificatePath) (\(error))")
        }
        return configuration
    }

    private static func checkReadable(_ path: String, what: String) throws(ServerConfigurationError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .tlsFile(path: path, what: what, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw .tlsFile(path: path, what: what, reason: "is a folder") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .tlsFile(path: path, what: what, reason: "permission denied")
        }
    }
}
