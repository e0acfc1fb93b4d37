import Foundation

/// A STOW-RS part being written to the sink's staging folder: created exclusively (mode 0600, a fresh
/// random name, so a request can never overwrite or name a file), written as bytes arrive, closed before
/// the sink sees it. Not synchronised: one request's receiver owns it.
final class StagedPartFile {
    let url: URL
    private(set) var bytesWritten = 0
    private var descriptor: Int32

    /// Why staging failed, in words (the sink's folder and the system's reason).
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(in folder: URL) throws(Failure) {
        url = folder.appendingPathComponent("stow-\(UUID().uuidString).part")
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw Failure(description: "cannot create a file in the staging folder \(folder.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Appends `bytes`, retrying short writes and interrupted calls.
    func write(_ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return posixWrite(descriptor, base + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "cannot write a staged part: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        bytesWritten += bytes.count
    }

    /// Closes the file; an error on close (delayed write failure) fails the part.
    func close() throws(Failure) {
        guard descriptor >= 0 else { return }
        let result = posixClose(descriptor)
        descriptor = -1
        if result != 0 {
            throw Failure(description: "cannot close a staged part: \(String(cString: strerror(errno)))")
        }
    }

    /// Closes (ignoring errors) and deletes the file: the part will not reach the sink.
    func discard() {
        if descriptor >= 0 { _ = posixClose(descriptor); descriptor = -1 }
        _ = unlink(url.path)
    }

    deinit {
        if descriptor >= 0 { _ = posixClose(descriptor) }
    }
}

// File-scope wrappers: inside the class, `write` and `close` would name its own methods.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

private func posixClose(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}
