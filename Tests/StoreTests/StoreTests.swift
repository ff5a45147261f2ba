import Foundation
import GRDB
import Testing
@testable import Store
import TestSupport

/// The store's behaviour, on every engine (`Engine.all`): the same calls, the same answers.
@Suite("store")
struct StoreTests {
    @Test(arguments: Engine.all) func studyAndCandidatesPersist(_ engine: Engine) throws {
        let path = try temporaryDatabase(engine)
        do {
            let store = try openStore(path)
            let s = try store.study(named: "tiny", space: "space text", seed: 7)
            let c = try store.add(Candidate(studyId: s.id!, program: "program p", hash: "h1"))
            try store.record(Evaluation(candidateId: c.id!, band: 0, loss: 2.5, steps: 10, tokens: 100,
                                        seconds: 1, parameters: 5, flopsPerToken: 9, bitsPerByte: 1.25))
            var outcome = Outcome(fitness: 2.5)
            outcome.bitsPerByte = 1.25
            try store.complete(c.id!, outcome)
        }
        // Reopened: the same study, the completed candidate, its evaluation.
        let store = try openStore(path)
        let s = try store.study(named: "tiny", space: "ignored: the study exists", seed: 0)
        #expect(s.space == "space text" && s.seed == 7)
        let done = try store.completed(study: s.id!)
        #expect(done.count == 1 && done[0].fitness == 2.5 && done[0].status == .done && done[0].completion == 1)
        #expect(try store.evaluations(done[0].id!).map(\.loss) == [2.5] && done[0].bitsPerByte == 1.25)
        #expect(try store.evaluations(done[0].id!).map(\.bitsPerByte) == [1.25])
        #expect(try store.completed(hash: "h1", study: s.id!)?.id == done[0].id)
    }

