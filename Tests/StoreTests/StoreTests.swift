import Foundation
import GRDB
import Testing
@testable import Store
import TestSupport

@Suite("store")
struct StoreTests {
    @Test func studyAndCandidatesPersist() throws {
        let path = temporaryDatabase()
        do {
            let store = try SQLiteStore(path: path)
            let s = try store.study(named: "tiny", space: "space text", seed: 7)
            let c = try store.add(Candidate(studyId: s.id!, program: "program p", hash: "h1"))
            try store.record(Evaluation(candidateId: c.id!, band: 0, loss: 2.5, steps: 10, tokens: 100,
                                        seconds: 1, parameters: 5, flopsPerToken: 9))
            try store.complete(c.id!, fitness: 2.5)
        }
        // Reopened: the same study, the completed candidate, its evaluation.
        let store = try SQLiteStore(path: path)
        let s = try store.study(named: "tiny", space: "ignored: the study exists", seed: 0)
        #expect(s.space == "space text" && s.seed == 7)
        let done = try store.completed(study: s.id!)
        #expect(done.count == 1 && done[0].fitness == 2.5 && done[0].status == .done && done[0].completion == 1)
        #expect(try store.evaluations(done[0].id!).map(\.loss) == [2.5])
        #expect(try store.completed(hash: "h1", study: s.id!)?.id == done[0].id)
    }

    @Test func nonFiniteLossesKeepTheirKind() throws {
        let store = try SQLiteStore(path: temporaryDatabase())
        let s = try store.study(named: "t", space: "", seed: 0)
        for (i, x) in [Double.nan, .infinity, 1.5].enumerated() {
            let c = try store.add(Candidate(studyId: s.id!, program: "p", hash: "h\(i)"))
            try store.complete(c.id!, fitness: x, failure: x.isFinite ? nil : Failure(.diverged, "test"))
        }
        let done = try store.completed(study: s.id!)
        #expect(done.map(\.fitnessKind) == [.nan, .inf, .finite])
        #expect(done.map(\.fitness) == [nil, nil, 1.5])
        #expect(done.map(\.status) == [.failed, .failed, .done])
        #expect(try store.counts(study: s.id!) == Counts(queued: 0, running: 0, done: 1, failed: 2))
    }

    /// Candidates made from several connections at once get distinct numbers, and no more
    /// are made than the limit.
    @Test func candidatesAreNumberedOnceUnderALimit() throws {
        let path = temporaryDatabase()
        let stores = try (0..<4).map { _ in try SQLiteStore(path: path) }
        let s = try stores[0].study(named: "t", space: "", seed: 0)
        let numbers = LockedIDs()
        DispatchQueue.concurrentPerform(iterations: 4) { w in
            // `make` runs outside the write, so it may draw a number another worker then takes
            // first (the draft is dropped and drawn again); each number is inserted once.
            while let c = try! stores[w].makeCandidate(study: s.id!, limit: 30, worker: testWorker(w), { n, _ in
                Candidate(studyId: s.id!, program: "p", hash: "h\(n)")
            }) {
                #expect(c.status == .running && c.worker == testWorker(w))
                numbers.append(Int64(c.hash.dropFirst())!)
            }
        }
        #expect(numbers.ids.sorted() == (0..<30).map(Int64.init))
        #expect(try stores[0].candidates(study: s.id!).map(\.hash) == (0..<30).map { "h\($0)" })
    }

