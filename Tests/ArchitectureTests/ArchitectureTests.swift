import Foundation
import XCTest

/// Keeps docs/ARCHITECTURE.md, Package.swift and the `import` lines of every Swift file in step: the
/// dependency table in the document is the one-way graph the targets may use. A target that imports a
/// module its row does not list, a dependency Package.swift declares that the row does not list (or the
/// other way round), a library target that lists a dependency it never imports, or a target missing from
/// either side fails here, naming the target and the module.
final class ArchitectureTests: XCTestCase {
    /// The package root, three levels above this file (Tests/ArchitectureTests/ArchitectureTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testDocumentPackageAndImportsAgree() throws {
        let package = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let document = try String(contentsOf: Self.root.appendingPathComponent("docs/ARCHITECTURE.md"), encoding: .utf8)
        let declared = try PackageManifest(text: package)
        let table = try DependencyTable(markdown: document)
        var problems: [String] = []

        for name in Set(declared.targets.keys).subtracting(table.rows.keys).sorted() {
            problems.append("Package.swift declares target \(name), which docs/ARCHITECTURE.md does not list")
        }
        for name in Set(table.rows.keys).subtracting(declared.targets.keys).sorted() {
            problems.append("docs/ARCHITECTURE.md lists target \(name), which Package.swift does not declare")
        }
        let projectModules = Set(declared.targets.keys).union(declared.products)
        for (name, target) in declared.targets.sorted(by: { $0.key < $1.key }) {
            guard let listed = table.rows[name] else { continue }
            for dep in target.dependencies.subtracting(listed).sorted() {
                problems.append("Package.swift: \(name) depends on \(dep), which docs/ARCHITECTURE.md does not list for it")
            }
            for dep in listed.subtracting(target.dependencies).sorted() {
                problems.append("docs/ARCHITECTURE.md: \(name) depends on \(dep), which Package.swift does not declare for it")
            }
            let imports = try Self.imports(under: Self.root.appendingPathComponent(target.path))
            let used = Set(imports.keys).intersection(projectModules).subtracting([name])
            for module in used.subtracting(listed).sorted() {
                problems.append("\(imports[module] ?? name) imports \(module), which docs/ARCHITECTURE.md does not list as a dependency of \(name)")
            }
            // A library's row shows what it uses: a dependency no file imports is a stale edge. (C targets have
            // no Swift files, and test targets may lean on a module's products without importing it.)
            if target.kind == .library, !imports.isEmpty {
                for dep in listed.subtracting(imports.keys).sorted() {
                    problems.append("\(name) lists \(dep) as a dependency but no file of it imports \(dep)")
                }
            }
        }
        // One way: every dependency is a row above (or a product of another package).
        for (index, name) in table.order.enumerated() {
            for dep in table.rows[name, default: []] where !declared.products.contains(dep) {
                if !table.order[..<index].contains(dep) {
                    problems.append("docs/ARCHITECTURE.md: \(name) depends on \(dep), which is not a row above it")
                }
            }
        }
        XCTAssertTrue(problems.isEmpty, "\n" + problems.joined(separator: "\n"))
        XCTAssertGreaterThan(declared.targets.count, 10, "the manifest parser found too few targets")
    }

    /// The parser itself: a declared dependency missing from the table and an unlisted import are reported.
    func testParsersReadTheirFormats() throws {
        let manifest = try PackageManifest(text: """
            targets: [
                .target(name: "A"),
                .target(name: "B", dependencies: ["A", .product(name: "Crypto", package: "swift-crypto")]),
                .executableTarget(
                    name: "tool",
                    dependencies: ["B"]
                ),
                .testTarget(name: "BTests", dependencies: ["B"]),
                .target(name: "Helpers", path: "Tests/Helpers"),
            ]
            """)
        XCTAssertEqual(manifest.targets["B"]?.dependencies, ["A", "Crypto"])
        XCTAssertEqual(manifest.targets["tool"]?.dependencies, ["B"])
        XCTAssertEqual(manifest.targets["tool"]?.path, "Sources/tool")
        XCTAssertEqual(manifest.targets["BTests"]?.path, "Tests/BTests")
        XCTAssertEqual(manifest.targets["Helpers"]?.path, "Tests/Helpers")
        XCTAssertEqual(manifest.targets["A"]?.dependencies, [])
        XCTAssertEqual(manifest.products, ["Crypto"])

        let table = try DependencyTable(markdown: """
            ## Targets and dependencies

            | Target | Depends on | Where |
            |---|---|---|
            | `A` | — | a |
            | `B` | `A`, `Crypto` | b |

            ## Next
            | `C` | `A` | not part of the table |
            """)
        XCTAssertEqual(table.rows, ["A": [], "B": ["A", "Crypto"]])
        XCTAssertEqual(table.order, ["A", "B"])

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("Sub"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "import Foundation\n@testable import B\n  @_exported import A\nimport struct C.Thing\n// import D\nlet s = \"import E\"\n"
            .write(to: dir.appendingPathComponent("Sub/F.swift"), atomically: true, encoding: .utf8)
        XCTAssertEqual(Set(try Self.imports(under: dir).keys), ["Foundation", "B", "A", "C"])
    }

    /// Modules imported by the Swift files under `dir`, each with the first file (relative path) that does.
    static func imports(under dir: URL) throws -> [String: String] {
        var out: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil) else { return out }
        let kinds: Set<String> = ["struct", "class", "enum", "protocol", "typealias", "func", "let", "var"]
        for case let url as URL in walker where url.pathExtension == "swift" {
            for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
                var words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                while let first = words.first, first.hasPrefix("@") { words.removeFirst() }
                guard words.first == "import", words.count >= 2 else { continue }
                var module = words[1]
                if kinds.contains(module), words.count >= 3 { module = words[2] }
                module = String(module.split(separator: ".").first ?? "")
                guard !module.isEmpty else { continue }
                let relative = url.path.replacingOccurrences(of: root.path + "/", with: "")
                if out[module] == nil { out[module] = relative }
            }
        }
        return out
    }
}

