import Foundation
import Testing
@testable import Store
import TestSupport

/// The ladder's promotion rule, on every engine: candidates and rung jobs completed through
/// the store with chosen losses, and exactly the rung jobs the rule names are queued.
@Suite("ladder store")
struct LadderStoreTests {
    /// Nothing climbs past rung 2.
    static let promotion = testPromotion(top: 2)

    /// The rung jobs of a study as "subject/rung/kind", in the order queued.
    func queued(_ store: SQLStore, _ study: Int64, _ names: [Int64: String]) throws -> [String] {
        try store.rungJobs(study: study).map { "\(names[$0.subject!]!)/\($0.rung)/\($0.mutationKind!)" }
    }

    @Test(arguments: Engine.all) func promotionFollowsTheRule(_ engine: Engine) throws {
        let store = try openStore(try temporaryDatabase(engine))
        let s = try store.study(named: "ladder", space: "", seed: 0)
        var names = [Int64: String]()
        func candidate(_ name: String, seed: Bool = false) throws -> Candidate {
            var c = Candidate(studyId: s.id!, program: "p", hash: name, parentId: nil, generation: seed ? 0 : 1)
            if !seed { c.parentId = names.first { $0.value == "S" }?.key }
            c = try store.add(c)
            names[c.id!] = name
            return c
        }
        func finish(_ c: Candidate, _ loss: Double, twin: Int64? = nil) throws {
            var o = Outcome(fitness: loss, failure: loss.isFinite ? nil : Failure(.diverged, "test"))
            o.reusedFrom = twin
            #expect(try store.complete(c.id!, lease: nil, o, promoting: Self.promotion))
        }
        let seed = try candidate("S", seed: true), a = try candidate("A"), b = try candidate("B"), c = try candidate("C")
        let d = try candidate("D"), e = try candidate("E")
        try finish(seed, 2.0)              // n=1, top 1: the seed climbs, as its two reference jobs
        #expect(try queued(store, s.id!, names) == ["S/1/reference", "S/1/reference"])
        try finish(a, 2.5)                 // n=2, top 1: the seed, which has its jobs
        try finish(b, 1.5)                 // n=3, top 2: B and the seed: B climbs
        try finish(c, .infinity)           // n=4, top 2: B and the seed (a failure counts, as the worst)
        try finish(d, 1.8)                 // n=5, top 3: B, D, the seed: D climbs
        try finish(e, 1.5, twin: b.id)     // B's twin: not a subject of its own
        #expect(try queued(store, s.id!, names) == ["S/1/reference", "S/1/reference", "B/1/promote", "D/1/promote"])
        #expect(try store.counts(study: s.id!) == Counts(queued: 0, running: 0, done: 5, failed: 1))
        #expect(try store.countsByRung(study: s.id!) == [Counts(done: 5, failed: 1), Counts(queued: 4)])

        // Rung 1: the jobs claimed like any candidate, in the order queued, and completed.
        var jobs = [String: [Candidate]]()
        while let job = try store.claim(study: s.id!, worker: testWorker(1)) { jobs[names[job.subject!]!, default: []].append(job) }
        #expect(jobs.mapValues(\.count) == ["S": 2, "B": 1, "D": 1])
        try store.complete(jobs["D"]![0].id!, lease: jobs["D"]![0].lease, Outcome(fitness: 1.6), promoting: Self.promotion)
        // n=1 (D; the seed counts once both its reference jobs are in): D climbs, and the seed's references at rung 2 come first.
        #expect(try queued(store, s.id!, names).suffix(3) == ["S/2/reference", "S/2/reference", "D/2/promote"])
        for (job, loss) in zip(jobs["S"]!, [1.9, 1.95]) {
            try store.complete(job.id!, lease: job.lease, Outcome(fitness: loss), promoting: Self.promotion)
        }
        try store.complete(jobs["B"]![0].id!, lease: jobs["B"]![0].lease, Outcome(fitness: 1.7), promoting: Self.promotion)
        // n=3 (D 1.6, B 1.7, the seed 1.925), top 2: B climbs.
        #expect(try queued(store, s.id!, names).suffix(4) == ["S/2/reference", "S/2/reference", "D/2/promote", "B/2/promote"])
        // The top rung sends nothing further.
        for job in try store.rungJobs(study: s.id!) where job.rung == 2 {
            let claimed = try #require(try store.claim(study: s.id!, worker: testWorker(2)))
            #expect(claimed.id == job.id)
            try store.complete(job.id!, lease: claimed.lease, Outcome(fitness: 1.5), promoting: Self.promotion)
        }
        #expect(try store.rungJobs(study: s.id!).count == 8)
        #expect(try store.countsByRung(study: s.id!).map { $0.done + $0.failed } == [6, 4, 4])

        // Gains against the seed's reference jobs at the same rung; a subject's reach is its highest finished rung.
        let ladder = try store.ladder(study: s.id!)
        #expect(ladder.seed == seed.id && ladder.rungs == 3)
        #expect(abs(ladder.gain(b.id!, rung: 1)! - (1.925 - 1.7)) < 1e-12)
        #expect(abs(ladder.reference(rung: 1)!.spread - 0.025 * 2.0.squareRoot()) < 1e-12)   // 1.9 and 1.95: sample deviation
        #expect(ladder.gain(b.id!, rung: 0) == 0.5 && ladder.gain(c.id!, rung: 0) == nil)
        #expect(ladder.reach(b.id!)! == (2, 1.5) && ladder.reach(a.id!)! == (0, 2.5) && ladder.reach(c.id!) == nil)
    }

