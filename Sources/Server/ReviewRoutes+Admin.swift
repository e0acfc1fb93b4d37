import Foundation
import Hummingbird
import NIOCore
import WorkerQueue

/// The dashboard (counts, and the monitoring source's figures and exports) and the admin pages: accounts
/// and alert acknowledgement.
extension ReviewRoutes {
    func dashboard(_ context: PageContext) async -> Response {
        let counts: WorklistCounts
        do {
            counts = try await review.store.worklistCounts()
        } catch {
            return storeFailure(error, context: context)
        }
        var values: [String: Any] = ["counts": Self.countValues(counts), "hasSource": review.dashboard != nil]
        if let source = review.dashboard {
            do {
                let figures = try await source.figures(now: Date())
                values["generated"] = ReviewFormat.dateTime(figures.generatedAt)
                values["tiles"] = figures.tiles.map { tile -> [String: Any] in
                    var row: [String: Any] = ["label": tile.label, "value": tile.value]
                    if let detail = tile.detail { row["detail"] = detail }
                    return row
                }
                values["hasTiles"] = !figures.tiles.isEmpty
                values["tables"] = figures.tables.map { table -> [String: Any] in
                    ["title": table.title, "columns": table.columns, "rows": table.rows.map { ["cells": $0] }]
                }
                values["charts"] = figures.charts.map(DashboardChartDrawing.templateValues)
            } catch {
                logger.error("dashboard source failed", metadata: ["error": "\(error)"])
                values["sourceError"] = "\(error)"
            }
        }
        return pages.render("dashboard", title: "Dashboard", context: context, values: values)
    }

    func export(_ format: DashboardExportFormat, _ context: PageContext) async -> Response {
        guard let source = review.dashboard else {
            return pages.message(.notFound, heading: "No export", text: "Monitoring is not configured on this worker.", context: context)
        }
        do {
            let data = try await source.export(format, now: Date())
            var fields: HTTPFields = [.contentType: format.contentType,
                                      .contentDisposition: "attachment; filename=\"monitoring.\(format.rawValue)\""]
            ReviewPages.secure(&fields)
            return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        } catch {
            logger.error("dashboard export failed", metadata: ["error": "\(error)"])
            return pages.message(.internalServerError, heading: "Export failed", text: "The monitoring export failed: \(error)", context: context)
        }
    }

    func usersPage(_ context: PageContext, status: HTTPResponse.Status = .ok, error: String? = nil) async -> Response {
        let accounts: [UserAccount]
        do {
            accounts = try await review.store.users()
        } catch {
            return storeFailure(error, context: context)
        }
        var values: [String: Any] = [
            "minPassword": PasswordHashing.minimumLength,
            "accounts": accounts.map { a -> [String: Any] in
                ["name": a.name, "role": a.role.rawValue, "state": a.disabled ? "disabled" : "active",
                 "created": ReviewFormat.dateTime(a.createdAt),
                 "toggleValue": a.disabled ? "false" : "true", "toggleLabel": a.disabled ? "Enable" : "Disable"]
            },
        ]
        if let error { values["error"] = error }
        return pages.render("users", status: status, title: "Users", context: context, values: values)
    }

    func addUser(_ context: PageContext, _ fields: FormFields) async -> Response {
        let name = fields.trimmed("name") ?? ""
        guard AccountName.isValid(name) else {
            return await usersPage(context, status: .badRequest, error: "A name is 1–64 letters, digits, '.', '_' or '-'.")
        }
        guard let role = fields["role"].flatMap(UserRole.init(rawValue:)) else {
            return await usersPage(context, status: .badRequest, error: "The role is reviewer or admin.")
        }
        let hash: String
        do {
            hash = try await PasswordHashing.hash(fields["password"] ?? "")
        } catch {
            return await usersPage(context, status: .badRequest, error: "Password refused: \(error.description).")
        }
        do {
            if try await review.store.user(name: name) != nil {
                return await usersPage(context, status: .conflict, error: "A user with this name exists.")
            }
            _ = try await review.store.addUser(name: name, role: role, passwordHash: hash, actor: context.user.name, now: nil)
        } catch {
            if case .invalidArgument = error {
                return await usersPage(context, status: .conflict, error: "The user could not be added: \(error.description)")
            }
            return storeFailure(error, context: context)
        }
        logger.notice("user added", metadata: ["by": "\(context.user.name)", "role": "\(role.rawValue)"])
        return ReviewPages.redirect(to: "/admin/users")
    }

    func setUserState(_ context: PageContext, _ fields: FormFields) async -> Response {
        let name = fields.trimmed("name") ?? ""
        guard AccountName.isValid(name), let flag = fields["disabled"], flag == "true" || flag == "false" else {
            return await usersPage(context, status: .badRequest, error: "Name a user and whether to disable it.")
        }
        let disable = flag == "true"
        if disable && name == context.user.name {
            return await usersPage(context, status: .badRequest, error: "You cannot disable your own account.")
        }
        do {
            guard try await review.store.user(name: name) != nil else {
                return await usersPage(context, status: .notFound, error: "There is no such user.")
            }
            _ = try await review.store.setUserDisabled(name: name, disabled: disable, actor: context.user.name, now: nil)
        } catch {
            return storeFailure(error, context: context)
        }
        return ReviewPages.redirect(to: "/admin/users")
    }

    func alertsPage(_ context: PageContext) async -> Response {
        let records: [AlertRecord]
        do {
            records = try await review.store.alerts(states: [.open, .acknowledged], limit: 200)
        } catch {
            return storeFailure(error, context: context)
        }
        let values: [String: Any] = [
            "hasRecords": !records.isEmpty,
            "records": records.map { a -> [String: Any] in
                var row: [String: Any] = [
                    "id": a.id, "kind": a.kind, "scope": a.scope, "message": a.message, "state": a.state.rawValue,
                    "value": String(format: "%.4g", a.value), "limit": String(format: "%.4g", a.limit),
                    "opened": ReviewFormat.dateTime(a.openedAt), "updated": ReviewFormat.dateTime(a.updatedAt), "isOpen": a.state == .open,
                ]
                if let by = a.acknowledgedBy { row["acknowledgedBy"] = by }
                if let note = a.note, !note.isEmpty { row["note"] = note }
                return row
            },
        ]
        return pages.render("alerts", title: "Alerts", context: context, values: values)
    }

    func acknowledge(_ id: Int64?, _ context: PageContext, _ fields: FormFields) async -> Response {
        guard let id else { return pages.message(.notFound, heading: "No such alert", text: "There is no alert with this number.", context: context) }
        guard let note = fields.trimmed("note"), note.count <= Self.maxCommentLength else {
            return pages.message(.badRequest, heading: "Note needed",
                                 text: "Acknowledging an alert needs a note (at most \(Self.maxCommentLength) characters) saying what was done.",
                                 context: context, back: "/admin/alerts", backLabel: "Back to the alerts")
        }
        do {
            let alert = try await review.store.acknowledgeAlert(id: id, by: context.user.name, note: note, now: nil)
            logger.notice("alert acknowledged", metadata: ["alert": "\(alert.id)", "kind": "\(alert.kind)", "by": "\(context.user.name)"])
        } catch {
            if case .notFound = error {
                return pages.message(.notFound, heading: "No such alert", text: "There is no alert with this number.", context: context)
            }
            return storeFailure(error, context: context)
        }
        return ReviewPages.redirect(to: "/admin/alerts")
    }
}
