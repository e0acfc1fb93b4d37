import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// System errors in words: Foundation's file errors describe themselves as
/// `NSCocoaErrorDomain Code=512 "(null)"`; people need the path and errno's text.
public enum SystemErrorText {
    /// The reason of an error in words: errno's text for Foundation's file errors (which describe
    /// themselves as `NSCocoaErrorDomain Code=512 "(null)"`), the error's own description otherwise.
    public static func reason(for error: Error) -> String {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        switch ns.code {
        case CocoaError.fileNoSuchFile.rawValue, CocoaError.fileReadNoSuchFile.rawValue: return "no such file or folder"
        case CocoaError.fileReadNoPermission.rawValue, CocoaError.fileWriteNoPermission.rawValue: return "permission denied"
        case CocoaError.fileWriteOutOfSpace.rawValue: return "no space left on device"
        case CocoaError.fileWriteVolumeReadOnly.rawValue: return "read-only file system"
        case CocoaError.fileWriteFileExists.rawValue: return "a file of that name exists"
        case CocoaError.fileReadCorruptFile.rawValue: return "the file is corrupt"
        case CocoaError.fileReadTooLarge.rawValue: return "the file is too large"
        case CocoaError.fileReadUnknown.rawValue: return "the file could not be read"
        case CocoaError.fileWriteUnknown.rawValue: return "the file could not be written"
        default: return "file operation failed (Foundation error \(ns.code))"
        }
    }

    /// The path a Foundation file error names, if any.
    public static func path(of error: Error) -> String? {
        let ns = error as NSError
        return (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
    }
}
