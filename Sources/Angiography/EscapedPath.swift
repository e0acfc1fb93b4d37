import DICOM
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File paths as text without losing bytes. A Linux path is a byte string; a name from an old hospital
/// share may not be UTF-8 (`caf\xe9.dcm` in Latin-1). Inputs, records and messages carry the *escaped
/// form*: valid UTF-8 as it is, every byte that is not part of valid UTF-8 as `\xNN`, and a literal
/// backslash as `\\`, so the form names exactly one byte string and reads back to it.
public enum EscapedPath {
    /// The escaped form of a path's bytes.
    public static func escape<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let bytes = Array(bytes)
        var out = ""
        out.reserveCapacity(bytes.count)
        var parser = Unicode.UTF8.ForwardParser()
        var it = bytes.makeIterator()
        var position = 0
        loop: while true {
            switch parser.parseScalar(from: &it) {
            case .valid(let encoded):
                position += encoded.count
                let scalar = Unicode.UTF8.decode(encoded)
                if scalar == "\\" { out += "\\\\" } else { out.unicodeScalars.append(scalar) }
            case .error(let length):
                for b in bytes[position..<position + length] { out += "\\x" + hex(b) }
                position += length
            case .emptyInput:
                break loop
            }
        }
        return out
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }

    /// The bytes an escaped form names. A backslash not followed by `\` or `xNN` stands for itself, so a
    /// path typed with a stray backslash still reads.
    public static func bytes(_ escaped: String) -> [UInt8] {
        let u = Array(escaped.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        var i = 0
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        while i < u.count {
            if u[i] == 92, i + 1 < u.count {
                if u[i + 1] == 92 { out.append(92); i += 2; continue }
                if u[i + 1] == 120, i + 3 < u.count, let h = hexValue(u[i + 2]), let l = hexValue(u[i + 3]) {
                    out.append(h << 4 | l); i += 4; continue
                }
            }
            out.append(u[i])
            i += 1
        }
        return out
    }

    /// The path as an ordinary `String` when its escaped form is the plain text (valid UTF-8, no
    /// backslash), nil when only the bytes name it.
    public static func plain(_ escaped: String) -> String? {
        escaped.utf8.contains(92) ? nil : escaped
    }

    /// The escaped form of a command-line argument. Swift decodes arguments as UTF-8 and puts U+FFFD in
    /// place of bytes that are not; such an argument is matched to its raw bytes in `CommandLine.unsafeArgv`.
    public static func argument(_ decoded: String) -> String {
        guard decoded.unicodeScalars.contains("\u{FFFD}") else { return escape(decoded.utf8) }
        let argv = CommandLine.unsafeArgv
        for i in 1..<Int(CommandLine.argc) {
            guard let p = argv[i] else { continue }
            let raw = Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)))
            if String(decoding: raw, as: UTF8.self) == decoded { return escape(raw) }
        }
        return escape(decoded.utf8)
    }

    /// Orders escaped forms by their bytes (the order `ls` shows in the C locale).
    public static func precedes(_ a: String, _ b: String) -> Bool {
        bytes(a).lexicographicallyPrecedes(bytes(b))
    }

    /// Calls `body` with the path as a NUL-terminated C string of its bytes.
    static func withCPath<T>(_ escaped: String, _ body: (UnsafePointer<CChar>) -> T) -> T {
        var b = bytes(escaped).map { CChar(bitPattern: $0) }
        b.append(0)
        return b.withUnsafeBufferPointer { body($0.baseAddress!) }  // a non-empty array always has a base address
    }

    /// What a path is, following symbolic links.
    public enum Kind: Sendable, Equatable {
        case missing, file, folder, other
        /// A symbolic link whose target does not exist.
        case brokenLink
        /// A chain of symbolic links that never ends (ELOOP).
        case linkLoop
    }

    /// Identity of a file-system object (device, inode), for loop detection.
    public struct FileID: Hashable, Sendable {
        public var device: UInt64
        public var inode: UInt64
    }

    /// The kind of `escaped` and, when it exists, its identity (symbolic links followed).
    public static func status(_ escaped: String) -> (kind: Kind, id: FileID?) {
        var st = stat()
        let found = withCPath(escaped) { stat($0, &st) } == 0
        guard found else {
            if errno == ELOOP { return (.linkLoop, nil) }
            var lst = stat()
            let isLink = withCPath(escaped) { lstat($0, &lst) } == 0 && (lst.st_mode & S_IFMT) == S_IFLNK
            return (isLink ? .brokenLink : .missing, nil)
        }
        let id = FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        switch st.st_mode & S_IFMT {
        case S_IFREG: return (.file, id)
        case S_IFDIR: return (.folder, id)
        default: return (.other, id)
        }
    }

    /// Whether `escaped` is itself a symbolic link.
    public static func isSymbolicLink(_ escaped: String) -> Bool {
        var lst = stat()
        return withCPath(escaped) { lstat($0, &lst) } == 0 && (lst.st_mode & S_IFMT) == S_IFLNK
    }

    /// The first `count` bytes of a file (fewer when it is shorter; empty when it cannot be read).
    public static func head(_ escaped: String, _ count: Int) -> [UInt8] {
        let fd = withCPath(escaped) { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, count - filled) }
            if n > 0 { filled += n } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return Array(buffer[0..<filled])
    }

    /// The whole contents of a file named by its escaped form (read through its bytes, whatever they are).
    public static func contents(_ escaped: String) throws -> Data {
        let fd = withCPath(escaped) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            throw AngiographyError.unreadable(file: escaped, reason: String(cString: strerror(errno)))
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do { return try handle.readToEnd() ?? Data() } catch {
            throw AngiographyError.unreadable(file: escaped, reason: error.localizedDescription)
        }
    }

    /// Reads a DICOM file named by its escaped form; errors name it by that form, as the user gave it (a
    /// relative path stays relative).
    public static func dicomFile(_ escaped: String) throws -> DICOMFile {
        // A plain name is read by DICOMFile itself (mapped; a large file's pixel data stays on disk and is read a
        // frame at a time); other names through their raw bytes.
        if let path = plain(escaped) {
            return try DICOMFile(url: URL(fileURLWithPath: path), source: escaped)
        }
        return try DICOMFile(data: try contents(escaped), source: escaped)
    }
}
