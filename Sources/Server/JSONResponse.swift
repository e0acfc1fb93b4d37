import Foundation
import Hummingbird
import NIOCore

/// The listener's JSON answers: one shape for errors (`{"error": "…"}`) and one serialisation (sorted keys,
/// no escaped slashes) for every route, so that clients and tests see the same bytes for the same content.
enum JSONResponse {
    /// A JSON body from a JSONSerialization-compatible value (dictionaries, arrays, strings, numbers, NSNull).
    static func make(_ status: HTTPResponse.Status, _ object: Any, contentType: String = "application/json",
                     headers: HTTPFields = [:]) -> Response {
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            return Response(status: .internalServerError, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"error":"response could not be encoded"}"#)))
        }
        var fields = headers
        fields[.contentType] = contentType
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `{"error": message}` with the status.
    static func error(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
        make(status, ["error": message], headers: headers)
    }
}
