import Foundation
import Hummingbird
import Logging
import Report
import Store

/// `evolve serve`: the studies of one store as live pages and a JSON API, read-only. Pages
/// are the Report module's views (the ones `evolve report` writes); a page drawn at a change
/// mark is kept and served again until the mark moves, so many viewers of one study cost one
/// drawing per change, and one poll of the mark (`ChangeFeed`) serves all of them.
public struct Dashboard: Sendable {
    /// What the server needs from the layers above it: a study's population size (its
    /// space's P) and a candidate exported as a file (the config `evolve train` reads, or a
    /// PyTorch module): `(file name, text)`.
    public struct Hooks: Sendable {
        public var population: @Sendable (Study) -> Int
        public var export: @Sendable (Store, Study, Candidate, String) throws -> (file: String, text: String)

        public init(population: @escaping @Sendable (Study) -> Int = { _ in 100 },
                    export: @escaping @Sendable (Store, Study, Candidate, String) throws -> (file: String, text: String) = { _, _, c, f in
                        throw NotFound(description: "no \(f) export for #\(c.id ?? 0) here")
                    }) {
            self.population = population; self.export = export
        }
    }

    public let source: StoreSource
    public let feed: ChangeFeed
    public let hooks: Hooks
    let cache = PageCache()

    public init(source: StoreSource, hooks: Hooks = Hooks(), fastest: Double = 1, slowest: Double = 8) {
        self.source = source; self.hooks = hooks
        feed = ChangeFeed(source: source, fastest: fastest, slowest: slowest)
    }

    /// The router with every route: pages, downloads, events, assets and the API.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: SecurityHeaders())
        addPages(router)
        addAPI(router)
        router.get("/events") { _, _ in self.events() }
        router.get("/assets/:file") { _, context in try Assets.response(context.parameters.get("file") ?? "") }
        router.get("**") { request, _ in Dashboard.notFound("no page at \(request.uri.path)") }
        return router
    }

    /// The application, listening on `host:port`; `onRunning` is told the port it got (0 picks one).
    public func application(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        var logger = Logger(label: "evolve.serve")
        logger.logLevel = .warning
        return Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "evolve"),
                           onServerRunning: { await onRunning($0.localAddress?.port ?? port) }, logger: logger)
    }

    /// Server-Sent Events: the store's mark whenever it moves, or why it cannot be read.
    func events() -> Response {
        let feed = self.feed
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            for await event in await feed.subscribe() { try await writer.write(ByteBuffer(string: event.text)) }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }
}

/// Every response says what it is and runs no script but the dashboard's own: a name that
/// slipped through escaping still could not run.
struct SecurityHeaders: RouterMiddleware {
    func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("Content-Security-Policy")!] = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        return response
    }
}

/// Pages drawn at a change mark, by path and query: served again until the mark moves.
actor PageCache {
    private var pages: [String: (mark: ChangeMark, response: (status: HTTPResponse.Status, body: String))] = [:]

    func get(_ key: String, at mark: ChangeMark) -> (status: HTTPResponse.Status, body: String)? {
        pages[key].flatMap { $0.mark == mark ? $0.response : nil }
    }

    func put(_ key: String, at mark: ChangeMark, _ response: (status: HTTPResponse.Status, body: String)) {
        if pages.count >= 256 { pages.removeAll() }
        pages[key] = (mark, response)
    }
}
