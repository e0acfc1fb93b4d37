import Foundation
import Hummingbird

/// Checks `Authorization: Bearer TOKEN` against the configured tokens in constant time: every byte of
/// every token is compared, with no early exit, so response timing does not reveal how much of a guess
/// was right or which token it was close to. (The time does grow with the longest token, which is not secret.)
public struct BearerTokenAuthenticator: Sendable {
    private let tokens: [[UInt8]]

    public init(tokens: [String]) {
        self.tokens = tokens.map { Array($0.utf8) }
    }

    /// True when `authorization` (the whole header value) is `Bearer` followed by one of the tokens.
    public func accepts(authorization: String?) -> Bool {
        guard let authorization, let presented = Self.bearerToken(in: authorization) else { return false }
        return accepts(token: presented)
    }

    /// True when `token` equals one of the configured tokens; all of them are compared every time.
    public func accepts(token: String) -> Bool {
        let presented = Array(token.utf8)
        var matches: UInt8 = 0
        for candidate in tokens {
            matches |= Self.equalInConstantTime(presented, candidate)
        }
        return matches == 1
    }

    /// The credentials of a `Bearer` Authorization value (scheme case-insensitive, RFC 7235), nil otherwise.
    static func bearerToken(in value: String) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else { return nil }
        guard trimmed[..<space].lowercased() == "bearer" else { return nil }
        let token = trimmed[space...].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// 1 when equal, 0 otherwise, touching every byte of the longer input whatever the content.
    private static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> UInt8 {
        var difference = UInt64(truncatingIfNeeded: a.count ^ b.count)
        let length = max(a.count, b.count)
        for i in 0..<length {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= UInt64(x ^ y)
        }
        // Fold to one bit without branching on the value.
        return UInt8(truncatingIfNeeded: 1 &- ((difference | (0 &- difference)) >> 63))
    }
}

/// Answers 401 with `WWW-Authenticate: Bearer` unless the request carries an accepted token. The answer is
/// the same for a missing, malformed or wrong token, so it tells a caller nothing about what to change.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let authenticator: BearerTokenAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let values = request.headers[values: .authorization]
        guard values.count == 1, authenticator.accepts(authorization: values[0]) else {
            return JSONResponse.error(.unauthorized, "authentication required",
                                      headers: [.wwwAuthenticate: #"Bearer realm="dsa-triage""#])
        }
        return try await next(request, context)
    }
}
