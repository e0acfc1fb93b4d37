import Foundation

/// One header line of a multipart part (`Name: value`), name as sent.
public struct MultipartHeaderField: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A part's header block: its fields, and whether some line was not `Name: value`.
public struct MultipartPartHeaders: Sendable, Equatable {
    public var fields: [MultipartHeaderField]
    /// A line without a colon (the part is then refused alone; the framing is still sound).
    public var hasMalformedLine: Bool

    public init(fields: [MultipartHeaderField], hasMalformedLine: Bool = false) {
        self.fields = fields
        self.hasMalformedLine = hasMalformedLine
    }

    /// The first field of that name (case-insensitive), trimmed.
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return fields.first { $0.name.lowercased() == lowered }?.value
    }
}

/// What the parser found in the bytes fed so far, in order.
public enum MultipartEvent: Sendable, Equatable {
    case partBegin(MultipartPartHeaders)
    /// Body bytes of the current part (any number of these per part, never empty).
    case partData([UInt8])
    case partEnd
}

/// Why a multipart body cannot be read; the whole request is then bad syntax (400).
public enum MultipartFramingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The body ended before the closing delimiter (`--boundary--`).
    case unterminated
    /// No delimiter line was found at all.
    case noDelimiter
    /// A delimiter line followed by something other than `--`, padding and CRLF.
    case badDelimiterLine
    /// A part's header block is longer than the limit (the parser must not buffer without bound).
    case headersTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .unterminated: return "the multipart body ended before its closing boundary"
        case .noDelimiter: return "the body holds no multipart part delimited by the Content-Type's boundary"
        case .badDelimiterLine: return "a multipart boundary line is not followed by a line end or '--'"
        case .headersTooLarge(let limit): return "a multipart part's headers exceed \(limit) bytes"
        }
    }
}

/// An incremental RFC 2046 multipart parser: bytes go in as they arrive (any chunking, a delimiter may
/// straddle chunks), events come out. Part bodies are passed through, never accumulated: between calls it
/// keeps at most one delimiter's length of body bytes (a possible delimiter prefix) or one header block
/// (up to `maxHeaderBytes`), whatever the size of the parts. `peakRetainedBytes` records that bound.
public struct MultipartStreamParser: Sendable {
    private enum State: Sendable { case preamble, afterDelimiter, headers, body, epilogue }

    /// `CRLF--boundary`: every delimiter, the first one included (the parser starts with a virtual CRLF).
    private let delimiter: [UInt8]
    private let maxHeaderBytes: Int
    private var state: State = .preamble
    private var buffer: [UInt8] = [13, 10]
    private var sawDelimiter = false
    /// Parts begun so far.
    public private(set) var partCount = 0
    /// The most bytes held between two `feed` calls (the memory bound of a stream, apart from one chunk).
    public private(set) var peakRetainedBytes = 0

    /// - Parameters:
    ///   - boundary: the Content-Type's boundary parameter.
    ///   - maxHeaderBytes: the largest header block of one part.
    public init(boundary: String, maxHeaderBytes: Int = 16 * 1024) {
        delimiter = Array("\r\n--\(boundary)".utf8)
        self.maxHeaderBytes = maxHeaderBytes
    }

