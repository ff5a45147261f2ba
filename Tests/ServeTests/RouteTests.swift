import Foundation
import Hummingbird
import HummingbirdTesting
import Report
@testable import Serve
import Store
import Testing
import TestSupport

/// Every route over HTTP, in process: status, content type, escaping, 404s, traversal, and a
/// store that is never written.
@Suite("serve: routes")
struct RouteTests {
    func app(_ f: ServeFixture) -> some ApplicationProtocol {
        Application(router: Dashboard(source: StoreSource(location: f.path), hooks: ServeFixture.hooks).router())
    }

    var studyPath: String { "/study/" + Links.component(ServeFixture.name) }

    @Test func pagesAreHTMLWithEveryNameEscaped() async throws {
        let f = try ServeFixture()
        let before = try f.fingerprint()
        try await app(f).test(.router) { client in
            for uri in ["/", studyPath, "\(studyPath)/candidate/\(f.ids[5])", "\(studyPath)/candidate/\(f.ids[3])",
                        "/compare?study=\(Links.component(ServeFixture.name))&study=control"] {
                try await client.execute(uri: uri, method: .get) { r in
                    let body = String(buffer: r.body)
                    #expect(r.status == .ok, "\(uri)")
                    #expect(r.headers[.contentType] == "text/html; charset=utf-8", "\(uri)")
                    #expect(r.headers.first { $0.name.canonicalName == "content-security-policy" }?.value.contains("default-src 'self'") == true)
                    // The study's name is a script tag, the failure's reason an <img onerror>: both only as text.
                    #expect(!body.contains("<script>alert") && !body.contains("<img") && !body.contains("<b>"), "\(uri)")
                    #expect(body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"), "\(uri)")
                    // The only script is the dashboard's own.
                    #expect(body.components(separatedBy: "<script").count - 1 == 1, "\(uri)")
                }
            }
            try await client.execute(uri: studyPath, method: .get) { r in
                let body = String(buffer: r.body)
                #expect(body.contains("s9 &lt;img src=x onerror=alert(1)&gt;"))            // the failure's reason, as text
                #expect(body.contains("insert &lt;b&gt;7&lt;/b&gt;"))
                #expect(body.components(separatedBy: "<svg").count - 1 >= 3)
                #expect(body.contains("href=\"\(studyPath)/candidate/\(f.ids[7])\""))    // the best, linked
            }
            try await client.execute(uri: "\(studyPath)/candidate/\(f.ids[6])", method: .get) { r in
                let body = String(buffer: r.body)
                #expect(body.contains("The block against its parent") && body.contains("class=\"node added\""))
                #expect(body.contains("/export/config\" download") && body.contains("/export/pytorch\" download"))
            }
        }
        #expect(try f.fingerprint() == before, "the server wrote to the store")
    }

