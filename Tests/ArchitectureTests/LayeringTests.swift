import Foundation
import Testing
import TestSupport

/// The arrows between modules are the ones Package.swift declares and docs/architecture.md
/// draws: no source file imports a module of ours that its module does not declare, and the
/// table in the docs lists exactly the declared dependencies.
@Suite("layering")
struct LayeringTests {
    /// Our Swift modules: the folders of Sources/ that hold Swift files (not the C ones:
    /// CBLAS, the system library, and CGemm, the GEMM kernel, which import nothing of ours).
    static let modules: Set<String> = Set(
        ((try? FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("Sources").path)) ?? [])
            .filter { swiftFiles(in: $0).count > 0 })

    static func swiftFiles(in module: String) -> [String] {
        let dir = packageRoot.appendingPathComponent("Sources/\(module)")
        return (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".swift") }
    }

    /// Module → the modules of ours it declares, read from Package.swift.
    static func declared() throws -> [String: Set<String>] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        var out = [String: Set<String>]()
        for part in text.components(separatedBy: ".target(name: \"").dropFirst()
            + text.components(separatedBy: ".executableTarget(\n            name: \"").dropFirst() {
            let name = String(part.prefix { $0 != "\"" })
            guard modules.contains(name) else { continue }
            let body = part.components(separatedBy: "]").first ?? ""
            // The part begins inside the name's quotes: quoted strings sit at the even places after it.
            let quoted = body.components(separatedBy: "\"").enumerated().filter { $0.offset % 2 == 0 && $0.offset > 0 }.map(\.element)
            out[name] = Set(quoted.filter { modules.contains($0) && $0 != name })
        }
        return out
    }

    @Test func importsAreDeclared() throws {
        let declared = try Self.declared()
        #expect(Set(declared.keys) == Self.modules, "Package.swift declares \(declared.keys.sorted()), Sources has \(Self.modules.sorted())")
        for module in Self.modules.sorted() {
            let dir = packageRoot.appendingPathComponent("Sources/\(module)")
            // Every file, in subfolders too (Tensor/Kernels, Store/SQLite, …).
            for file in Self.swiftFiles(in: module) {
                let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") where line.hasPrefix("import ") {
                    let imported = String(line.dropFirst("import ".count)).trimmingCharacters(in: .whitespaces)
                    guard Self.modules.contains(imported) else { continue }
                    #expect(declared[module, default: []].contains(imported), "\(module)/\(file) imports \(imported), which \(module) does not declare")
                }
            }
        }
    }

    @Test func docsDrawTheDeclaredArrows() throws {
        let declared = try Self.declared()
        let docs = try String(contentsOf: packageRoot.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        var drawn = [String: Set<String>]()
        for line in docs.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2, Self.modules.contains(cells[0]) else { continue }
            drawn[cells[0]] = cells[1] == "every module above" ? Self.modules.subtracting([cells[0]])
                : Set(cells[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { Self.modules.contains($0) })
        }
        #expect(Set(drawn.keys) == Self.modules, "the docs' table lists \(drawn.keys.sorted())")
        for module in Self.modules.sorted() {
            #expect(drawn[module] == declared[module], "\(module): docs draw \(drawn[module]?.sorted() ?? []), Package.swift declares \(declared[module]?.sorted() ?? [])")
        }
    }
}

@Suite("the dashboard reads only")
struct ServeLayeringTests {
    /// The server sits on the views and the store alone: no module that trains, searches or
    /// writes files of its own is within its reach (exports come from the command, as hooks).
    @Test func serveDeclaresOnlyTheViewsAndTheStore() throws {
        #expect(try LayeringTests.declared()["Serve"] == ["Report", "Store", "Program"])
    }
}
