import Foundation
import Hummingbird
import Report
import Store

/// The HTML routes: the studies, a study, a candidate, its downloads, a comparison.
extension Dashboard {
    func addPages(_ router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in
            await self.page(request) { store, mark in
                StudyListPage(location: store.location, studies: try store.studies().map { try StudySummary.read(store, $0) }).html(mark: mark)
            }
        }
        router.get("/study/:name") { request, context in
            let name = try Dashboard.parameter(context, "name")
            return await self.page(request) { store, mark in
                StudyPage(try self.snapshot(store, name), links: .served).html(mark: mark)
            }
        }
        router.get("/study/:name/candidate/:id") { request, context in
            let name = try Dashboard.parameter(context, "name")
            guard let id = context.parameters.get("id", as: Int64.self) else { return Dashboard.notFound("a candidate is named by its number") }
            return await self.page(request) { store, mark in
                let (snapshot, c) = try self.lineage(store, name, id)
                return CandidatePage(snapshot, candidate: c, links: .served).html(mark: mark)
            }
        }
        router.get("/study/:name/candidate/:id/export/:format") { _, context in
            guard let id = context.parameters.get("id", as: Int64.self) else { return Dashboard.notFound("a candidate is named by its number") }
            return try await self.download(try Dashboard.parameter(context, "name"), id, try Dashboard.parameter(context, "format"))
        }
        router.get("/compare") { request, _ in
            let names = Dashboard.query(request, "study")
            return await self.page(request) { store, mark in
                guard !names.isEmpty else { throw NotFound(description: "name the studies to compare: /compare?study=A&study=B") }
                return ComparePage(try names.map { try self.snapshot(store, $0) }).html(mark: mark)
            }
        }
    }

    /// A page drawn over the store at the current mark, or the copy drawn at that mark
    /// already; a 404 page for what is not there, a 503 page (which retries) for a store that cannot be read.
    func page(_ request: Request, _ draw: @escaping @Sendable (Store, String) throws -> String) async -> Response {
        let key = request.uri.string
        do {
            let mark = try await feed.current()
            if let hit = await cache.get(key, at: mark) { return Dashboard.html(hit.status, hit.body) }
            let body = try await source.read { try draw($0, mark.description) }
            await cache.put(key, at: mark, (.ok, body))
            return Dashboard.html(.ok, body)
        } catch let e as NotFound {
            return Dashboard.notFound(e.description)
        } catch {
            let body = "<h1>The store cannot be read</h1>\n<p class=\"down\">\(escape("\(error)"))</p>\n"
                + "<p>This page shows the study again once the store is back.</p>\n"
            return Dashboard.html(.serviceUnavailable, Page.html(title: "evolve · store unavailable", body: body, links: .served, mark: "unavailable"))
        }
    }

    /// A candidate as a file to download: the config `evolve train` retrains, or a PyTorch module.
    func download(_ name: String, _ id: Int64, _ format: String) async throws -> Response {
        guard ["config", "pytorch"].contains(format) else { return Dashboard.notFound("no export format '\(format)' (config or pytorch)") }
        let hooks = self.hooks
        do {
            let (file, text) = try await source.read { store -> (file: String, text: String) in
                guard let study = try store.existingStudy(named: name) else { throw NotFound(description: "no study '\(name)'") }
                guard let c = try store.candidate(id), c.studyId == study.id else { throw NotFound(description: "no candidate #\(id) in study '\(name)'") }
                do { return try hooks.export(store, study, c, format) } catch {
                    throw NotFound(description: "#\(id) cannot be exported: \(error)")
                }
            }
            let safe = String(file.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
            return Response(status: .ok, headers: [.contentType: format == "config" ? "application/yaml; charset=utf-8" : "text/x-python; charset=utf-8",
                                                   .contentDisposition: "attachment; filename=\"\(safe)\""],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        } catch let e as NotFound {
            return Dashboard.notFound(e.description)
        }
    }

    /// The study named `name`, read whole.
    func snapshot(_ store: Store, _ name: String) throws -> StudySnapshot {
        guard let study = try store.existingStudy(named: name) else { throw NotFound(description: "no study '\(name)'") }
        return try StudySnapshot.read(store, study: study, population: hooks.population(study))
    }

    /// What a candidate's page draws: its lineage (and the twins whose results they took), with their bands.
    func lineage(_ store: Store, _ name: String, _ id: Int64) throws -> (StudySnapshot, Candidate) {
        guard let study = try store.existingStudy(named: name) else { throw NotFound(description: "no study '\(name)'") }
        guard let c = try store.candidate(id), c.studyId == study.id else { throw NotFound(description: "no candidate #\(id) in study '\(name)'") }
        var members = try store.lineage(id)
        // The twins whose results they took, and the study's first seed: the ladder's reference.
        let first = try store.candidates(study: study.id!, after: 0, limit: 1).first?.id
        members += try Set(members.compactMap(\.reusedFrom) + (first.map { [$0] } ?? [])).subtracting(members.map(\.id!))
            .compactMap { try store.candidate($0) }
        var bands = [Int64: [Evaluation]]()
        for m in members { bands[m.id!] = try store.evaluations(m.id!) }
        return (StudySnapshot(study: study, location: store.location, candidates: members, evaluations: bands,
                              population: hooks.population(study), jobs: try store.rungJobs(study: study.id!)), c)
    }

    static func html(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func notFound(_ why: String) -> Response {
        html(.notFound, Page.html(title: "evolve · not found", body: "<h1>Not found</h1>\n<p>\(escape(why))</p>\n", links: .served))
    }

    /// A path parameter, percent-decoded.
    static func parameter(_ context: BasicRequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name), let text = raw.removingPercentEncoding else {
            throw HTTPError(.badRequest, message: "\(name): not valid percent-encoding")
        }
        return text
    }

    /// Every value of a query parameter, decoded as a form sends it ('+' is a space).
    static func query(_ request: Request, _ key: String) -> [String] {
        (request.uri.query ?? "").split(separator: "&").compactMap { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, kv[0] == key else { return nil }
            return kv[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
    }
}
