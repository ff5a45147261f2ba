import Foundation
import Hummingbird
import Report
import Store

/// The JSON API behind the pages (README: "The dashboard's JSON API"). Lists page by id with
/// `?after=ID&limit=N` and answer the cursor of the next page (`next`, null at the end).
extension Dashboard {
    func addAPI(_ router: Router<BasicRequestContext>) {
        router.get("/api/changes") { _, _ in await self.json { try $0.changes() } }
        router.get("/api/feed") { _, _ in
            let (listening, polls) = (await self.feed.listening, await self.feed.polls)
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "{\"listening\":\(listening),\"polls\":\(polls)}")))
        }
        router.get("/api/studies") { _, _ in
            await self.json { store in Studies(mark: try store.changes(), studies: try store.studies().map { try StudySummary.read(store, $0) }) }
        }
        router.get("/api/studies/:name") { _, context in
            let name = try Dashboard.parameter(context, "name")
            return await self.json { store in
                let study = try Dashboard.study(store, name)
                return StudyAnswer(study: study, summary: try StudySummary.read(store, study))
            }
        }
        router.get("/api/studies/:name/candidates") { request, context in
            let name = try Dashboard.parameter(context, "name")
            let after = Dashboard.query(request, "after").first ?? "0", limit = Dashboard.query(request, "limit").first ?? "100"
            guard let from = Int64(after), from >= 0 else { return Dashboard.error(.badRequest, "after: '\(after)' is not a candidate id (an integer ≥ 0)") }
            guard let n = Int(limit), (1...1000).contains(n) else { return Dashboard.error(.badRequest, "limit: '\(limit)' is not a number from 1 to 1000") }
            return await self.json { store in
                let page = try store.candidates(study: try Dashboard.study(store, name).id!, after: from, limit: n)
                return CandidateList(candidates: page, next: page.count == n ? page.last?.id : nil)
            }
        }
        router.get("/api/studies/:name/candidates/:id") { _, context in
            let name = try Dashboard.parameter(context, "name")
            guard let id = context.parameters.get("id", as: Int64.self) else { return Dashboard.error(.notFound, "a candidate is named by its number") }
            return await self.json { store in
                let (snapshot, c) = try self.lineage(store, name, id)
                return CandidateAnswer(candidate: c, evaluations: snapshot.bands(c), lineage: snapshot.lineage(id).map { $0.id! },
                                       changeAgainstParent: snapshot.changeAgainstParent(c))
            }
        }
        router.get("/api/studies/:name/best-so-far") { _, context in
            let name = try Dashboard.parameter(context, "name")
            return await self.json { store in
                let s = try self.snapshot(store, name)
                return Curve(study: name, points: s.bestSoFar.map { [$0.x, $0.y] })
            }
        }
        router.get("/api/studies/:name/ladder") { _, context in
            let name = try Dashboard.parameter(context, "name")
            return await self.json { store in
                let ladder = try store.ladder(study: try Dashboard.study(store, name).id!)
                let standings = ladder.standings.sorted { $0.key < $1.key }.flatMap { subject, byRung in
                    byRung.values.sorted { $0.rung < $1.rung }.map { s in
                        RungStanding(subject: subject, rung: s.rung, losses: s.losses, loss: s.loss, spread: s.spread, bitsPerByte: s.bitsPerByte,
                                     gain: ladder.gain(subject, rung: s.rung), jobs: s.jobs, reference: s.isReference)
                    }
                }
                return LadderAnswer(study: name, rungs: ladder.rungs, seed: ladder.seed, standings: standings)
            }
        }
        router.get("/api/**") { request, _ in Dashboard.error(.notFound, "no API route \(request.uri.path)") }
    }

    /// `read`'s answer as JSON; 404 and 503 as `{"error": …}`.
    func json<T: Encodable & Sendable>(_ read: @escaping @Sendable (Store) throws -> T) async -> Response {
        do {
            let value = try await source.read(read)
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try Dashboard.encoder.encode(value))))
        } catch let e as NotFound {
            return Dashboard.error(.notFound, e.description)
        } catch {
            return Dashboard.error(.serviceUnavailable, "\(error)")
        }
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let data = (try? encoder.encode(["error": message])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func study(_ store: Store, _ name: String) throws -> Study {
        guard let s = try store.existingStudy(named: name) else { throw NotFound(description: "no study '\(name)'") }
        return s
    }

    /// Dates as ISO 8601; losses that are not finite as the strings "inf", "-inf", "nan".
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    struct Studies: Encodable, Sendable { let mark: ChangeMark, studies: [StudySummary] }
    struct StudyAnswer: Encodable, Sendable { let study: Study, summary: StudySummary }
    struct CandidateList: Encodable, Sendable { let candidates: [Candidate], next: Int64? }
    struct CandidateAnswer: Encodable, Sendable {
        let candidate: Candidate, evaluations: [Evaluation], lineage: [Int64], changeAgainstParent: Double?
    }
    struct Curve: Encodable, Sendable { let study: String, points: [[Double]] }
    struct LadderAnswer: Encodable, Sendable { let study: String, rungs: Int, seed: Int64?, standings: [RungStanding] }
    struct RungStanding: Encodable, Sendable {
        let subject: Int64, rung: Int, losses: [Double], loss: Double, spread: Double, bitsPerByte: Double?, gain: Double?
        let jobs: [Int64], reference: Bool
    }
}
