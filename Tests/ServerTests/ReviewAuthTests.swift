import Foundation
import HummingbirdTesting
import Server
import WorkerQueue
import XCTest

/// Accounts, sign-in, cookies, CSRF and roles of the review pages, against a real SQLite worker database.
final class ReviewAuthTests: ServerTestCase {
    func testPasswordHashingIsBcryptCost12WithLengthRules() async throws {
        let hash = try await PasswordHashing.hash("a long enough passphrase")
        XCTAssertTrue(hash.hasPrefix("$2b$12$"), hash)
        XCTAssertEqual(hash.count, 60)
        let right = await PasswordHashing.verify("a long enough passphrase", hash: hash)
        let wrong = await PasswordHashing.verify("a long enough passphrasE", hash: hash)
        XCTAssertTrue(right)
        XCTAssertFalse(wrong)
        do {
            _ = try await PasswordHashing.hash("short1234")
            XCTFail("an 9-character password was accepted")
        } catch {
            XCTAssertEqual(error, .tooShort(characters: 9, minimum: 12))
        }
        do {
            _ = try await PasswordHashing.hash(String(repeating: "é", count: 37))
            XCTFail("74 bytes were accepted")
        } catch {
            XCTAssertEqual(error, .tooLong(bytes: 74, maximum: 72))
        }
    }