/// The targets of Package.swift with their declared dependencies and source folders.
struct PackageManifest {
    enum Kind { case library, executable, test, other }

    struct Target {
        var kind: Kind
        var path: String
        var dependencies: Set<String>
    }

    var targets: [String: Target] = [:]
    /// Products of package dependencies (`.product(name: …)`).
    var products: Set<String> = []

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    init(text: String) throws {
        let chars = Array(text)
        let openers: [(String, Kind)] = [(".target(", .library), (".executableTarget(", .executable),
                                         (".testTarget(", .test), (".systemLibrary(", .other), (".binaryTarget(", .other)]
        var i = 0
        while i < chars.count {
            guard let (opener, kind) = openers.first(where: { Self.matches(chars, at: i, $0.0) }) else { i += 1; continue }
            let start = i + opener.count
            var depth = 1, j = start
            while j < chars.count, depth > 0 {
                if chars[j] == "(" || chars[j] == "[" { depth += 1 }
                if chars[j] == ")" || chars[j] == "]" { depth -= 1 }
                j += 1
            }
            let body = String(chars[start..<max(start, j - 1)])
            i = j
            // `.target(name:` inside a dependency list has no body of its own worth reading.
            guard let name = Self.firstString(after: "name:", in: body) else { continue }
            let base = kind == .test ? "Tests/" : "Sources/"
            let path = Self.firstString(after: "path:", in: body) ?? base + name
            var deps: Set<String> = []
            if let r = body.range(of: "dependencies:") {
                let rest = Array(body[r.upperBound...])
                guard let open = rest.firstIndex(of: "[") else { throw ParseError(description: "\(name): dependencies without a list") }
                var d = 1, k = open + 1
                while k < rest.count, d > 0 {
                    if rest[k] == "[" { d += 1 }
                    if rest[k] == "]" { d -= 1 }
                    k += 1
                }
                var list = String(rest[(open + 1)..<max(open + 1, k - 1)])
                // Products name their package too; only the product is a module.
                while let p = list.range(of: #"package:\s*"[^"]*""#, options: .regularExpression) { list.removeSubrange(p) }
                for m in list.matches(of: /"([^"]+)"/) { deps.insert(String(m.1)) }
                for m in body.matches(of: /\.product\(\s*name:\s*"([^"]+)"/) { products.insert(String(m.1)) }
            }
            targets[name] = Target(kind: kind, path: path, dependencies: deps)
        }
    }

    static func matches(_ chars: [Character], at i: Int, _ s: String) -> Bool {
        var k = i
        for c in s {
            guard k < chars.count, chars[k] == c else { return false }
            k += 1
        }
        return true
    }

    static func firstString(after label: String, in body: String) -> String? {
        guard let r = body.range(of: label) else { return nil }
        let rest = body[r.upperBound...]
        // The label must be this call's own argument, not one inside a nested call before it.
        guard let m = rest.firstMatch(of: /^\s*"([^"]+)"/) else { return nil }
        return String(m.1)
    }
}

/// The "Targets and dependencies" table of docs/ARCHITECTURE.md: `| Target | Depends on | … |` rows.
struct DependencyTable {
    var rows: [String: Set<String>] = [:]
    /// Target names in the order of the rows.
    var order: [String] = []

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    init(markdown: String) throws {
        var inSection = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") {
                inSection = line.lowercased().contains("targets and dependencies")
                continue
            }
            guard inSection, line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count >= 2 else { continue }
            let name = cells[0].replacingOccurrences(of: "`", with: "")
            guard !name.isEmpty, name != "Target", !name.allSatisfy({ $0 == "-" || $0 == ":" }) else { continue }
            let deps = cells[1].split(separator: ",").map {
                $0.replacingOccurrences(of: "`", with: "").trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty && $0 != "—" && $0 != "-" }
            if rows[name] != nil { throw ParseError(description: "docs/ARCHITECTURE.md lists \(name) twice") }
            rows[name] = Set(deps)
            order.append(name)
        }
        if rows.isEmpty { throw ParseError(description: "docs/ARCHITECTURE.md has no \"Targets and dependencies\" table") }
    }
}