    /// Only the worker holding a candidate completes it; a re-queued one's late result is dropped.
    @Test func completionNeedsTheLease() throws {
        let store = try SQLiteStore(path: temporaryDatabase())
        let s = try store.study(named: "t", space: "", seed: 0)
        let c = try #require(try store.makeCandidate(study: s.id!, limit: 1, worker: testWorker(1)) { _, _ in
            Candidate(studyId: s.id!, program: "p", hash: "h")
        })
        #expect(try store.heartbeat(c.id!, worker: testWorker(1)))
        #expect(try !store.heartbeat(c.id!, worker: testWorker(2)))
        try store.requeueStale(study: s.id!, olderThan: -1)       // "a" fell silent
        let again = try #require(try store.claim(study: s.id!, worker: testWorker(2)))
        #expect(try !store.complete(again.id!, worker: testWorker(1), Outcome(fitness: 1)))
        #expect(try store.complete(again.id!, worker: testWorker(2), Outcome(fitness: 2, fingerprint: "f")))
        #expect(try !store.complete(again.id!, worker: testWorker(2), Outcome(fitness: 3)))
        #expect(try store.completed(study: s.id!).map(\.fitness) == [2])
        #expect(try store.completed(fingerprint: "f", study: s.id!)?.id == c.id)
        #expect(try store.best(study: s.id!)?.id == c.id)
        #expect(try store.lineage(c.id!).map(\.id) == [c.id])
    }

    /// Two connections (as two processes would have) claim from one queue: every candidate
    /// goes to exactly one of them.
    @Test func claimsAreExclusive() throws {
        let path = temporaryDatabase()
        let a = try SQLiteStore(path: path), b = try SQLiteStore(path: path)
        let s = try a.study(named: "t", space: "", seed: 0)
        for i in 0..<40 { try a.add(Candidate(studyId: s.id!, program: "p", hash: "h\(i)")) }
        let claimed = LockedIDs()
        DispatchQueue.concurrentPerform(iterations: 2) { w in
            let store = w == 0 ? a : b
            while let c = try! store.claim(study: s.id!, worker: testWorker(w)) { claimed.append(c.id!) }
        }
        #expect(claimed.ids.count == 40)
        #expect(Set(claimed.ids).count == 40)
    }

    @Test func staleCandidatesAreRequeued() throws {
        let store = try SQLiteStore(path: temporaryDatabase())
        let s = try store.study(named: "t", space: "", seed: 0)
        try store.add(Candidate(studyId: s.id!, program: "p", hash: "h"))
        let c = try #require(try store.claim(study: s.id!, worker: testWorker(3)))
        #expect(try store.claim(study: s.id!, worker: testWorker(4)) == nil)
        #expect(try store.requeueStale(study: s.id!, olderThan: 3600) == 0)
        #expect(try store.requeueStale(study: s.id!, olderThan: -1) == 1)
        #expect(try store.claim(study: s.id!, worker: testWorker(4))?.id == c.id)
    }

    @Test func newerSchemaIsRefused() throws {
        let path = temporaryDatabase()
        _ = try SQLiteStore(path: path)
        // A migration this build does not know, as a newer evolve would have left.
        try DatabaseQueue(path: path).write {
            try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v999-from-the-future')")
        }
        #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        do { _ = try SQLiteStore(path: path) } catch { #expect("\(error)".contains("newer evolve")) }
    }

    @Test func notADatabaseIsRefused() throws {
        let path = temporaryDatabase()
        try "this is not sqlite, just text that is long enough to be read as a header......".write(
            toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try SQLiteStore(path: path)
            Issue.record("opened a text file as a database")
        } catch {
            #expect("\(error)".contains("not an evolve database"))
        }
    }

    /// A writer holding the lock longer than the timeout: a one-line error, nothing lost.
    @Test func lockedDatabaseIsAClearError() throws {
        let path = temporaryDatabase()
        let a = try SQLiteStore(path: path)
        let s = try a.study(named: "t", space: "", seed: 0)
        try a.add(Candidate(studyId: s.id!, program: "p", hash: "h"))
        let b = try SQLiteStore(path: path, busyTimeout: 0.2)
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try! a.pool.write { _ in holding.signal(); release.wait() }
        }
        holding.wait()
        do {
            _ = try b.claim(study: s.id!, worker: testWorker(2))
            Issue.record("claimed through a held lock")
        } catch {
            #expect("\(error)".contains("is locked by another process"))
        }
        release.signal()
        #expect(try a.claim(study: s.id!, worker: testWorker(1)) != nil)
    }
}

final class LockedIDs: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var ids: [Int64] = []
    func append(_ id: Int64) { lock.lock(); ids.append(id); lock.unlock() }
}