    /// Consumes `bytes` and returns the events they complete.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(MultipartFramingError) -> [MultipartEvent] {
        if state == .epilogue { return [] }
        // Taken out of `self` so that the scan below can update the state while it reads the bytes.
        var work = buffer
        buffer = []
        work.append(contentsOf: bytes)
        var events: [MultipartEvent] = []
        var start = 0
        let failure: MultipartFramingError? = work.withUnsafeBufferPointer { buf in
            scan(buf, start: &start, events: &events)
        }
        work.removeSubrange(0..<min(start, work.count))
        buffer = work
        peakRetainedBytes = max(peakRetainedBytes, buffer.count)
        if let failure { throw failure }
        return events
    }

    /// Advances the state machine over `buf` from `start` until it needs more bytes.
    private mutating func scan(_ buf: UnsafeBufferPointer<UInt8>, start: inout Int,
                               events: inout [MultipartEvent]) -> MultipartFramingError? {
        while true {
            switch state {
            case .preamble:
                let (found, safeEnd) = Self.search(delimiter, in: buf, from: start)
                guard let found else { start = safeEnd; return nil }
                start = found + delimiter.count
                sawDelimiter = true
                state = .afterDelimiter
            case .afterDelimiter:
                guard buf.count - start >= 2 else { return nil }
                if buf[start] == UInt8(ascii: "-") && buf[start + 1] == UInt8(ascii: "-") {
                    start = buf.count
                    state = .epilogue
                    return nil
                }
                var i = start
                while i < buf.count, buf[i] == 0x20 || buf[i] == 0x09 { i += 1 }
                guard i - start <= 256 else { return .badDelimiterLine }
                guard buf.count - i >= 2 else { return nil }
                guard buf[i] == 13, buf[i + 1] == 10 else { return .badDelimiterLine }
                start = i + 2
                state = .headers
            case .headers:
                guard buf.count - start >= 2 else { return nil }
                if buf[start] == 13 && buf[start + 1] == 10 {
                    start += 2
                    partCount += 1
                    events.append(.partBegin(MultipartPartHeaders(fields: [])))
                    state = .body
                    continue
                }
                let (found, _) = Self.search([13, 10, 13, 10], in: buf, from: start)
                guard let end = found else {
                    return buf.count - start > maxHeaderBytes ? .headersTooLarge(limit: maxHeaderBytes) : nil
                }
                guard end - start <= maxHeaderBytes else { return .headersTooLarge(limit: maxHeaderBytes) }
                let headers = Self.parseHeaders(UnsafeBufferPointer(rebasing: buf[start..<end]))
                start = end + 4
                partCount += 1
                events.append(.partBegin(headers))
                state = .body
            case .body:
                let (found, safeEnd) = Self.search(delimiter, in: buf, from: start)
                let dataEnd = found ?? safeEnd
                if dataEnd > start {
                    events.append(.partData(Array(UnsafeBufferPointer(rebasing: buf[start..<dataEnd]))))
                }
                guard let found else { start = dataEnd; return nil }
                events.append(.partEnd)
                start = found + delimiter.count
                state = .afterDelimiter
            case .epilogue:
                start = buf.count
                return nil
            }
        }
    }

    /// Convenience for byte arrays (tests, small bodies).
    public mutating func feed(_ bytes: [UInt8]) throws(MultipartFramingError) -> [MultipartEvent] {
        return try bytes.withUnsafeBytes { raw -> Result<[MultipartEvent], MultipartFramingError> in
            do throws(MultipartFramingError) { return .success(try feed(raw)) } catch { return .failure(error) }
        }.get()
    }

    /// Declares the end of the body: an error unless the closing delimiter was seen.
    public func finish() throws(MultipartFramingError) {
        switch state {
        case .epilogue: return
        case .preamble: throw sawDelimiter ? .unterminated : .noDelimiter
        case .afterDelimiter, .headers, .body: throw .unterminated
        }
    }

    /// The first complete match of `needle` at or after `from`; when there is none, `safeEnd` is where a
    /// partial match at the end of `buf` begins (bytes before it can never be part of a match).
    private static func search(_ needle: [UInt8], in buf: UnsafeBufferPointer<UInt8>, from: Int) -> (found: Int?, safeEnd: Int) {
        guard let base = buf.baseAddress, from < buf.count else { return (nil, max(from, buf.count)) }
        let first = needle[0]
        var position = from
        while position < buf.count {
            guard let hit = memchr(base + position, Int32(first), buf.count - position) else { return (nil, buf.count) }
            let p = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
            let available = min(needle.count, buf.count - p)
            var matched = true
            for k in 1..<available where buf[p + k] != needle[k] {
                matched = false
                break
            }
            if matched {
                return available == needle.count ? (p, p) : (nil, p)
            }
            position = p + 1
        }
        return (nil, buf.count)
    }

    /// `Name: value` lines separated by CRLF; a line without a colon marks the block malformed.
    private static func parseHeaders(_ block: UnsafeBufferPointer<UInt8>) -> MultipartPartHeaders {
        let text = String(decoding: block, as: UTF8.self)
        var fields: [MultipartHeaderField] = []
        var malformed = false
        for line in text.components(separatedBy: "\r\n") where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { malformed = true; continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name.isEmpty { malformed = true; continue }
            fields.append(MultipartHeaderField(name: name, value: value))
        }
        return MultipartPartHeaders(fields: fields, hasMalformedLine: malformed)
    }
}
