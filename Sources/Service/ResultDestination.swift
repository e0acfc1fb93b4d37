import AsyncHTTPClient
import Foundation
import NIOCore

/// Where a triaged series' SR goes. The SR's SOP Instance UID derives from the job key, so sending it again
/// (a retry, a restart after the send but before the job was marked done) replaces rather than duplicates.
public enum ResultDestination: Sendable {
    case none
    /// Orthanc's REST API (`POST /instances`).
    case orthanc(OrthancClient)
    /// Any DICOMweb STOW-RS endpoint: `POST {base}/studies`, multipart/related; type="application/dicom".
    case dicomweb(base: String, http: HTTPClient, authorization: String?)

    public var name: String {
        switch self {
        case .none: return "none"
        case .orthanc: return "orthanc"
        case .dicomweb: return "dicomweb"
        }
    }

    /// Whether SRs go anywhere (a verified SR follows a verdict only where the first one went).
    public var sendsReports: Bool {
        if case .none = self { return false }
        return true
    }

    /// Sends one Part 10 file; tries `attempts` times with a doubling pause. Returns a short status.
    public func send(_ dicom: Data, attempts: Int = 3, firstPause: Double = 1) async throws -> String {
        var pause = firstPause
        var lastError: Error = DestinationError(message: "not sent")
        for attempt in 1...max(1, attempts) {
            do {
                return try await sendOnce(dicom)
            } catch {
                lastError = error
                if attempt < attempts {
                    try await Task.sleep(nanoseconds: UInt64(pause * 1e9))
                    pause *= 2
                }
            }
        }
        throw lastError
    }

    private func sendOnce(_ dicom: Data) async throws -> String {
        switch self {
        case .none:
            return "not sent (destination none)"
        case .orthanc(let client):
            return "orthanc: " + (try await client.upload(dicom))
        case .dicomweb(let base, let http, let authorization):
            let boundary = "dsa-triage-" + UUID().uuidString
            var body = ByteBuffer()
            body.writeString("--\(boundary)\r\nContent-Type: application/dicom\r\n\r\n")
            body.writeBytes(dicom)
            body.writeString("\r\n--\(boundary)--\r\n")
            var req = HTTPClientRequest(url: base.hasSuffix("/") ? base + "studies" : base + "/studies")
            req.method = .POST
            req.headers.add(name: "Content-Type", value: "multipart/related; type=\"application/dicom\"; boundary=\(boundary)")
            req.headers.add(name: "Accept", value: "application/dicom+json")
            if let authorization { req.headers.add(name: "Authorization", value: authorization) }
            req.body = .bytes(body)
            let response = try await http.execute(req, timeout: .seconds(60))
            let answer = try await response.body.collect(upTo: 1 << 20)
            guard response.status.code == 200 || response.status.code == 202 else {
                throw DestinationError(message: "STOW-RS destination answered \(response.status.code): \(String(String(buffer: answer).prefix(200)))")
            }
            return "dicomweb: \(response.status.code)"
        }
    }
}

public struct DestinationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
