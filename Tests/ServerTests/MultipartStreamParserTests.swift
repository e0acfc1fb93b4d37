import Foundation
import Server
import XCTest

/// The incremental multipart parser against bodies assembled by hand, fed whole, in odd chunks and one
/// byte at a time.
final class MultipartStreamParserTests: XCTestCase {
    /// Parts as (headers, bytes) after feeding `body` in chunks of `chunk` bytes.
    private func parse(_ body: [UInt8], boundary: String = Fixture.boundary, chunk: Int) throws -> (parts: [(MultipartPartHeaders, [UInt8])], parser: MultipartStreamParser) {
        var parser = MultipartStreamParser(boundary: boundary)
        var parts: [(MultipartPartHeaders, [UInt8])] = []
        var open = false
        var index = 0
        while index < body.count {
            let end = min(body.count, index + chunk)
            for event in try parser.feed(Array(body[index..<end])) {
                switch event {
                case .partBegin(let headers):
                    XCTAssertFalse(open, "a part began inside another")
                    parts.append((headers, []))
                    open = true
                case .partData(let bytes):
                    XCTAssertTrue(open, "data outside a part")
                    XCTAssertFalse(bytes.isEmpty, "empty data event")
                    parts[parts.count - 1].1 += bytes
                case .partEnd:
                    XCTAssertTrue(open, "a part ended without beginning")
                    open = false
                }
            }
            index = end
        }
        try parser.finish()
        return (parts, parser)
    }

    func testOneByteAtATimeGivesTheSameParts() throws {
        let a = Fixture.part10(sopInstance: "1.2.3.4.1", payload: 3000, seed: 1)
        let b = Fixture.part10(sopInstance: "1.2.3.4.2", payload: 5, seed: 2)
        let body = Fixture.multipart([Fixture.dicomPart(a), (["content-type:application/dicom", "X-Extra: 1"], b)],
                                     preamble: "ignored preamble\r\n")
        let whole = try parse(body, chunk: body.count)
        XCTAssertEqual(whole.parts.count, 2)
        XCTAssertEqual(whole.parts[0].1, a)
        XCTAssertEqual(whole.parts[1].1, b)
        XCTAssertEqual(whole.parts[0].0["Content-Type"], "application/dicom")
        XCTAssertEqual(whole.parts[1].0["CONTENT-TYPE"], "application/dicom")
        XCTAssertEqual(whole.parts[1].0["x-extra"], "1")
        for chunk in [1, 2, 3, 7, 64, 1000] {
            let pieces = try parse(body, chunk: chunk)
            XCTAssertEqual(pieces.parts.count, 2, "chunk \(chunk)")
            XCTAssertEqual(pieces.parts.map(\.1), [a, b], "chunk \(chunk)")
            XCTAssertEqual(pieces.parts.map(\.0), whole.parts.map(\.0), "chunk \(chunk)")
        }
    }

    func testDelimiterStraddlingEveryChunkEdge() throws {
        // A part whose body ends with CR LF dash dash and a boundary prefix, split at every offset.
        let tricky = Array("abc\r\n--dsa-boundary-7f3\r\n--\r\n".utf8)
        let body = Fixture.multipart([([], tricky), Fixture.dicomPart([1, 2, 3])])
        for split in 1..<body.count {
            var parser = MultipartStreamParser(boundary: Fixture.boundary)
            var events = try parser.feed(Array(body[..<split]))
            events += try parser.feed(Array(body[split...]))
            try parser.finish()
            var data: [[UInt8]] = []
            for event in events {
                switch event {
                case .partBegin: data.append([])
                case .partData(let bytes): data[data.count - 1] += bytes
                case .partEnd: break
                }
            }
            XCTAssertEqual(data, [tricky, [1, 2, 3]], "split at \(split)")
        }
    }

