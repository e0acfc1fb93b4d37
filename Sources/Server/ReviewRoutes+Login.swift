import Foundation
import Hummingbird
import WorkerQueue

/// Signing in and out. The sign-in form's CSRF token is double-submitted (a `Path=/login` cookie and a
/// hidden field that must match), since there is no session yet to hold one. A failed sign-in is audited,
/// delayed and counted per name; too many lock the name out for a while, right password or not.
extension ReviewRoutes {
    func loginPage(_ request: Request) async -> Response {
        if case .found = await resolve(request) { return ReviewPages.redirect(to: "/worklist") }
        let next = Self.safeNext(FormFields(encoded: request.uri.query)["next"])
        return loginForm(.ok, next: next, attemptedName: "", error: nil)
    }

    func loginForm(_ status: HTTPResponse.Status, next: String, attemptedName: String, error: String?) -> Response {
        let token = SessionToken.random()
        var headers = HTTPFields()
        headers[values: .setCookie] = [cookie(Self.loginCookie, value: token, maxAge: 3600, path: "/login")]
        var values: [String: Any] = ["loginCSRF": token, "next": next, "attemptedName": attemptedName]
        if let error { values["error"] = error }
        return pages.render("login", status: status, title: "Sign in", context: nil, values: values, headers: headers)
    }

    func login(_ request: Request) async -> Response {
        guard let fields = await Self.readForm(request) else {
            return pages.message(.contentTooLarge, heading: "Form too large", text: "The form is larger than the server accepts.", context: nil,
                                 back: "/login", backLabel: "Sign in")
        }
        guard let cookieToken = request.cookies[Self.loginCookie]?.value, SessionToken.isWellFormed(cookieToken),
              let presented = fields["csrf"], Self.sameSecret(presented, cookieToken) else {
            logger.notice("sign-in refused: missing or wrong CSRF token")
            return pages.message(.forbidden, heading: "Form refused",
                                 text: "The sign-in form has expired or did not come from this site. Open the sign-in page again.",
                                 context: nil, back: "/login", backLabel: "Sign in")
        }
        let name = fields.trimmed("name") ?? ""
        let password = fields["password"] ?? ""
        let next = Self.safeNext(fields["next"])
        let actor = AccountName.isValid(name) ? name : "invalid-name"
        let now = Date()

        if let until = await throttle.lockedUntil(name, now: now) {
            await audit(actor, "login_failed", detail: "locked out after repeated failures")
            await pause()
            return loginForm(.tooManyRequests, next: next, attemptedName: name,
                             error: "Too many failed sign-ins for this name. Try again after \(ReviewFormat.dateTime(until)) UTC.")
        }
        let account: UserAccount?
        do {
            account = AccountName.isValid(name) ? try await review.store.user(name: name) : nil
        } catch {
            return storeFailure(error, context: nil)
        }
        let accepted: Bool
        if let account, !account.disabled {
            accepted = await PasswordHashing.verify(password, hash: account.passwordHash)
        } else {
            accepted = await PasswordHashing.verifyDecoy(password)
        }
        guard accepted, let account else {
            await throttle.recordFailure(name, now: now)
            let why = account == nil ? "unknown name" : (account?.disabled == true ? "account disabled" : "wrong password")
            await audit(actor, "login_failed", detail: why)
            logger.notice("sign-in failed", metadata: ["reason": "\(why)"])
            await pause()
            return loginForm(.unauthorized, next: next, attemptedName: name, error: "Wrong name or password.")
        }
        await throttle.recordSuccess(name)

        let token = SessionToken.random()
        let session = ReviewSession(tokenHash: SessionToken.hash(token), userID: account.id, csrfToken: SessionToken.random(),
                                    createdAt: now, expiresAt: now.addingTimeInterval(review.sessionLifetime))
        do {
            _ = try await review.store.purgeSessions(now: now)
            try await review.store.createSession(session)
        } catch {
            return storeFailure(error, context: nil)
        }
        await audit(account.name, "login", detail: "role \(account.role.rawValue)")
        var headers = HTTPFields()
        headers[values: .setCookie] = [
            cookie(Self.sessionCookie, value: token, maxAge: Int(review.sessionLifetime)),
            cookie(Self.loginCookie, value: "", maxAge: 0, path: "/login"),
        ]
        return ReviewPages.redirect(to: next, headers: headers)
    }

    func logout(_ context: PageContext) async -> Response {
        do {
            try await review.store.deleteSession(tokenHash: context.session.tokenHash)
        } catch {
            return storeFailure(error, context: context)
        }
        await audit(context.user.name, "logout", detail: "")
        var headers = HTTPFields()
        headers[values: .setCookie] = [cookie(Self.sessionCookie, value: "", maxAge: 0)]
        return ReviewPages.redirect(to: "/login", headers: headers)
    }

    private func pause() async {
        guard review.failedLoginDelay > 0 else { return }
        try? await Task.sleep(for: .milliseconds(Int(review.failedLoginDelay * 1000)))
    }
}