    /// Rung jobs are rows, but not candidates: they do not number the search's children, fill
    /// its population, set hurdles, or stand as its best.
    @Test(arguments: Engine.all) func rungJobsAreNotCandidates(_ engine: Engine) throws {
        let store = try openStore(try temporaryDatabase(engine))
        let s = try store.study(named: "ladder", space: "", seed: 0)
        let seed = try store.add(Candidate(studyId: s.id!, program: "p", hash: "S"))
        try store.record(evaluation(seed.id!, band: 0, loss: 2.0))
        #expect(try store.complete(seed.id!, lease: nil, Outcome(fitness: 2.0), promoting: Self.promotion))
        let job = try #require(try store.claim(study: s.id!, worker: testWorker(1)))
        #expect(job.rung == 1 && job.subject == seed.id && job.status == .running)
        try store.record(evaluation(job.id!, band: 0, loss: 0.5), lease: job.lease)
        #expect(try store.complete(job.id!, lease: job.lease, Outcome(fitness: 0.5), promoting: Self.promotion))
        #expect(try store.bandLosses(study: s.id!, band: 0, excluding: -1) == [2.0])
        #expect(try store.best(study: s.id!)?.id == seed.id)
        #expect(try store.completed(study: s.id!).map(\.id) == [seed.id])
        #expect(try store.candidates(study: s.id!).map(\.id) == [seed.id])
        #expect(try store.completed(hash: "S@1.0", study: s.id!) == nil)
        #expect(try store.completed(hash: "S@1.0", rung: 1, study: s.id!)?.id == job.id)
        let child = try #require(try store.makeCandidate(study: s.id!, limit: 5, recent: 10, worker: testWorker(1)) { number, population in
            #expect(number == 1 && population.map(\.id) == [seed.id])
            return Candidate(studyId: s.id!, program: "p", hash: "child")
        })
        #expect(child.rung == 0 && child.subject == nil)
        // Copied with the study, a rung job keeps its rung and subject.
        let copy = try openStore(try temporaryDatabase(engine))
        _ = try copy.copy(s, from: store)
        let copied = try #require(try copy.candidate(job.id!))
        #expect(copied.rung == 1 && copied.subject == seed.id && copied.mutationKind == Ladder.reference)
    }
}