    func testTransportPaddingEpilogueAndNoHeaders() throws {
        let body = Array("--b  \t\r\n\r\nfirst\r\n--b\r\nContent-Type: application/dicom\r\n\r\nsecond\r\n--b-- \r\nepilogue --b\r\n".utf8)
        let result = try parse(body, boundary: "b", chunk: 3)
        XCTAssertEqual(result.parts.map { String(decoding: $0.1, as: UTF8.self) }, ["first", "second"])
        XCTAssertEqual(result.parts[0].0.fields, [])
    }

    func testMalformedHeaderLineIsFlaggedNotFatal() throws {
        let body = Fixture.multipart([(["this line has no colon"], [9, 9])])
        let result = try parse(body, chunk: 5)
        XCTAssertTrue(result.parts[0].0.hasMalformedLine)
        XCTAssertEqual(result.parts[0].1, [9, 9])
    }

    func testFramingErrors() {
        let unterminated = Fixture.multipart([Fixture.dicomPart([1, 2, 3])], close: false)
        XCTAssertThrowsError(try parse(unterminated, chunk: 4)) { error in
            XCTAssertEqual(error as? MultipartFramingError, .unterminated)
        }
        XCTAssertThrowsError(try parse(Array("no delimiter here at all".utf8), chunk: 4)) { error in
            XCTAssertEqual(error as? MultipartFramingError, .noDelimiter)
        }
        XCTAssertThrowsError(try parse(Array("--\(Fixture.boundary)X\r\n\r\nx\r\n--\(Fixture.boundary)--".utf8), chunk: 4)) { error in
            XCTAssertEqual(error as? MultipartFramingError, .badDelimiterLine)
        }
        var parser = MultipartStreamParser(boundary: "b", maxHeaderBytes: 100)
        XCTAssertThrowsError(try parser.feed(Array(("--b\r\nX-Long: " + String(repeating: "y", count: 200)).utf8))) { error in
            XCTAssertEqual(error as? MultipartFramingError, .headersTooLarge(limit: 100))
        }
    }

    /// 64 MB through the parser in 8 KB chunks: the data comes out whole and the parser never holds more
    /// than a header block or a delimiter's length between chunks.
    func testLargePartStreamsWithBoundedRetention() throws {
        let size = 64 << 20
        let chunk = 8192
        let head = Array("--\(Fixture.boundary)\r\nContent-Type: application/dicom\r\n\r\n".utf8)
        let tail = Array("\r\n--\(Fixture.boundary)--\r\n".utf8)
        let pattern = Fixture.noise(count: 1 << 20, seed: 9)
        var parser = MultipartStreamParser(boundary: Fixture.boundary)
        var received = 0
        var mismatch = false
        var ends = 0
        func consume(_ events: [MultipartEvent]) {
            for event in events {
                switch event {
                case .partData(let bytes):
                    if !Self.matches(bytes, pattern: pattern, at: received) { mismatch = true }
                    received += bytes.count
                case .partEnd: ends += 1
                case .partBegin: break
                }
            }
        }
        consume(try parser.feed(head))
        var sent = 0
        while sent < size {
            let offset = sent % pattern.count
            consume(try parser.feed(Array(pattern[offset..<(offset + chunk)])))
            sent += chunk
        }
        consume(try parser.feed(tail))
        try parser.finish()
        XCTAssertEqual(received, size)
        XCTAssertFalse(mismatch)
        XCTAssertEqual(ends, 1)
        XCTAssertLessThan(parser.peakRetainedBytes, "\r\n--\(Fixture.boundary)".utf8.count)
    }

    /// Whether `bytes` equal the repeating `pattern` from stream offset `start` (memcmp, pattern wraps).
    private static func matches(_ bytes: [UInt8], pattern: [UInt8], at start: Int) -> Bool {
        var done = 0
        while done < bytes.count {
            let offset = (start + done) % pattern.count
            let length = min(bytes.count - done, pattern.count - offset)
            let equal = bytes.withUnsafeBytes { b in
                pattern.withUnsafeBytes { p in memcmp(b.baseAddress! + done, p.baseAddress! + offset, length) == 0 }
            }
            if !equal { return false }
            done += length
        }
        return true
    }
}
