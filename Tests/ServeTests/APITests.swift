import Foundation
import Hummingbird
import HummingbirdTesting
import Report
@testable import Serve
import Store
import Testing
import TestSupport

/// The JSON API: studies, a study, candidates page by page through `?after=` cursors, one
/// candidate, the best-so-far curve, the change mark; bad parameters and unknown names.
@Suite("serve: JSON API")
struct APITests {
    func json(_ r: TestResponse) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(String(buffer: r.body).utf8)) as? [String: Any] ?? [:]
    }

    @Test func candidatesPageThroughCursors() async throws {
        let f = try ServeFixture(candidates: 12)
        let app = Application(router: Dashboard(source: StoreSource(location: f.path), hooks: ServeFixture.hooks).router())
        let name = Links.component(ServeFixture.name)
        try await app.test(.router) { client in
            var seen = [Int64](), after: Int64 = 0, pages = 0
            while pages < 10 {
                let page = try await client.execute(uri: "/api/studies/\(name)/candidates?after=\(after)&limit=5", method: .get) { r in
                    #expect(r.status == .ok && r.headers[.contentType] == "application/json; charset=utf-8")
                    return try json(r)
                }
                pages += 1
                seen += (page["candidates"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value }
                guard let next = (page["next"] as? NSNumber)?.int64Value else { break }
                after = next
            }
            #expect(seen == f.ids && pages == 3, "\(seen) in \(pages) pages")
        }
    }

    @Test func everyRouteAnswersJSON() async throws {
        let f = try ServeFixture()
        let app = Application(router: Dashboard(source: StoreSource(location: f.path), hooks: ServeFixture.hooks).router())
        let name = Links.component(ServeFixture.name)
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/studies", method: .get) { r in
                let studies = try json(r)["studies"] as? [[String: Any]] ?? []
                #expect(studies.map { $0["name"] as? String } == [ServeFixture.name, "control"])
                #expect((studies.first?["done"] as? NSNumber)?.intValue == 7 && (studies.first?["failed"] as? NSNumber)?.intValue == 1)
                #expect((studies.first?["bestId"] as? NSNumber)?.int64Value == f.ids[7])
            }
            try await client.execute(uri: "/api/studies/\(name)", method: .get) { r in
                let answer = try json(r)
                #expect((answer["study"] as? [String: Any])?["name"] as? String == ServeFixture.name)
            }
            try await client.execute(uri: "/api/studies/\(name)/candidates/\(f.ids[6])", method: .get) { r in
                let answer = try json(r)
                #expect((answer["lineage"] as? [NSNumber])?.map(\.int64Value) == [f.ids[0], f.ids[2], f.ids[4], f.ids[6]])
                #expect((answer["evaluations"] as? [Any])?.count == 2)
                #expect(abs(((answer["changeAgainstParent"] as? NSNumber)?.doubleValue ?? 0) + 0.1) < 1e-9)
            }
            try await client.execute(uri: "/api/studies/\(name)/candidates/\(f.ids[3])", method: .get) { r in
                // A NaN loss travels as the string "nan": the JSON stays valid.
                let answer = try json(r)
                let outcome = (answer["candidate"] as? [String: Any])?["outcome"] as? [String: Any]
                #expect(outcome?["fitness"] as? String == "nan")
            }
            try await client.execute(uri: "/api/studies/\(name)/best-so-far", method: .get) { r in
                let points = try json(r)["points"] as? [[NSNumber]] ?? []
                #expect(points.count >= 2 && points.map { $0[1].doubleValue } == points.map { $0[1].doubleValue }.sorted(by: >))
            }
            try await client.execute(uri: "/api/changes", method: .get) { r in
                let mark = try json(r)
                #expect((mark["candidates"] as? NSNumber)?.intValue == 9)
            }
        }
    }

    @Test func badParametersAndUnknownNamesAreErrorsInJSON() async throws {
        let f = try ServeFixture()
        let app = Application(router: Dashboard(source: StoreSource(location: f.path), hooks: ServeFixture.hooks).router())
        let name = Links.component(ServeFixture.name)
        try await app.test(.router) { client in
            for (uri, status, says) in [("/api/studies/\(name)/candidates?after=x", HTTPResponse.Status.badRequest, "after"),
                                        ("/api/studies/\(name)/candidates?limit=0", .badRequest, "limit"),
                                        ("/api/studies/\(name)/candidates?limit=5000", .badRequest, "limit"),
                                        ("/api/studies/nope", .notFound, "no study 'nope'"),
                                        ("/api/studies/nope/candidates", .notFound, "no study"),
                                        ("/api/studies/\(name)/candidates/99999", .notFound, "no candidate #99999"),
                                        ("/api/nothing", .notFound, "no API route")] {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == status, "\(uri): \(r.status)")
                    #expect(r.headers[.contentType] == "application/json; charset=utf-8", "\(uri)")
                    let answer = try json(r)
                    #expect((answer["error"] as? String)?.contains(says) == true, "\(uri): \(String(buffer: r.body))")
                }
            }
        }
    }

    /// The ladder route: every standing at every rung, with its gain over the seed's there;
    /// one rung for a study without a ladder.
    @Test func theLadderAnswersItsStandings() async throws {
        let f = try ServeFixture()
        let promotion = testPromotion(top: 1)
        let climb = try f.store.study(named: "climb", space: "name: climb\n", seed: 3)
        let seed = try f.store.add(Candidate(studyId: climb.id!, program: "p", hash: "S"))
        let child = try f.store.add(Candidate(studyId: climb.id!, program: "p", hash: "B", parentId: seed.id, generation: 1))
        try f.store.complete(seed.id!, lease: nil, Outcome(fitness: 2.0), promoting: promotion)
        try f.store.complete(child.id!, lease: nil, Outcome(fitness: 1.5), promoting: promotion)
        while let job = try f.store.claim(study: climb.id!, worker: testWorker(1)) {
            try f.store.complete(job.id!, lease: job.lease, Outcome(fitness: job.subject == child.id ? 1.7 : (job.seed == 0 ? 1.9 : 1.95)), promoting: promotion)
        }
        let app = Application(router: Dashboard(source: StoreSource(location: f.path), hooks: ServeFixture.hooks).router())
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/studies/climb/ladder", method: .get) { r in
                let answer = try json(r), standings = answer["standings"] as? [[String: Any]] ?? []
                #expect((answer["rungs"] as? NSNumber)?.intValue == 2 && (answer["seed"] as? NSNumber)?.int64Value == seed.id)
                let mine = try #require(standings.first { ($0["subject"] as? NSNumber)?.int64Value == child.id && ($0["rung"] as? NSNumber)?.intValue == 1 })
                #expect(abs(((mine["gain"] as? NSNumber)?.doubleValue ?? 0) - 0.225) < 1e-9 && (mine["reference"] as? Bool) == false, "\(mine)")
                let reference = try #require(standings.first { ($0["subject"] as? NSNumber)?.int64Value == seed.id && ($0["rung"] as? NSNumber)?.intValue == 1 })
                #expect((reference["losses"] as? [NSNumber])?.map(\.doubleValue) == [1.9, 1.95] && (reference["reference"] as? Bool) == true)
            }
            try await client.execute(uri: "/api/studies/\(Links.component(ServeFixture.name))/ladder", method: .get) { r in
                let answer = try json(r), standings = answer["standings"] as? [[String: Any]] ?? []
                #expect((answer["rungs"] as? NSNumber)?.intValue == 1 && standings.count == f.ids.count
                        && standings.allSatisfy { ($0["rung"] as? NSNumber)?.intValue == 0 }, "\(answer)")
            }
            try await client.execute(uri: "/api/studies/nothing/ladder", method: .get) { r in #expect(r.status == .notFound) }
        }
    }
}
