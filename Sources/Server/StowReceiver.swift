import Foundation
import Logging
import NIOCore

/// What one STOW-RS request produced: each part's outcome in the order sent, and the body's size.
public struct StowReceipt: Sendable, Equatable {
    public var outcomes: [StowPartOutcome]
    public var bodyBytes: Int

    public init(outcomes: [StowPartOutcome], bodyBytes: Int) {
        self.outcomes = outcomes
        self.bodyBytes = bodyBytes
    }
}

/// Streams a STOW-RS body into staged files and hands them to the sink.
///
/// Memory stays bounded whatever the part sizes: each chunk is parsed and written to its part's file as
/// it arrives. The parts reach the sink only once the whole body has been read and its closing boundary
/// seen, so a body cut short, malformed or over the size limit stores nothing (its staged files are
/// deleted) and the 400/413 answer acknowledges nothing. A part that is not `application/dicom`, has
/// malformed headers or is empty fails alone with 0xC000 (cannot understand) without reaching the sink;
/// one the worker cannot write fails with 0xA700 (out of resources).
struct StowReceiver: Sendable {
    let sink: any StowInstanceSink
    let maxBodyBytes: Int
    let logger: Logger
    /// Called with the size of each chunk read (the ingest byte counter).
    let countBytes: @Sendable (Int) -> Void
    /// More parts than this in one request are refused: each part is a file, and a body of tiny parts
    /// would otherwise create millions of them.
    static let maxParts = 100_000

    private enum Staged {
        case file(URL)
        case refused(reason: UInt16, message: String)
    }

    private enum Current {
        case file(StagedPartFile)
        case refused(reason: UInt16, message: String)
    }

    /// Reads `body` to its end, then offers each complete part to the sink.
    func receive<Body: AsyncSequence>(body: Body, boundary: String, studyInstanceUID: String?) async throws(StowRequestError) -> StowReceipt
    where Body.Element == ByteBuffer {
        var parser = MultipartStreamParser(boundary: boundary)
        var staged: [Staged] = []
        var current: Current?
        var total = 0

        func discardAll() {
            if case .file(let file) = current { file.discard() }
            for case .file(let url) in staged { _ = unlink(url.path) }
        }

        var iterator = body.makeAsyncIterator()
        while true {
            let next: ByteBuffer?
            do {
                next = try await iterator.next()
            } catch {
                discardAll()
                throw .bodyUnreadable(String(describing: type(of: error)))
            }
            guard let chunk = next else { break }
            total += chunk.readableBytes
            countBytes(chunk.readableBytes)
            guard total <= maxBodyBytes else {
                discardAll()
                throw .tooLarge(limit: maxBodyBytes)
            }
            let parsed = chunk.withUnsafeReadableBytes { raw -> Result<[MultipartEvent], MultipartFramingError> in
                do throws(MultipartFramingError) { return .success(try parser.feed(raw)) } catch { return .failure(error) }
            }
            let events: [MultipartEvent]
            switch parsed {
            case .success(let value): events = value
            case .failure(let error):
                discardAll()
                throw .badRequest(error.description)
            }
            for event in events {
                switch event {
                case .partBegin(let headers):
                    guard parser.partCount <= Self.maxParts else {
                        discardAll()
                        throw .badRequest("the request holds more than \(Self.maxParts) parts")
                    }
                    current = begin(headers)
                case .partData(let bytes):
                    guard case .file(let file) = current else { continue }
                    do {
                        try file.write(bytes)
                    } catch {
                        logger.error("STOW-RS staging failed", metadata: ["error": "\(error)"])
                        file.discard()
                        current = .refused(reason: 0xA700, message: "the worker could not write the part to disk")
                    }
                case .partEnd:
                    staged.append(end(current))
                    current = nil
                }
            }
        }
        do {
            try parser.finish()
        } catch {
            discardAll()
            throw .badRequest(error.description)
        }
        guard !staged.isEmpty else {
            throw .badRequest("the multipart body holds no part")
        }

        var outcomes: [StowPartOutcome] = []
        outcomes.reserveCapacity(staged.count)
        for part in staged {
            switch part {
            case .refused(let reason, let message):
                outcomes.append(.failed(sopClassUID: nil, sopInstanceUID: nil, reason: reason, message: message))
            case .file(let url):
                outcomes.append(await sink.accept(stagedFile: url, studyInstanceUID: studyInstanceUID))
                // The sink consumes the file; a leftover would only fill the staging folder.
                _ = unlink(url.path)
            }
        }
        return StowReceipt(outcomes: outcomes, bodyBytes: total)
    }

    /// Decides, from its headers, whether a part is staged or refused alone.
    private func begin(_ headers: MultipartPartHeaders) -> Current {
        if headers.hasMalformedLine {
            return .refused(reason: 0xC000, message: "the part's headers are malformed")
        }
        if let contentType = headers["Content-Type"] {
            let type = (try? MediaType.parse(contentType))?.type
            guard type == "application/dicom" else {
                return .refused(reason: 0xC000, message: "the part is not application/dicom")
            }
        }
        do {
            return .file(try StagedPartFile(in: sink.stagingDirectory))
        } catch {
            logger.error("STOW-RS staging failed", metadata: ["error": "\(error)"])
            return .refused(reason: 0xA700, message: "the worker could not stage the part")
        }
    }

    /// Closes the current part: a staged file for the sink, or the reason it failed.
    private func end(_ current: Current?) -> Staged {
        switch current {
        case .refused(let reason, let message)?:
            return .refused(reason: reason, message: message)
        case .file(let file)?:
            do {
                try file.close()
            } catch {
                logger.error("STOW-RS staging failed", metadata: ["error": "\(error)"])
                file.discard()
                return .refused(reason: 0xA700, message: "the worker could not write the part to disk")
            }
            guard file.bytesWritten > 0 else {
                file.discard()
                return .refused(reason: 0xC000, message: "the part is empty")
            }
            return .file(file.url)
        case nil:
            return .refused(reason: 0xC000, message: "the part could not be read")
        }
    }
}