    @Test(arguments: Engine.all) func nonFiniteLossesKeepTheirKind(_ engine: Engine) throws {
        let store = try openStore(try temporaryDatabase(engine))
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
    @Test(arguments: Engine.all) func candidatesAreNumberedOnceUnderALimit(_ engine: Engine) throws {
        let path = try temporaryDatabase(engine)
        let stores = try (0..<4).map { _ in try openStore(path) }
        let s = try stores[0].study(named: "t", space: "", seed: 0)
        let numbers = LockedIDs()
        DispatchQueue.concurrentPerform(iterations: 4) { w in
            // `make` runs outside the write, so it may draw a number another worker then takes
            // first (the draft is dropped and drawn again); each number is inserted once.
            while let c = try! stores[w].makeCandidate(study: s.id!, limit: 30, recent: 10, worker: testWorker(w), { n, _ in
                Candidate(studyId: s.id!, program: "p", hash: "h\(n)")
            }) {
                #expect(c.status == .running && c.worker == testWorker(w))
                numbers.append(Int64(c.hash.dropFirst())!)
            }
        }
        #expect(numbers.ids.sorted() == (0..<30).map(Int64.init))
        #expect(try stores[0].candidates(study: s.id!).map(\.hash) == (0..<30).map { "h\($0)" })
    }

    /// Only the lease holding a candidate writes to it; a re-queued one's late results are refused.
    @Test(arguments: Engine.all) func writesNeedTheLease(_ engine: Engine) throws {
        let store = try openStore(try temporaryDatabase(engine))
        let s = try store.study(named: "t", space: "", seed: 0)
        let c = try #require(try store.makeCandidate(study: s.id!, limit: 1, recent: 10, worker: testWorker(1)) { _, _ in
            Candidate(studyId: s.id!, program: "p", hash: "h")
        })
        let first = try #require(c.lease)
        #expect(try store.heartbeat(c.id!, lease: first))
        #expect(try store.record(evaluation(c.id!, band: 0, loss: 3), lease: first))
        try store.requeueStale(study: s.id!, olderThan: -1)       // worker 1 fell silent
        #expect(try !store.heartbeat(c.id!, lease: first))
        let again = try #require(try store.claim(study: s.id!, worker: testWorker(2)))
        let second = try #require(again.lease)
        #expect(second != first && again.worker == testWorker(2))
        #expect(try !store.record(evaluation(c.id!, band: 0, loss: 9), lease: first))
        #expect(try store.record(evaluation(c.id!, band: 0, loss: 4), lease: second))
        #expect(try !store.complete(again.id!, lease: first, Outcome(fitness: 1)))
        #expect(try store.complete(again.id!, lease: second, Outcome(fitness: 2, fingerprint: "f")))
        #expect(try !store.complete(again.id!, lease: second, Outcome(fitness: 3)))
        // One evaluation per band, the one written under the lease that completed it.
        #expect(try store.evaluations(c.id!).map { [$0.loss, $0.lease.map(Double.init)] } == [[4, Double(second)]])
        #expect(try store.completed(study: s.id!).map(\.fitness) == [2])
        #expect(try store.completed(fingerprint: "f", study: s.id!)?.id == c.id)
        #expect(try store.best(study: s.id!)?.id == c.id)
        #expect(try store.lineage(c.id!).map(\.id) == [c.id])
    }

    /// Two connections (as two processes would have) claim from one queue: every candidate
    /// goes to exactly one of them.
    @Test(arguments: Engine.all) func claimsAreExclusive(_ engine: Engine) throws {
        let path = try temporaryDatabase(engine)
        let a = try openStore(path), b = try openStore(path)
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

    @Test(arguments: Engine.all) func staleCandidatesAreRequeued(_ engine: Engine) throws {
        let store = try openStore(try temporaryDatabase(engine))
        let s = try store.study(named: "t", space: "", seed: 0)
        try store.add(Candidate(studyId: s.id!, program: "p", hash: "h"))
        let c = try #require(try store.claim(study: s.id!, worker: testWorker(3)))
        #expect(try store.claim(study: s.id!, worker: testWorker(4)) == nil)
        #expect(try store.requeueStale(study: s.id!, olderThan: 3600) == 0)
        #expect(try store.requeueStale(study: s.id!, olderThan: -1) == 1)
        #expect(try store.claim(study: s.id!, worker: testWorker(4))?.id == c.id)
    }

    /// A study keeps what a worker on another host needs: its seeds, its target and its products' precision.
    @Test(arguments: Engine.all) func studyKeepsSeedsAndTarget(_ engine: Engine) throws {
        let path = try temporaryDatabase(engine)
        let store = try openStore(path)
        let s = try store.study(named: "t", space: "x: 1", seed: 3, corpusSha256: "abc", corpusPath: "/c.txt", seeds: ["p1", "p2"],
                                products: "bfloat16")
        try store.setTarget(study: s.id!, 40)
        let again = try #require(try openExistingStore(path)?.existingStudy(named: "t"))
        #expect(again.seeds == ["p1", "p2"] && again.target == 40 && again.corpusSha256 == "abc" && again.corpusPath == "/c.txt")
        #expect(again.products == "bfloat16")
        #expect(abs(again.created.timeIntervalSince(s.created)) < 0.01)
    }

    @Test(arguments: Engine.all) func newerSchemaIsRefused(_ engine: Engine) throws {
        let path = try temporaryDatabase(engine)
        // A migration this build does not know, as a newer evolve would have left.
        let table = engine == .sqlite ? "grdb_migrations" : "evolve_migrations"
        try openStore(path).database.write { try $0.execute("INSERT INTO \(table) (identifier) VALUES ('v999-from-the-future')", []) }
        #expect(throws: StoreError.self) { try openStore(path) }
        do { _ = try openStore(path) } catch { #expect("\(error)".contains("newer evolve")) }
        do { _ = try openStore(path, readOnly: true) } catch { #expect("\(error)".contains("newer evolve")) }
    }

    /// A database an older evolve wrote (schema v7, a study in it) is migrated when a command
    /// writes to it, on both engines: the study is kept and has no recorded precision (read
    /// as float32 by the search), and a study made afterwards records its own.
    @Test(arguments: Engine.all) func aV7DatabaseMigratesAndKeepsItsStudy(_ engine: Engine) throws {
        let path = try temporaryDatabase(engine)
        let insert = "INSERT INTO study (name, space, seed, created) VALUES ('old', 'name: old', 1, '2026-01-01 00:00:00')"
        switch engine {
        case .sqlite:
            let queue = try DatabaseQueue(path: path)
            try SQLiteSchema.migrator.migrate(queue, upTo: "v7")
            try queue.write { try $0.execute(sql: insert) }
            try queue.close()
        case .postgres:
            try PostgresDatabase(target: PostgresURL(path), readOnly: false, timeout: 10).write { c in
                try c.execute("CREATE TABLE evolve_migrations (identifier TEXT PRIMARY KEY)", [])
                for (name, statements) in PostgresSchema.migrations.prefix(while: { $0.0 != "v8" }) {
                    for s in statements { try c.execute(s, []) }
                    try c.execute("INSERT INTO evolve_migrations (identifier) VALUES (?)", [.text(name)])
                }
                try c.execute(insert, [])
            }
        }
        let store = try openStore(path)
        let old = try #require(try store.existingStudy(named: "old"))
        #expect(old.products == nil && old.seed == 1)
        let new = try store.study(named: "new", space: "", seed: 2, corpusSha256: nil, corpusPath: nil, seeds: nil, products: "float32")
        #expect(new.products == "float32")
        #expect(try openExistingStore(path)?.existingStudy(named: "new")?.products == "float32")
    }

    /// A PostgreSQL database that holds other tables is not evolve's to write into.
    @Test(.enabled(if: Engine.postgresServer != nil)) func foreignPostgresDatabaseIsRefused() throws {
        let url = try temporaryDatabase(.postgres)
        let empty = try #require(try PostgresDatabase.existing(url: url) == nil ? url : nil)
        try PostgresDatabase(target: PostgresURL(empty), readOnly: false, timeout: 10).write {
            try $0.execute("CREATE TABLE notes (x INTEGER)", [])
        }
        do {
            _ = try openStore(url)
            Issue.record("wrote into a database that holds other tables")
        } catch {
            #expect("\(error)".contains("is not an evolve database (it holds tables notes)"))
        }
    }

    /// A write whose COMMIT went unanswered is asked about by its transaction id after a
    /// reconnection: committed, aborted, or beyond the server's next id (a crash lost it
    /// before it reached the log, and the server started again below it) — never an error,
    /// which stopped a worker after a restart.
    @Test(.enabled(if: Engine.postgresServer != nil)) func unansweredCommitsAreAskedAbout() throws {
        let db = try PostgresDatabase(target: PostgresURL(try temporaryDatabase(.postgres)), readOnly: false, timeout: 10)
        let xid = { (c: SQLConnection) in try #require(try c.rows("SELECT txid_current() AS n", []).first?.integer("n")) }
        let committed = try db.write(xid)
        var aborted: Int64 = 0
        struct Abort: Error {}
        do { try db.write { c in aborted = try xid(c); throw Abort() } } catch is Abort {}
        let status = { (x: Int64) in try db.read { try ($0 as! PostgresDatabase.Connection).committed(x) } }
        #expect(try status(committed) == true && status(aborted) == false)
        // Far ahead: other tests on the same server take ids meanwhile.
        for ahead in [Int64(1) << 20, 1 << 40] { #expect(try status(committed + ahead) == false) }
    }

    /// A database written by an older evolve, at every older schema: the commands that only
    /// read it (status, top, report, serve) read a migrated copy, and the file is not written.
    /// (They read columns later migrations added; they failed on the 4-hour study's file.)
    @Test(arguments: ["v1", "v2", "v3", "v4", "v5", "v6", "v7"]) func olderSchemasAreReadFromACopy(_ version: String) throws {
        let path = temporaryDatabase()
        let queue = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(queue, upTo: version)
        try queue.write { db in
            try db.execute(sql: "INSERT INTO study (name, space, seed, created) VALUES ('old', 'name: old', 1, '2026-01-01 00:00:00.000')")
            try db.execute(sql: """
                INSERT INTO candidate (studyId, program, hash, generation, seed, status, fitness, fitnessKind, completion, created)
                VALUES (1, 'p', 'h', 0, 1, 'done', 2.5, 'finite', 1, '2026-01-01 00:00:00.000')
                """)
        }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let store = try openStore(path, readOnly: true)
        let study = try #require(try store.studies().first)
        let fitnesses = try store.candidates(study: study.id!).map(\.fitness)
        #expect(study.name == "old" && fitnesses == [2.5])
        #expect(try store.best(study: study.id!)?.fitness == 2.5)
        #expect(((store as? SQLStore)?.database as? SQLiteDatabase)?.readsACopy == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "the older file was written")
        let current = temporaryDatabase()
        _ = try openStore(current).study(named: "new", space: "", seed: 1)
        #expect(((try openStore(current, readOnly: true) as? SQLStore)?.database as? SQLiteDatabase)?.readsACopy == false)
    }

    /// Thousands of rows are decoded on two threads: the same records in the same order as
    /// one by one, on either side of the threshold.
    @Test(arguments: Engine.all) func thousandsOfRowsDecodeInOrder(_ engine: Engine) throws {
        let store = try openStore(try temporaryDatabase(engine))
        for (name, n) in [("few", 4095), ("many", 5001)] {
            let study = try store.study(named: name, space: "", seed: 1)
            try store.database.write { c in
                try c.execute("""
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                    INSERT INTO candidate (studyId, program, hash, generation, seed, status, created, rung)
                    SELECT ?, 'p', 'h' || i, i % 7, i, 'queued', ?, 0 FROM n
                    """, [.integer(Int64(n)), .integer(study.id!), .date(Date())])
            }
            let all = try store.candidates(study: study.id!)
            #expect(all.map(\.hash) == (1...n).map { "h\($0)" } && all.map(\.generation) == (1...n).map { $0 % 7 })
        }
    }

    @Test func badPostgresURLsAreOneLineErrors() {
        for (url, why) in [("postgres://host/db", "no user"), ("postgres://u@/db", "no host"), ("postgres://u@h", "no database name"),
                           ("postgres://u:secret@h:99999/db", "port out of range")] {
            do {
                _ = try openStore(url)
                Issue.record("opened \(url)")
            } catch {
                #expect("\(error)".contains(why) && !"\(error)".contains("secret"), "\(error)")
            }
        }
    }

    /// CI starts a PostgreSQL server (.ci/run); without it the suite would run on SQLite alone.
    @Test func postgresIsTestedInCI() {
        if ProcessInfo.processInfo.environment["CI"] != nil && Engine.postgresServer == nil {
            Issue.record("CI is set but EVOLVE_TEST_POSTGRES is not: .ci/run starts a server with scripts/postgres-cluster.sh")
        }
    }

    @Test func notADatabaseIsRefused() throws {
        let path = temporaryDatabase()
        try "this is not sqlite, just text that is long enough to be read as a header......".write(
            toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try openStore(path)
            Issue.record("opened a text file as a database")
        } catch {
            #expect("\(error)".contains("not an evolve database"))
        }
    }

    /// A writer holding the lock longer than the timeout: a one-line error, nothing lost.
    @Test func lockedDatabaseIsAClearError() throws {
        let path = temporaryDatabase()
        let a = try openStore(path)
        let s = try a.study(named: "t", space: "", seed: 0)
        try a.add(Candidate(studyId: s.id!, program: "p", hash: "h"))
        let b = try openStore(path, busyTimeout: 0.2)
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try! a.database.write { _ in holding.signal(); release.wait() }
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

func evaluation(_ id: Int64, band: Int, loss: Double) -> Evaluation {
    Evaluation(candidateId: id, band: band, loss: loss, steps: 10, tokens: 100, seconds: 1, parameters: 5, flopsPerToken: 9)
}

final class LockedIDs: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var ids: [Int64] = []
    func append(_ id: Int64) { lock.lock(); ids.append(id); lock.unlock() }
}
