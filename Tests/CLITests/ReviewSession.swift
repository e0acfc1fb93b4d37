import Foundation
import TestSupport
import XCTest

/// A reviewer's session against a running worker, driven by curl with a cookie jar (as a browser would
/// send forms): sign in, read pages, post forms with the page's CSRF token.
struct ReviewSession {
    let baseURL: String
    let folder: URL
    var jar: String { folder.appendingPathComponent("cookies.txt").path }

    /// (status, body) of a GET, following no redirects.
    func get(_ path: String) throws -> (Int, String) {
        let out = folder.appendingPathComponent("page-\(UUID().uuidString).html")
        let r = try ExternalTool.run("curl", ["-sS", "-o", out.path, "-w", "%{http_code}", "-b", jar, "-c", jar, baseURL + path], package: "curl")
        let body = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: out)
        return (Int(r.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, body)
    }

    /// (status, location) of a form POST.
    func post(_ path: String, _ fields: [(String, String)]) throws -> (Int, String) {
        var args = ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-b", jar, "-c", jar]
        for (k, v) in fields { args += ["--data-urlencode", "\(k)=\(v)"] }
        let r = try ExternalTool.run("curl", args + [baseURL + path], package: "curl")
        let parts = r.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 1)
        return (Int(parts.first ?? "") ?? 0, parts.count > 1 ? String(parts[1]) : "")
    }

    /// The value of the first hidden `csrf` field of a page.
    static func csrf(in page: String) -> String? {
        guard let r = page.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(page[r.upperBound...].prefix { $0 != "\"" })
    }

    /// Signs in; fails the test when the worklist does not follow.
    func signIn(name: String, password: String) throws {
        let (status, page) = try get("/login")
        XCTAssertEqual(status, 200)
        let token = try XCTUnwrap(Self.csrf(in: page), "no CSRF field on the login page")
        let (posted, location) = try post("/login", [("csrf", token), ("name", name), ("password", password), ("next", "/worklist")])
        XCTAssertEqual(posted, 303, "sign-in answered \(posted)")
        XCTAssertTrue(location.hasSuffix("/worklist"), location)
    }
}
