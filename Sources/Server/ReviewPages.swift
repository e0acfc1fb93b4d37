import Foundation
import Hummingbird
import Mustache
import NIOCore
import WorkerQueue

/// Renders the review pages from the compiled-in templates and wraps them in the headers every page gets:
/// a strict Content-Security-Policy (scripts, styles and images from this origin only, no inline code, no
/// framing, forms posting only here), no caching, no referrer, no MIME sniffing.
struct ReviewPages: Sendable {
    let library: MustacheLibrary

    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// Templates that did not parse (a build defect): logged at startup; their pages answer 500.
    let failures: [String]

    init() {
        var library = MustacheLibrary()
        var failures: [String] = []
        for (name, text) in ReviewTemplates.all.sorted(by: { $0.key < $1.key }) {
            do {
                try library.register(text, named: name)
            } catch {
                failures.append("review page template \(name) does not parse: \(error)")
            }
        }
        self.library = library
        self.failures = failures
    }

    /// A page with its layout values; `context` carries the user, CSRF token and banner alerts.
    func render(_ template: String, status: HTTPResponse.Status = .ok, title: String, context: PageContext?,
                values: [String: Any], headers: HTTPFields = [:]) -> Response {
        var object = values
        object["title"] = title
        object["page"] = template
        if let context {
            object["user"] = ["name": context.user.name, "role": context.user.role.rawValue, "isAdmin": context.user.role == .admin]
            object["csrf"] = context.session.csrfToken
            object["alerts"] = context.alerts.map { alert -> [String: Any] in
                ["kind": alert.kind, "scope": alert.scope, "message": alert.message, "opened": ReviewFormat.dateTime(alert.openedAt)]
            }
            object["hasAlerts"] = !context.alerts.isEmpty
        }
        guard let html = library.render(object, withTemplate: template) else {
            return Self.plain(.internalServerError, "page template \(template) is missing")
        }
        return Self.html(status, html, headers: headers)
    }

    /// A short page with a heading, one sentence and a link back.
    func message(_ status: HTTPResponse.Status, heading: String, text: String, context: PageContext?,
                 back: String = "/worklist", backLabel: String = "Back to the worklist") -> Response {
        render("message", status: status, title: heading, context: context,
               values: ["heading": heading, "text": text, "back": back, "backLabel": backLabel])
    }

    static func html(_ status: HTTPResponse.Status, _ html: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        secure(&fields)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var fields: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
        secure(&fields)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    /// 303 See Other: after a POST the browser GETs `location`.
    static func redirect(to location: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.location] = location
        secure(&fields)
        return Response(status: .seeOther, headers: fields)
    }

    static func secure(_ fields: inout HTTPFields) {
        fields[.contentSecurityPolicy] = contentSecurityPolicy
        fields[.xContentTypeOptions] = "nosniff"
        fields[.cacheControl] = "no-store"
        if let name = referrerPolicy { fields[name] = "no-referrer" }
        if let name = frameOptions { fields[name] = "DENY" }
    }

    private static let referrerPolicy = HTTPFields.Element.Name("Referrer-Policy")
    private static let frameOptions = HTTPFields.Element.Name("X-Frame-Options")
}

/// Who is asking, for a page: the signed-in user, their session (its CSRF token) and the open alerts.
struct PageContext: Sendable {
    let user: UserAccount
    let session: ReviewSession
    let alerts: [AlertRecord]
}
