import Foundation
import Hummingbird
import Logging
import WorkerQueue

/// The listener's routes and their handlers. /healthz is registered before the bearer-token middleware, so
/// orchestrators can probe it without a token, and so are the review pages, which check their own session
/// cookie instead; every other route, and unknown paths, come after it.
struct WorkerRoutes: Sendable {
    let configuration: ServerConfiguration
    let store: any JobStore
    let sink: (any StowInstanceSink)?
    let readiness: any ReadinessProbe
    let metrics: ServerMetrics
    let logger: Logger
    /// The reviewers' pages, when configured: registered before the bearer middleware (they use sessions).
    let review: ReviewRoutes?

    static let defaultJobLimit = 100
    static let maxJobLimit = 1000

    func register(on router: Router<BasicRequestContext>) {
        router.add(middleware: RequestLogMiddleware(logger: logger))
        router.get("/healthz") { _, _ in JSONResponse.make(.ok, ["status": "ok"]) }
        review?.register(on: router)
        if configuration.requiresAuthentication {
            router.add(middleware: BearerAuthMiddleware(authenticator: BearerTokenAuthenticator(tokens: configuration.bearerTokens)))
        }
        router.get("/readyz") { _, _ in await ready() }
        router.get("/metrics") { _, _ in await metricsText() }
        router.get("/api/v1/jobs") { request, _ in await listJobs(request) }
        router.get("/api/v1/jobs/{id}") { _, context in
            guard let id = context.parameters.get("id", as: Int64.self) else { return Self.badJobID }
            return await job(id)
        }
        router.post("/api/v1/jobs/{id}/retry") { _, context in
            guard let id = context.parameters.get("id", as: Int64.self) else { return Self.badJobID }
            return await retry(id)
        }
        router.get("/api/v1/series/{uid}") { _, context in await series(context.parameters.get("uid")) }
        if let sink {
            router.post("/dicom-web/studies") { request, _ in await stow(request, sink: sink, study: nil) }
            router.post("/dicom-web/studies/{study}") { request, context in
                await stow(request, sink: sink, study: context.parameters.get("study") ?? "")
            }
        }
    }

    // MARK: Health and metrics

    private func ready() async -> Response {
        let checks = await readiness.readiness()
        let ready = checks.allSatisfy(\.ok)
        let list: [[String: Any]] = checks.map { ["name": $0.name, "ok": $0.ok, "detail": $0.detail] }
        return JSONResponse.make(ready ? .ok : .serviceUnavailable, ["ready": ready, "checks": list])
    }