    @Test func unknownThingsAre404Pages() async throws {
        let f = try ServeFixture()
        let otherStudys = try ServeFixture.complete(f.store, study: f.other, program: try TestSupport.seed("vanilla"), loss: 3, number: 1)
        try await app(f).test(.router) { client in
            for uri in ["/study/nope", "\(studyPath)/candidate/999999", "\(studyPath)/candidate/\(otherStudys)", "\(studyPath)/candidate/abc",
                        "/compare?study=nope", "/compare", "/nothing/here", "\(studyPath)/candidate/\(f.ids[6])/export/shell",
                        "/study/%3Cscript%3E"] {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .notFound, "\(uri): \(r.status)")
                    #expect(r.headers[.contentType] == "text/html; charset=utf-8", "\(uri)")
                    #expect(String(buffer: r.body).contains("<h1>Not found</h1>") && !String(buffer: r.body).contains("<script>"), "\(uri)")
                }
            }
        }
    }

    @Test func onlyTheAssetsAreServed() async throws {
        let f = try ServeFixture()
        try await app(f).test(.router) { client in
            try await client.execute(uri: "/assets/live.js", method: .get) { r in
                #expect(r.status == .ok && r.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(String(buffer: r.body).contains("EventSource"))
            }
            for uri in ["/assets/../Package.swift", "/assets/%2e%2e/Package.swift", "/assets/..%2fPackage.swift", "/assets/%2e%2e%2fPackage.swift",
                        "/assets/..%5cPackage.swift", "/../Package.swift", "/%2e%2e/%2e%2e/etc/passwd", "/assets/%252e%252e%252fPackage.swift",
                        "/assets//etc/passwd", "/assets/live.js/../../Package.swift", "/study/..%2f..%2fPackage.swift", "/assets/"] {
                try await client.execute(uri: uri, method: .get) { r in
                    let body = String(buffer: r.body)
                    #expect(r.status == .notFound, "\(uri): \(r.status)")
                    #expect(!body.contains("PackageDescription") && !body.contains("root:"), "\(uri)")
                }
            }
        }
    }

    @Test func downloadsComeAsAttachments() async throws {
        let f = try ServeFixture()
        try await app(f).test(.router) { client in
            try await client.execute(uri: "\(studyPath)/candidate/\(f.ids[6])/export/config", method: .get) { r in
                #expect(r.status == .ok && r.headers[.contentType] == "application/yaml; charset=utf-8")
                let disposition = r.headers[.contentDisposition] ?? ""
                #expect(disposition.hasPrefix("attachment; filename=\"") && !disposition.contains("<") && !disposition.contains("'"), "\(disposition)")
                #expect(String(buffer: r.body) == "# config of #\(f.ids[6])\n")
            }
            try await client.execute(uri: "\(studyPath)/candidate/\(f.ids[6])/export/pytorch", method: .get) { r in
                #expect(r.status == .ok && r.headers[.contentType] == "text/x-python; charset=utf-8")
            }
        }
    }

    /// The store moved away: the page says so (503) instead of failing; back, the page is back.
    @Test func aStoreThatDisappearsIsSaidAndRecovered() async throws {
        let f = try ServeFixture()
        try f.store.database.read { _ in }       // nothing pending in the WAL for the move
        try await app(f).test(.router) { client in
            try await client.execute(uri: studyPath, method: .get) { #expect($0.status == .ok) }
            let aside = f.path + ".aside"
            try FileManager.default.moveItem(atPath: f.path, toPath: aside)
            try await client.execute(uri: studyPath, method: .get) { r in
                #expect(r.status == .serviceUnavailable)
                #expect(String(buffer: r.body).contains("The store cannot be read") && String(buffer: r.body).contains("no such database"))
            }
            try await client.execute(uri: "/api/studies", method: .get) { #expect($0.status == .serviceUnavailable) }
            try FileManager.default.moveItem(atPath: aside, toPath: f.path)
            try await client.execute(uri: studyPath, method: .get) { r in
                #expect(r.status == .ok && String(buffer: r.body).contains("Latest candidates"))
            }
        }
    }

    /// SQLite and PostgreSQL (where $EVOLVE_TEST_POSTGRES names a server) serve the same pages.
    @Test(arguments: Engine.all) func everyEngineServesTheStudy(engine: Engine) async throws {
        let f = try ServeFixture(engine: engine)
        try await app(f).test(.router) { client in
            for uri in [studyPath, "\(studyPath)/candidate/\(f.ids[7])", "/api/studies/\(Links.component(ServeFixture.name))/candidates?limit=3"] {
                try await client.execute(uri: uri, method: .get) { r in #expect(r.status == .ok, "\(engine) \(uri): \(r.status)") }
            }
        }
    }

    /// A connection that fails (a PostgreSQL server that restarted) is dropped: the read says
    /// the store is unavailable, and the next one opens it again.
    @Test func aFailedConnectionIsOpenedAgain() async throws {
        let f = try ServeFixture()
        let state = OpenState()
        let source = StoreSource(location: "postgres://restarting/db") { _ in
            try state.open { try openStore(f.path, readOnly: true) }
        }
        #expect(try await source.read { try $0.studies().count } == 2 && state.opens == 1)
        await #expect(throws: Unavailable.self) { try await source.read { _ in throw StoreError(description: "connection reset") } }
        state.down = true
        await #expect(throws: Unavailable.self) { try await source.read { try $0.studies().count } }
        state.down = false
        #expect(try await source.read { try $0.studies().count } == 2 && state.opens == 3)
    }
}

/// Opens a store unless `down`, counting the opens.
final class OpenState: @unchecked Sendable {
    var opens = 0, down = false
    func open(_ make: () throws -> Store) throws -> Store {
        opens += 1
        if down { throw StoreError(description: "connection refused") }
        return try make()
    }
}