    func testSignInGoodAndBadWithCookieFlagsAndHashedSession() async throws {
        let world = try await ReviewWorld.make(in: folder)
        let server = try makeReviewServer(world)
        let folder = self.folder
        try await server.application.test(.router) { client in
            let jar = CookieJar()
            let form = try await jar.get(client, "/login")
            XCTAssertEqual(form.status.code, 200)
            let loginCookie = try XCTUnwrap(form.headers[values: .setCookie].first { $0.hasPrefix("dsa_login=") })
            XCTAssertTrue(loginCookie.contains("HttpOnly"), loginCookie)
            XCTAssertTrue(loginCookie.contains("SameSite=Strict"), loginCookie)
            XCTAssertTrue(loginCookie.contains("Path=/login"), loginCookie)
            XCTAssertEqual(hiddenField("csrf", in: bodyText(form)), jar["dsa_login"])

            let bad = try await jar.post(client, "/login", [("csrf", jar["dsa_login"] ?? ""), ("name", "rev.one"), ("password", "wrong password!!")])
            XCTAssertEqual(bad.status.code, 401)
            XCTAssertTrue(bodyText(bad).contains("Wrong name or password."))
            XCTAssertNil(jar["dsa_session"])
            let unknown = try await jar.post(client, "/login", [("csrf", jar["dsa_login"] ?? ""), ("name", "nobody"), ("password", ReviewWorld.password)])
            XCTAssertEqual(unknown.status.code, 401)
            XCTAssertEqual(bodyText(unknown).contains("Wrong name or password."), true, "the same answer for an unknown name")

            let good = try await jar.post(client, "/login", [("csrf", jar["dsa_login"] ?? ""), ("name", "rev.one"),
                                                            ("password", ReviewWorld.password), ("next", "/cases/13")])
            XCTAssertEqual(good.status.code, 303)
            XCTAssertEqual(good.headers[.location], "/cases/13")
            let sessionCookie = try XCTUnwrap(good.headers[values: .setCookie].first { $0.hasPrefix("dsa_session=") })
            for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
                XCTAssertTrue(sessionCookie.contains(flag), "\(flag) missing: \(sessionCookie)")
            }
            XCTAssertFalse(sessionCookie.contains("Secure"), "no Secure flag without TLS")
            let token = try XCTUnwrap(jar["dsa_session"])
            XCTAssertEqual(token.count, 64)
            let stored = try await world.store.session(tokenHash: try await sha256sum(token, folder: folder), now: nil)
            XCTAssertEqual(stored?.userID, world.reviewer.id, "the store keeps the SHA-256 of the cookie's token")
            let raw = try await world.store.session(tokenHash: token, now: nil)
            XCTAssertNil(raw, "the token itself is not stored")
            let value1 = try await jar.get(client, "/worklist").status.code
            XCTAssertEqual(value1, 200)

            // An offsite redirect target is not followed.
            let other = CookieJar()
            _ = try await other.get(client, "/login")
            let offsite = try await other.post(client, "/login", [("csrf", other["dsa_login"] ?? ""), ("name", "admin"),
                                                                 ("password", ReviewWorld.password), ("next", "//evil.example/")])
            XCTAssertEqual(offsite.headers[.location], "/worklist")

            // Logging out ends the session in the store.
            let csrf = try await jar.csrf(client)
            let out = try await jar.post(client, "/logout", [("csrf", csrf)])
            XCTAssertEqual(out.status.code, 303)
            XCTAssertEqual(out.headers[.location], "/login")
            let ended = try await world.store.session(tokenHash: try await sha256sum(token, folder: folder), now: nil)
            XCTAssertNil(ended)
            jar["dsa_session"] = token
            let value2 = try await jar.get(client, "/worklist").status.code
            XCTAssertEqual(value2, 303, "the old cookie no longer works")
        }
        let events = try await world.store.auditEvents(limit: 50)
        XCTAssertEqual(events.filter { $0.action == "login_failed" }.map(\.actor).sorted(), ["nobody", "rev.one"])
        XCTAssertEqual(events.filter { $0.action == "login" }.map(\.actor).sorted(), ["admin", "rev.one"])
        XCTAssertEqual(events.filter { $0.action == "logout" }.map(\.actor), ["rev.one"])
    }

    func testSecureCookieWhenTLSIsOn() async throws {
        let certificate = folder.appendingPathComponent("cert.pem").path
        let key = folder.appendingPathComponent("key.pem").path
        let made = try await runTool("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                                                 "-days", "1", "-subj", "/CN=localhost"], logIn: folder)
        XCTAssertEqual(made.status, 0, made.output)
        let world = try await ReviewWorld.make(in: folder)
        let server = try makeReviewServer(world) {
            $0.tlsCertificatePath = certificate
            $0.tlsPrivateKeyPath = key
        }
        try await server.application.test(.router) { client in
            let jar = CookieJar()
            let good = try await jar.signIn(client, name: "rev.one", password: ReviewWorld.password)
            XCTAssertEqual(good.status.code, 303)
            let cookie = try XCTUnwrap(good.headers[values: .setCookie].first { $0.hasPrefix("dsa_session=") })
            XCTAssertTrue(cookie.contains("Secure"), cookie)
        }
    }

    func testFormsWithoutTheCSRFTokenAreRefused() async throws {
        let world = try await ReviewWorld.make(in: folder)
        let server = try makeReviewServer(world)
        try await server.application.test(.router) { client in
            let jar = CookieJar()
            // The sign-in form's own token: missing, or not matching the cookie.
            _ = try await jar.get(client, "/login")
            let noToken = try await jar.post(client, "/login", [("name", "rev.one"), ("password", ReviewWorld.password)])
            XCTAssertEqual(noToken.status.code, 403)
            let mismatch = try await jar.post(client, "/login", [("csrf", String(repeating: "a", count: 64)), ("name", "rev.one"),
                                                                ("password", ReviewWorld.password)])
            XCTAssertEqual(mismatch.status.code, 403)
            XCTAssertNil(jar["dsa_session"])

            try await jar.signIn(client, name: "rev.one", password: ReviewWorld.password)
            let token = try await jar.csrf(client)
            let missing = try await jar.post(client, "/cases/13/verdict", [("verdict", "blocked")])
            XCTAssertEqual(missing.status.code, 403)
            let wrong = try await jar.post(client, "/cases/13/verdict", [("verdict", "blocked"), ("csrf", String(token.reversed()))])
            XCTAssertEqual(wrong.status.code, 403)
            let logout = try await jar.post(client, "/logout", [])
            XCTAssertEqual(logout.status.code, 403)
            let anonymous = try await CookieJar().post(client, "/cases/13/verdict", [("verdict", "blocked"), ("csrf", token)])
            XCTAssertEqual(anonymous.status.code, 403, "a form post without a session")
            let none = try await world.store.verdicts(caseJobID: 13)
            XCTAssertEqual(none.count, 0, "no refused post may record a verdict")
            let accepted = try await jar.post(client, "/cases/13/verdict", [("verdict", "blocked"), ("csrf", token)])
            XCTAssertEqual(accepted.status.code, 303)
        }
        let recorded = try await world.store.verdicts(caseJobID: 13)
        XCTAssertEqual(recorded.map(\.verdict), [.blocked])
    }

    func testRepeatedFailuresLockTheNameOut() async throws {
        let world = try await ReviewWorld.make(in: folder)
        let server = try makeReviewServer(world, review: try world.configuration(maxFailedLogins: 3))
        try await server.application.test(.router) { client in
            let jar = CookieJar()
            for _ in 0..<3 {
                let value3 = try await jar.signIn(client, name: "rev.one", password: "not the password").status.code
                XCTAssertEqual(value3, 401)
            }
            let locked = try await jar.signIn(client, name: "rev.one", password: ReviewWorld.password)
            XCTAssertEqual(locked.status.code, 429, "the right password is refused while locked out")
            XCTAssertNil(jar["dsa_session"])
            let value4 = try await jar.signIn(client, name: "admin", password: ReviewWorld.password).status.code
            XCTAssertEqual(value4, 303,
                           "other names are not locked")
        }
        let failed = try await world.store.auditEvents(limit: 50).filter { $0.action == "login_failed" }
        XCTAssertEqual(failed.count, 4)
        XCTAssertEqual(failed.filter { $0.detail.contains("locked") }.count, 1)
    }

    func testRedirectsRolesAndUserAdministration() async throws {
        let world = try await ReviewWorld.make(in: folder)
        let server = try makeReviewServer(world)
        try await server.application.test(.router) { client in
            let anonymous = CookieJar()
            for path in ["/worklist", "/cases/13", "/dashboard", "/admin/users", "/cases/13/image/case-13.png"] {
                let answer = try await anonymous.get(client, path)
                XCTAssertEqual(answer.status.code, 303, path)
                XCTAssertTrue(answer.headers[.location]?.hasPrefix("/login?next=") == true, path)
            }
            let value5 = try await anonymous.get(client, "/login").status.code
            XCTAssertEqual(value5, 200)
            // The API keeps its bearer token; a session cookie does not open it.
            let value6 = try await anonymous.get(client, "/api/v1/jobs").status.code
            XCTAssertEqual(value6, 401)

            let reviewer = CookieJar()
            try await reviewer.signIn(client, name: "rev.one", password: ReviewWorld.password)
            let value7 = try await reviewer.get(client, "/api/v1/jobs").status.code
            XCTAssertEqual(value7, 401)
            let value8 = try await reviewer.get(client, "/admin/users").status.code
            XCTAssertEqual(value8, 403)
            let value9 = try await reviewer.get(client, "/admin/alerts").status.code
            XCTAssertEqual(value9, 403)
            let token = try await reviewer.csrf(client)
            let refused = try await reviewer.post(client, "/admin/users", [("csrf", token), ("name", "sneaky"), ("role", "admin"),
                                                                          ("password", "a long enough passphrase")])
            XCTAssertEqual(refused.status.code, 403)
            let value10 = try await world.store.user(name: "sneaky")
            XCTAssertNil(value10)

            let admin = CookieJar()
            try await admin.signIn(client, name: "admin", password: ReviewWorld.password)
            let list = try await admin.get(client, "/admin/users")
            XCTAssertEqual(list.status.code, 200)
            XCTAssertTrue(bodyText(list).contains("rev.one"))
            XCTAssertFalse(bodyText(list).contains("$2b$"), "no hash on the page")
            let adminToken = try await admin.csrf(client, page: "/admin/users")
            let short = try await admin.post(client, "/admin/users", [("csrf", adminToken), ("name", "rev.two"), ("role", "reviewer"),
                                                                     ("password", "too short")])
            XCTAssertEqual(short.status.code, 400)
            let added = try await admin.post(client, "/admin/users", [("csrf", adminToken), ("name", "rev.two"), ("role", "reviewer"),
                                                                     ("password", "another long passphrase")])
            XCTAssertEqual(added.status.code, 303)
            let two = try await world.store.user(name: "rev.two")
            XCTAssertEqual(two?.role, .reviewer)
            XCTAssertTrue(two?.passwordHash.hasPrefix("$2b$12$") == true)

            let disabled = try await admin.post(client, "/admin/users/state", [("csrf", adminToken), ("name", "rev.one"), ("disabled", "true")])
            XCTAssertEqual(disabled.status.code, 303)
            let value11 = try await world.store.user(name: "rev.one")?.disabled
            XCTAssertEqual(value11, true)
            let value12 = try await reviewer.get(client, "/worklist").status.code
            XCTAssertEqual(value12, 303, "a disabled account's session ends")
            let value13 = try await CookieJar().signIn(client, name: "rev.one", password: ReviewWorld.password).status.code
            XCTAssertEqual(value13, 401)
            let selfDisable = try await admin.post(client, "/admin/users/state", [("csrf", adminToken), ("name", "admin"), ("disabled", "true")])
            XCTAssertEqual(selfDisable.status.code, 400)
        }
        let actions = try await world.store.auditEvents(limit: 50).filter { $0.actor == "admin" }.map(\.action)
        XCTAssertTrue(actions.contains("user_added"), "\(actions)")
        XCTAssertTrue(actions.contains("user_disabled"), "\(actions)")
    }
}