    private func metricsText() async -> Response {
        do {
            metrics.refreshQueue(try await store.counts())
        } catch {
            logger.warning("metrics: the job store did not answer", metadata: ["error": "\(error)"])
            return JSONResponse.error(.serviceUnavailable, "the job store did not answer; no metrics emitted")
        }
        var bytes: [UInt8] = []
        metrics.registry.emit(into: &bytes)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    // MARK: Jobs

    private func listJobs(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        var state: JobState?
        if let text = query.get("state"), !text.isEmpty {
            guard let parsed = JobState(rawValue: text) else {
                let allowed = JobState.allCases.map(\.rawValue).joined(separator: ", ")
                return JSONResponse.error(.badRequest, "unknown state '\(StowContentType.printable(text))'; the states are \(allowed)")
            }
            state = parsed
        }
        var limit = Self.defaultJobLimit
        if let text = query.get("limit") {
            guard let parsed = Int(text), (1...Self.maxJobLimit).contains(parsed) else {
                return JSONResponse.error(.badRequest, "limit must be an integer from 1 to \(Self.maxJobLimit)")
            }
            limit = parsed
        }
        do {
            let jobs = try await store.list(state: state, limit: limit)
            return JSONResponse.make(.ok, jobs.map(JobJSON.summary))
        } catch {
            return storeFailure(error)
        }
    }

    private static var badJobID: Response { JSONResponse.error(.badRequest, "a job id is an integer") }

    private func job(_ id: Int64) async -> Response {
        do {
            guard let job = try await store.job(id: id) else {
                return JSONResponse.error(.notFound, "no job \(id)")
            }
            return JSONResponse.make(.ok, JobJSON.detail(job))
        } catch {
            return storeFailure(error)
        }
    }

    private func retry(_ id: Int64) async -> Response {
        do {
            let job = try await store.retry(id: id, now: nil)
            logger.info("job retried by an operator", metadata: ["job": "\(id)"])
            return JSONResponse.make(.ok, JobJSON.detail(job))
        } catch {
            switch error {
            case .notFound: return JSONResponse.error(.notFound, "no job \(id)")
            case .invalidState: return JSONResponse.error(.conflict, error.description)
            default: return storeFailure(error)
            }
        }
    }

    private func series(_ text: String?) async -> Response {
        guard let text, let key = SeriesIdentifier.key(for: text) else {
            return JSONResponse.error(.badRequest,
                                      "give a Series Instance UID (digits and dots) or a series key (64 hexadecimal digits)")
        }
        do {
            guard let job = try await store.currentJob(series: key) else {
                return JSONResponse.error(.notFound, "no job for this series")
            }
            return JSONResponse.make(.ok, JobJSON.detail(job))
        } catch {
            return storeFailure(error)
        }
    }

    private func storeFailure(_ error: JobStoreError) -> Response {
        logger.error("job store error", metadata: ["error": "\(error)"])
        return JSONResponse.error(.internalServerError, "the job store failed: \(error)")
    }

    // MARK: STOW-RS

    private func stow(_ request: Request, sink: any StowInstanceSink, study: String?) async -> Response {
        if let study, !SeriesIdentifier.isUID(study) {
            return refuse(.badRequest("the study in the path is not a DICOM UID"))
        }
        let boundary: String
        do {
            boundary = try StowContentType.boundary(fromContentType: request.headers[.contentType])
        } catch {
            return refuse(error)
        }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > configuration.maxStowBodyBytes {
            return refuse(.tooLarge(limit: configuration.maxStowBodyBytes))
        }
        let metrics = self.metrics
        let receiver = StowReceiver(sink: sink, maxBodyBytes: configuration.maxStowBodyBytes, logger: logger,
                                    countBytes: { metrics.countIngest(bytes: $0) })
        let receipt: StowReceipt
        do {
            receipt = try await receiver.receive(body: request.body, boundary: boundary, studyInstanceUID: study)
        } catch {
            return refuse(error)
        }
        let studyURL = study.map { baseURL(request) + "/dicom-web/studies/" + $0 }
        let answer = StowResponse(outcomes: receipt.outcomes, studyURL: studyURL)
        let status = answer.status.code
        logger.info("STOW-RS request", metadata: [
            "parts": "\(receipt.outcomes.count)", "stored": "\(answer.storedCount)", "failed": "\(answer.failedCount)",
            "bytes": "\(receipt.bodyBytes)", "status": "\(status)",
        ])
        metrics.countStow(status: status, stored: answer.storedCount, failed: answer.failedCount)
        return answer.response()
    }

    private func refuse(_ error: StowRequestError) -> Response {
        logger.info("STOW-RS request refused", metadata: ["status": "\(error.status.code)", "reason": "\(error)"])
        metrics.countStow(status: error.status.code, stored: 0, failed: 0)
        return JSONResponse.error(error.status, error.description)
    }

    /// `publicBaseURL`, else the scheme and the request's Host (when it is a plain host[:port]), else the listen address.
    private func baseURL(_ request: Request) -> String {
        if let base = configuration.publicBaseURL {
            return base.hasSuffix("/") ? String(base.dropLast()) : base
        }
        let scheme = configuration.usesTLS ? "https" : "http"
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-:[]"))
        if let authority = request.head.authority, !authority.isEmpty, authority.count <= 255,
           authority.unicodeScalars.allSatisfy({ $0.isASCII && allowed.contains($0) }) {
            return "\(scheme)://\(authority)"
        }
        let host = configuration.host.contains(":") && !configuration.host.hasPrefix("[") ? "[\(configuration.host)]" : configuration.host
        return "\(scheme)://\(host):\(configuration.port)"
    }
}
