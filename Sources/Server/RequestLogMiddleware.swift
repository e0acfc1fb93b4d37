import Hummingbird
import Logging

/// One debug line per request: method, the matched route pattern (`/api/v1/series/{uid}`, never the path
/// itself, which may hold a UID), status and duration. Query strings and headers are not logged.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let started = clock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status.code, elapsed: clock.now - started)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            log(request, context, status: status, elapsed: clock.now - started)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, elapsed: Duration) {
        let route = context.endpointPath ?? "unmatched"
        let millis = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.debug("http request", metadata: [
            "method": "\(request.method.rawValue)",
            "route": "\(route)",
            "status": "\(status)",
            "ms": "\((millis * 10).rounded() / 10)",
        ])
    }
}
