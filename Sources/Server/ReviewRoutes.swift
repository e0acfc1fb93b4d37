import Foundation
import Hummingbird
import Logging
import NIOCore
import WorkerQueue

/// The reviewers' web pages: sign-in with session cookies, the worklist, case pages with adjudication, the
/// dashboard and the admin pages. They use a session, never the API's bearer token, so `WorkerRoutes`
/// registers them before its bearer middleware. Every POST carries the session's CSRF token (the sign-in
/// form a token of its own, double-submitted in a cookie); a POST without a valid session or token is 403.
struct ReviewRoutes: Sendable {
    let review: ReviewConfiguration
    let pages: ReviewPages
    let throttle: LoginThrottle
    /// `Secure` on the cookies: set when the listener speaks TLS.
    let secureCookies: Bool
    let logger: Logger

    static let sessionCookie = "dsa_session"
    static let loginCookie = "dsa_login"
    static let maxFormBytes = 64 << 10
    static let maxCommentLength = 2000
    static let worklistLimit = 200

    enum Access: Sendable { case reviewer, admin }

    init(review: ReviewConfiguration, secureCookies: Bool, logger: Logger) {
        self.review = review
        let pages = ReviewPages()
        for failure in pages.failures { logger.critical("\(failure)") }
        self.pages = pages
        self.throttle = LoginThrottle(maxFailures: review.maxFailedLogins, window: review.lockoutWindow)
        self.secureCookies = secureCookies
        self.logger = logger
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in ReviewPages.redirect(to: "/worklist") }
        router.get("/review-assets/review.css") { _, _ in Self.asset(ReviewAssets.css, type: "text/css; charset=utf-8") }
        router.get("/review-assets/review.js") { _, _ in Self.asset(ReviewAssets.javascript, type: "text/javascript; charset=utf-8") }
        router.get("/login") { request, _ in await loginPage(request) }
        router.post("/login") { request, _ in await login(request) }
        router.post("/logout") { request, _ in await form(request, .reviewer) { context, _ in await logout(context) } }
        router.get("/worklist") { request, _ in await page(request, .reviewer) { await worklist(request, $0) } }
        router.get("/cases/{id}") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await page(request, .reviewer) { await casePage(id, $0) }
        }
        router.get("/cases/{id}/image/{file}") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            let file = context.parameters.get("file") ?? ""
            return await page(request, .reviewer) { await image(id, file: file, $0) }
        }
        router.post("/cases/{id}/verdict") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await form(request, .reviewer) { await recordVerdict(id, $0, $1) }
        }
        router.get("/dashboard") { request, _ in await page(request, .reviewer) { await dashboard($0) } }
        router.get("/dashboard/export.json") { request, _ in await page(request, .reviewer) { await export(.json, $0) } }
        router.get("/dashboard/export.csv") { request, _ in await page(request, .reviewer) { await export(.csv, $0) } }
        router.get("/admin/users") { request, _ in await page(request, .admin) { await usersPage($0) } }
        router.post("/admin/users") { request, _ in await form(request, .admin) { await addUser($0, $1) } }
        router.post("/admin/users/state") { request, _ in await form(request, .admin) { await setUserState($0, $1) } }
        router.get("/admin/alerts") { request, _ in await page(request, .admin) { await alertsPage($0) } }
        router.post("/admin/alerts/{id}/acknowledge") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await form(request, .admin) { await acknowledge(id, $0, $1) }
        }
    }

    // MARK: Sessions and access

    enum SessionLookup {
        case none
        case found(PageContext)
        case failed(Response)
    }

    /// The signed-in user of a request: a well-formed session cookie whose hash names an unexpired session
    /// of an enabled account.
    func resolve(_ request: Request) async -> SessionLookup {
        guard let token = request.cookies[Self.sessionCookie]?.value, SessionToken.isWellFormed(token) else { return .none }
        do {
            guard let session = try await review.store.session(tokenHash: SessionToken.hash(token), now: nil),
                  let user = try await review.store.user(id: session.userID), !user.disabled else { return .none }
            let alerts = try await review.store.alerts(states: [.open], limit: 20)
            return .found(PageContext(user: user, session: session, alerts: alerts))
        } catch {
            return .failed(storeFailure(error, context: nil))
        }
    }

    /// A page (GET): without a session, 303 to the sign-in page (which comes back here); an admin page
    /// for a reviewer, 403.
    func page(_ request: Request, _ access: Access, _ body: (PageContext) async -> Response) async -> Response {
        switch await resolve(request) {
        case .none:
            var target = request.uri.path
            if let query = request.uri.query, !query.isEmpty { target += "?" + query }
            return ReviewPages.redirect(to: "/login?" + QueryString.make([("next", target)]))
        case .failed(let response):
            return response
        case .found(let context):
            if access == .admin && context.user.role != .admin { return forbiddenForReviewer(context) }
            return await body(context)
        }
    }

    /// A form post: 403 without a session or without the session's CSRF token (compared in constant time),
    /// 403 for a reviewer on an admin form; 413 for a body over 64 KiB.
    func form(_ request: Request, _ access: Access, _ body: (PageContext, FormFields) async -> Response) async -> Response {
        let context: PageContext
        switch await resolve(request) {
        case .none:
            return pages.message(.forbidden, heading: "Not signed in",
                                 text: "This form needs a signed-in session. Sign in and try again.", context: nil,
                                 back: "/login", backLabel: "Sign in")
        case .failed(let response):
            return response
        case .found(let found):
            context = found
        }
        let fields: FormFields
        switch await Self.readForm(request) {
        case .some(let parsed): fields = parsed
        case .none:
            return pages.message(.contentTooLarge, heading: "Form too large", text: "The form is larger than the server accepts.", context: context)
        }
        guard let presented = fields["csrf"], Self.sameSecret(presented, context.session.csrfToken) else {
            logger.notice("review form refused: missing or wrong CSRF token", metadata: ["route": "\(request.uri.path.prefix(64))"])
            return pages.message(.forbidden, heading: "Form refused",
                                 text: "The form did not carry this session's token (it may be stale, or come from another site). Reload the page and try again.",
                                 context: context)
        }
        if access == .admin && context.user.role != .admin { return forbiddenForReviewer(context) }
        return await body(context, fields)
    }

    func forbiddenForReviewer(_ context: PageContext) -> Response {
        pages.message(.forbidden, heading: "Admins only", text: "This page is for admins; your role is \(context.user.role.rawValue).", context: context)
    }

    static func readForm(_ request: Request) async -> FormFields? {
        do {
            let buffer = try await request.body.collect(upTo: maxFormBytes)
            return FormFields(encoded: Substring(String(buffer: buffer)))
        } catch {
            return nil
        }
    }

    /// Constant-time equality of two secrets (the bearer-token comparison, with one accepted token).
    static func sameSecret(_ presented: String, _ expected: String) -> Bool {
        !expected.isEmpty && BearerTokenAuthenticator(tokens: [expected]).accepts(token: presented)
    }

    func cookie(_ name: String, value: String, maxAge: Int, path: String = "/") -> String {
        Cookie(name: name, value: value, maxAge: maxAge, path: path, secure: secureCookies, httpOnly: true, sameSite: .strict).description
    }

    func storeFailure(_ error: any Error, context: PageContext?) -> Response {
        logger.error("review store error", metadata: ["error": "\(error)"])
        return pages.message(.internalServerError, heading: "Database error",
                             text: "The review database did not answer; try again in a moment.", context: context)
    }

    func audit(_ actor: String, _ action: String, caseJobID: Int64? = nil, detail: String) async {
        do {
            try await review.store.appendAudit(actor: actor, action: action, caseJobID: caseJobID, detail: detail, now: nil)
        } catch {
            logger.error("audit event not written", metadata: ["action": "\(action)", "error": "\(error)"])
        }
    }

    static func asset(_ text: String, type: String) -> Response {
        var fields: HTTPFields = [.contentType: type]
        ReviewPages.secure(&fields)
        fields[.cacheControl] = "private, max-age=300"
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A same-site path to return to after signing in; anything else (another host, `//…`, control
    /// characters, the sign-in pages themselves) becomes the worklist.
    static func safeNext(_ text: String?) -> String {
        guard let text, text.hasPrefix("/"), !text.hasPrefix("//"), !text.hasPrefix("/\\"), text.utf8.count <= 512,
              text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }),
              !text.hasPrefix("/login"), !text.hasPrefix("/logout") else { return "/worklist" }
        return text
    }
}
